"""Vectorised helpers over a byte buffer: digits, hex, CRC and Arrow text columns from spans."""

# Used by logs/ingest.py. A "span" is (start, end) byte offsets into one numpy uint8 view of
# a file; every function here works on arrays of spans at once, never line by line in Python.
import numpy as np
import pandas as pd
import pyarrow as pa

try:  # Rust, ~4x CPython's crc_hqx on short lines; the same CRC-16/CCITT-FALSE.
    from fastcrc.crc16 import ibm_3740 as _crc_ccitt_false
except ImportError:  # pragma: no cover - a platform without the wheel
    from binascii import crc_hqx as _crc_hqx

    def _crc_ccitt_false(data):
        return _crc_hqx(data, 0xFFFF)


_HEX = np.full(256, -1, np.int32)
for _i, _ch in enumerate(b"0123456789"):
    _HEX[_ch] = _i
for _i, _ch in enumerate(b"abcdef"):
    _HEX[_ch] = 10 + _i
    _HEX[_ch - 32] = 10 + _i
_DIGIT = np.full(256, -1, np.int64)
_DIGIT[48:58] = np.arange(10)


def crc16(data, starts, ends):
    """CRC-16/CCITT-FALSE of data[starts[i]:ends[i]] for every i (uint16 array)."""
    pieces = map(data.__getitem__, map(slice, starts.tolist(), ends.tolist()))
    return np.fromiter(map(_crc_ccitt_false, pieces), np.int64, len(starts))


def hex4(buf, at):
    """The value of the 4 hex digits at buf[at[i]:at[i] + 4], or -1 where one is not hex."""
    value = np.zeros(len(at), np.int64)
    bad = np.zeros(len(at), bool)
    for k in range(4):
        digit = _HEX[buf[np.minimum(at + k, len(buf) - 1)]]
        bad |= digit < 0
        value = (value << 4) | np.maximum(digit, 0)
    return np.where(bad, -1, value)


def bytes_at(buf, at, text):
    """True where buf[at[i]:at[i] + len(text)] == text: one gather per 8 bytes of text, through
    an unaligned little-endian uint64 view of buf."""
    ok = np.ones(len(at), bool)
    if len(buf) < 8:
        for k, byte in enumerate(text):
            ok &= buf[np.clip(at + k, 0, len(buf) - 1)] == byte
        return ok
    words = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    inside = (at >= 0) & (at + len(text) <= len(buf))
    for k in range(0, len(text), 8):
        chunk = text[k:k + 8]
        pos = at + k
        fits = pos <= len(buf) - 8
        value = words[np.clip(pos, 0, len(words) - 1)]
        want = int.from_bytes(chunk, "little")
        if len(chunk) < 8:
            value = value & np.uint64((1 << (8 * len(chunk))) - 1)
        ok &= np.where(fits, value == np.uint64(want), False)
        if not fits.all():  # the last bytes of the buffer: byte by byte
            late = np.flatnonzero(~fits & inside)
            for i in late.tolist():
                ok[i] = bytes(buf[at[i] + k:at[i] + k + len(chunk)]) == chunk
    return ok & inside


def first_of(buf, starts, width, byte):
    """The position of the first `byte` in buf[starts[i]:starts[i] + width], or -1."""
    out = np.full(len(starts), -1, np.int64)
    for k in range(width):
        at = np.minimum(starts + k, len(buf) - 1)
        hit = (out < 0) & (buf[at] == byte)
        out[hit] = at[hit]
    return out


def _swar8(words):
    """Eight ASCII digits per little-endian uint64 -> (value, all digits)."""
    v = words - np.uint64(0x3030303030303030)
    ok = ((words + np.uint64(0x4646464646464646)) | v) & np.uint64(0x8080808080808080) == 0
    v = (v * np.uint64(10) + (v >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    v = (v * np.uint64(100) + (v >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    v = (v * np.uint64(10000) + (v >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return v, ok


def digits(buf, starts, ends, max_digits):
    """Decimal digits buf[starts[i]:ends[i]] -> (int64 values, ok): ok where there are
    1..max_digits digits and nothing else, and the value is below 2**63. 16 of 19-digit spans
    (host times) are read 8 at a time (SWAR on uint64 words); the rest digit by digit."""
    width = ends - starts
    value = np.zeros(len(starts), np.int64)
    ok = np.zeros(len(starts), bool)
    wide = np.flatnonzero((width == 19) & (ends + 8 <= len(buf))) if max_digits >= 19 else []
    if len(wide):
        words = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
        head, head_ok = _digits_each(buf, starts[wide], starts[wide] + 3, 3)
        mid, mid_ok = _swar8(words[starts[wide] + 3])
        low, low_ok = _swar8(words[starts[wide] + 11])
        total = head.astype(np.uint64) * np.uint64(10**16) + mid * np.uint64(10**8) + low
        wide_ok = head_ok & mid_ok & low_ok & (total < np.uint64(2**63))
        value[wide] = np.where(wide_ok, total, 0).astype(np.int64)
        ok[wide] = wide_ok
    rest = np.ones(len(starts), bool)
    rest[wide] = False
    idx = np.flatnonzero(rest)
    value[idx], ok[idx] = _digits_each(buf, starts[idx], ends[idx], max_digits)
    return value, ok


def _digits_each(buf, starts, ends, max_digits):
    """Decimal digits buf[starts[i]:ends[i]] -> (int64 values, ok): ok where there are
    1..max_digits digits and nothing else, and the value is below 2**63."""
    width = ends - starts
    ok = (width >= 1) & (width <= max_digits)
    value = np.zeros(len(starts), np.uint64)
    for k in range(max_digits):
        inside = ok & (k < width)
        if not inside.any():
            break
        digit = _DIGIT[buf[np.minimum(starts + k, len(buf) - 1)]]
        ok &= ~inside | (digit >= 0)
        value = np.where(inside, value * np.uint64(10) + np.maximum(digit, 0).astype(np.uint64),
                         value)
    ok &= value < np.uint64(2**63)
    return np.where(ok, value, 0).astype(np.int64), ok


def _gather(buf, starts, width, lengths=None):
    """(n, width) bytes from each start, one gather per column; zero past a length."""
    out = np.zeros((len(starts), width), np.uint8)
    for k in range(width):
        column = buf[np.minimum(starts + k, len(buf) - 1)]
        out[:, k] = column if lengths is None else np.where(k < lengths, column, 0)
    return out


def string_views(data_buffer, buf, starts, ends, valid=None):
    """An Arrow string_view array over the spans of buf (no copy of the bytes).
    valid: bool mask, False gives a null."""
    n = len(starts)
    lengths = (ends - starts).astype(np.int32)
    views = np.zeros((n, 16), np.uint8)
    words = views.view(np.int32)
    words[:, 0] = lengths
    short = lengths <= 12
    long_ = np.flatnonzero(~short)
    if len(long_):
        views[long_, 4:8] = _gather(buf, starts[long_], 4)
        words[long_, 3] = starts[long_]
    few = np.flatnonzero(short & (lengths > 0))
    if len(few):
        views[few, 4:16] = _gather(buf, starts[few], 12, lengths[few])
    buffers = [None, pa.py_buffer(views), data_buffer]
    null_count = 0
    if valid is not None and not valid.all():
        buffers[0] = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int(n - valid.sum())
    return pa.Array.from_buffers(pa.string_view(), n, buffers, null_count=null_count)


def text_views(data_buffer, buf, starts, ends, valid=None):
    """string_views() as a plain Arrow string array (the bytes copied once, in C++)."""
    arr = string_views(data_buffer, buf, starts, ends, valid)
    return arr.cast(pa.large_string() if len(buf) >= 2**31 else pa.string())


def text_series(arrow_strings):
    """An Arrow string array -> a pandas Series of the "str" dtype."""
    return pd.Series(arrow_strings, dtype="str")


def coded_text(codes, names):
    """Integer codes (-1: missing) into names -> a pandas "str" Series."""
    codes = np.asarray(codes, np.int32)
    mask = codes < 0
    indices = pa.array(np.where(mask, 0, codes), mask=mask if mask.any() else None)
    arr = pa.DictionaryArray.from_arrays(indices, pa.array(list(names) or [""], pa.string()))
    return text_series(arr.dictionary_decode())


def runs_mask(n_bytes, starts, ends):
    """A bool mask of n_bytes that is True inside every span (spans sorted, not overlapping)."""
    edges = np.empty(2 * len(starts) + 1, np.int64)
    edges[0] = starts[0] if len(starts) else n_bytes
    edges[1:-1:2] = ends - starts
    edges[2:-1:2] = starts[1:] - ends[:-1]
    edges[-1] = n_bytes - (ends[-1] if len(ends) else 0)
    values = np.zeros(len(edges), bool)
    values[1:-1:2] = True
    return np.repeat(values, edges)

"""Vectorised helpers over a byte buffer: digits, hex, CRC and Arrow text columns from spans."""

# Used by host_tools/ingest.py. A "span" is (start, end) byte offsets into one numpy uint8 view of
# a file; every function here works on arrays of spans at once, never line by line in Python.
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

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
    digits = _HEX[windows(buf, at, 4)]
    value = (digits[:, 0] << 12) | (digits[:, 1] << 8) | (digits[:, 2] << 4) | digits[:, 3]
    return np.where((digits < 0).any(axis=1), -1, value)


def unsigned(buf, starts, ends, max_digits):
    """Decimal digits buf[starts[i]:ends[i]] -> (int64 values, ok): ok where there are
    1..max_digits digits and nothing else (values below 2**63). Arrow parses the numbers; the
    first and last bytes are checked here so that Arrow's own tolerance (a sign) never widens
    what counts as digits."""
    width = ends - starts
    ok = (width >= 1) & (width <= max_digits)
    n = len(starts)
    if not ok.any():
        return np.zeros(n, np.int64), ok
    first = _DIGIT[buf[np.clip(starts, 0, len(buf) - 1)]] >= 0
    last = _DIGIT[buf[np.clip(ends - 1, 0, len(buf) - 1)]] >= 0
    ok &= first & last
    texts = string_views(pa.py_buffer(buf), buf, np.where(ok, starts, 0), np.where(ok, ends, 0),
                         valid=ok)
    try:
        values = pc.cast(texts, pa.int64())
    except (pa.ArrowInvalid, OverflowError):  # a non-digit inside, or too big: one by one
        return _unsigned_each(buf, starts, ends, ok)
    out = values.fill_null(0).to_numpy()
    return out.astype(np.int64, copy=False), ok


def _unsigned_each(buf, starts, ends, ok):
    out = np.zeros(len(starts), np.int64)
    for i in np.flatnonzero(ok).tolist():
        text = bytes(buf[starts[i]:ends[i]])
        if text.isdigit() and int(text) < 2**63:
            out[i] = int(text)
        else:
            ok[i] = False
    return out, ok


def windows(buf, starts, width):
    """buf[starts[i]:starts[i] + width] as rows (zeros past the end of buf)."""
    last = len(buf) - width
    if last >= 0 and (starts <= last).all():
        return sliding_window_view(buf, width)[starts]
    padded = np.concatenate([buf, np.zeros(width, np.uint8)])
    return sliding_window_view(padded, width)[np.minimum(starts, len(buf))]


def string_views(data_buffer, buf, starts, ends, valid=None):
    """An Arrow string_view array over the spans of buf (no copy of the bytes).
    valid: bool mask, False gives a null."""
    n = len(starts)
    lengths = (ends - starts).astype(np.int32)
    views = np.zeros((n, 16), np.uint8)
    words = views.view(np.int32)
    words[:, 0] = lengths
    short = lengths <= 12
    if n and short.all():
        inline = windows(buf, starts, 12).copy()
        inline[np.arange(12) >= lengths[:, None]] = 0
        views[:, 4:16] = inline
    elif n:
        long_ = np.flatnonzero(~short)
        views[long_, 4:8] = windows(buf, starts[long_], 4)
        words[long_, 3] = starts[long_]
        few = np.flatnonzero(short & (lengths > 0))
        if len(few):
            inline = windows(buf, starts[few], 12).copy()
            inline[np.arange(12) >= lengths[few, None]] = 0
            views[few, 4:16] = inline
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

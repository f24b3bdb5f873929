"""Capture files into line and record tables, vectorised: `rec` lines in bulk (numpy, Arrow)."""

# logs.load() calls read(). The checks are the same as line by line (capfile.decode and
# capfile.SeqTracker): a line takes the fast path only if it is a canonical capture line (host
# time, TAB, printable ASCII ending in an escaped CR LF), its CRC and framing hold and it is a
# `rec` line whose fields are exactly protocol.RECORD_FIELDS in order; every other line goes
# through decode_entry(), the exact line-by-line decoder. docs/logs.md, "Speed".
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from host_tools.logs import capfile, spans
from pumpfw import protocol

_KEYS = protocol.RECORD_FIELDS
_TEXT_KEYS = ("st",)
LINE_ENTRIES = ("line", "marker", "header", "comment", "bad")


class Part:
    """What one file gives: per-line columns, the fast records, and decoded messages (dicts)."""

    def __init__(self, source, n_lines):
        self.source = source
        self.n = n_lines
        self.host_ns = np.full(n_lines, -1, np.int64)  # -1: none
        self.entry = np.zeros(n_lines, np.int8)
        self.kind = np.full(n_lines, -1, np.int32)
        self.status = np.zeros(n_lines, np.int32)
        self.error = np.zeros(n_lines, np.int32)
        self.seq = np.full(n_lines, -1, np.int64)
        self.partial = np.zeros(n_lines, bool)
        self.raw_text = {}  # line index -> raw text where it is not a span of the file
        self.names = {"kind": [], "status": ["ok"], "error": [""]}
        self.codes = {key: {v: i for i, v in enumerate(vals)} for key, vals in self.names.items()}
        self.messages = []  # dicts, as the line-by-line decoder makes them
        self.records = None  # DataFrame of the fast records, or None

    def code(self, column, text):
        table = self.codes[column]
        if text not in table:
            table[text] = len(self.names[column])
            self.names[column].append(text)
        return table[text]


def decode_entry(part, i, entry, host_ns, payload):
    """One line of a capture, line by line: fills part's columns at index i (0-based)."""
    part.entry[i] = LINE_ENTRIES.index(entry)
    part.host_ns[i] = -1 if host_ns is None else host_ns
    if entry == "marker":
        part.kind[i] = part.code("kind", payload[0])
        part.error[i] = part.code("error", payload[1])
        part.raw_text[i] = None
        return
    if entry in ("header", "comment", "bad"):
        part.kind[i] = part.code("kind", entry)
        part.raw_text[i] = payload
        if entry == "bad":
            part.status[i] = part.code("status", "unreadable")
        return
    raw = payload
    part.raw_text[i] = capfile.escape(raw)
    part.partial[i] = not raw.endswith(b"\n")
    msg, reason, text = capfile.decode(raw)
    if msg is None:
        part.kind[i] = part.code("kind", "corrupt")
        part.status[i] = part.code("status", reason)
        part.error[i] = part.code("error", text)
        return
    part.kind[i] = part.code("kind", msg.kind)
    part.seq[i] = msg.seq
    out = {"source": part.source, "line_no": i + 1, "host_time": part.host_ns[i],
           "seq": msg.seq, "kind": msg.kind, "name": msg.name}
    if msg.kind in ("ok", "err", "ask"):
        out.update(ref=msg.ref, reason=msg.reason, text=msg.text)
    for key, value in msg.fields.items():
        out.setdefault(key, value)
    part.messages.append(out)


def read_slow(source, data):
    """Every line through decode_entry() (plain device logs, and files the fast path refuses)."""
    entries = list(capfile.iter_capture(data))
    part = Part(source, len(entries))
    part.data = data
    part.spans = None
    for line_no, entry, host_ns, payload in entries:
        decode_entry(part, line_no - 1, entry, host_ns, payload)
    return part


def read(source, data):
    """A capture file's bytes -> Part (the fast path where it applies)."""
    if not data.startswith(capfile.HEADER.encode()):
        return read_slow(source, data)
    buf = np.frombuffer(data, np.uint8)
    odd = np.flatnonzero(_SPECIAL[buf])  # LF, TAB, escapes, bytes outside printable ASCII
    ends = odd[buf[odd] == 10]
    if len(buf) and buf[-1] != 10:
        ends = np.append(ends, len(buf))
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    part = Part(source, len(ends))
    part.data = data
    fast, tab = _framed(buf, odd, starts, ends)
    cs, star = tab + 1, ends - 9  # the device line is buf[cs:ends - 4], its '*' at star
    host_ns, ok = spans.digits(buf, starts, tab, 19)
    fast &= ok
    first_sp = spans.first_of(buf, cs + 1, 9, ord(" "))  # after 1-9 digits of seq
    fast &= (first_sp > cs) & (first_sp < star)
    fast &= spans.bytes_at(buf, first_sp + 1, b"rec ")
    idx = np.flatnonzero(fast)
    crc = spans.hex4(buf, star[idx] + 1)
    good = crc >= 0
    good[good] = spans.crc16(data, cs[idx[good]], star[idx[good]]) == crc[good]
    idx = idx[good]
    records, idx = _records(buf, part, idx, cs, star, host_ns)
    fast[:] = False
    fast[idx] = True
    part.records = records
    part.host_ns[idx] = host_ns[idx]
    part.seq[idx] = records["seq"].to_numpy(np.int64) if len(idx) else 0
    part.kind[idx] = part.code("kind", "rec")
    part.spans = (starts, ends, cs, fast)
    for i in np.flatnonzero(~fast).tolist():
        line = data[starts[i]:ends[i]]
        decode_entry(part, i, *capfile.parse_capture_line(line, True))
    return part


_SPECIAL = np.ones(256, bool)
_SPECIAL[32:127] = False
_SPECIAL[92] = True  # the backslash of an escape


def _framed(buf, odd, starts, ends):
    """Lines that are canonical capture lines: digits, TAB, printable ASCII without escapes,
    then the escaped CR LF, long enough to be a record. -> (mask, position of the TAB).
    odd: the positions of every byte _SPECIAL marks."""
    if not len(odd):
        return np.zeros(len(starts), bool), starts
    lo = np.searchsorted(odd, starts)
    count = np.searchsorted(odd, ends) - lo  # specials before each line's LF
    at = np.minimum(lo, len(odd) - 1)
    tab = odd[at]
    fast = (count == 3) & (ends - starts > 40) & (buf[tab] == 9)
    fast &= odd[np.minimum(at + 1, len(odd) - 1)] == ends - 4
    fast &= odd[np.minimum(at + 2, len(odd) - 1)] == ends - 2
    fast &= spans.bytes_at(buf, ends - 4, b"\\r\\n")
    fast &= buf[np.maximum(ends - 9, 0)] == ord("*")
    return fast, np.where(fast, tab, starts)


def _records(buf, part, idx, cs, star, host_ns):
    """The rec lines idx (framed, CRC good) parsed in one Arrow CSV pass -> (DataFrame, the
    indices taken). A line is taken only if its words are exactly `<seq> rec key=value...` with
    protocol.RECORD_FIELDS in order and whole numbers where the decoder makes numbers."""
    n_fields = len(_KEYS)
    if not len(idx):
        return None, idx
    mask = spans.runs_mask(len(buf), cs[idx], star[idx] + 1)
    blob = buf[mask]  # each line with its '*', which ends the line for the CSV reader
    table = _typed_csv(blob)
    if table is not None:  # every word as the protocol writes it: check each line's layout
        good = _canonical(blob, star[idx] + 1 - cs[idx], table)
        rows = pa.array(np.flatnonzero(good))
        return _frame(part, idx[good], table.take(rows), host_ns), idx[good]
    # Some value is not a number: take the words as text and validate them one column at a time.
    lengths = star[idx] + 1 - cs[idx]
    line_end = np.cumsum(lengths) - 1
    # Word separators and '=' in order: S S E (S E) x 9 *, the same for every line.
    delims = np.flatnonzero((blob == 32) | (blob == 61) | (blob == 42))
    pattern = np.frombuffer(b"  =" + b" =" * (n_fields - 1) + b"*", np.uint8)
    per_line = np.searchsorted(delims, line_end, side="right")
    counts = np.diff(per_line, prepend=0)
    keep = counts == len(pattern)
    if not keep.all():
        idx, blob, lengths, mask = _only(buf, idx, cs, star, keep)
        delims = np.flatnonzero((blob == 32) | (blob == 61) | (blob == 42))
    chars = blob[delims].reshape(-1, len(pattern))
    good = (chars == pattern).all(axis=1)
    first_word = delims.reshape(-1, len(pattern))[:, 0] - np.concatenate(
        [[0], np.cumsum(lengths)[:-1]])
    good &= first_word <= 9  # the sequence number: at most 9 digits
    if not good.all():
        idx, blob, lengths, _ = _only(buf, idx, cs, star, good)
    if not len(idx):
        return None, idx
    table, good = _csv(blob, n_fields)
    if table is None:
        return None, idx[:0]
    rows = pa.array(np.flatnonzero(good))
    table = table.take(rows)
    typed = {"f0": table.column("f0").cast(pa.int64())}
    for j, key in enumerate(_KEYS):
        name = "f%d" % (3 + 2 * j)
        typed[name] = table.column(name) if key in _TEXT_KEYS else table.column(name).cast(
            pa.int64())
    return _frame(part, idx[good], pa.table(typed), host_ns), idx[good]


def _only(buf, idx, cs, star, keep):
    idx = idx[keep]
    mask = spans.runs_mask(len(buf), cs[idx], star[idx] + 1)
    return idx, buf[mask], star[idx] + 1 - cs[idx], mask


_TO_CSV = np.arange(256, dtype=np.uint8)  # '=' and '*' (the line's end) for the CSV reader
_TO_CSV[ord("=")] = ord(" ")
_TO_CSV[ord("*")] = ord("\n")


def _csv(blob, n_fields):
    """Arrow's CSV reader over the lines, '=' a separator too, every word as text -> (table,
    rows the fast path takes): the words are the protocol's, and the numbers are what the
    decoder makes numbers of (1-12 digits, one optional '-'); other rows are decoded one by
    one by the caller."""
    table = _read_csv(blob, {"f%d" % k: pa.string() for k in range(2 + 2 * n_fields)}, False)
    if table is None:
        return None, None
    good = _number_ok(table.column("f0").chunk(0), False, 9)
    good &= _word_is(table.column("f1").chunk(0), "rec")
    for j, key in enumerate(_KEYS):
        good &= _word_is(table.column("f%d" % (2 + 2 * j)).chunk(0), key)
        if key not in _TEXT_KEYS:
            good &= _number_ok(table.column("f%d" % (3 + 2 * j)).chunk(0), True, 12)
    return table, good


def _word_is(col, word):
    return pc.equal(col, word).to_numpy(zero_copy_only=False)


def _number_ok(col, signed, max_digits):
    """protocol._value's rule for a number: 1..max_digits digits, a '-' first if signed."""
    if signed:
        neg = pc.starts_with(col, "-")
        col = pc.if_else(neg, pc.utf8_slice_codeunits(col, 1), col)
    length = pc.utf8_length(col)
    ok = pc.and_(pc.utf8_is_digit(col), pc.less_equal(length, max_digits))
    return ok.to_numpy(zero_copy_only=False)


def _typed_csv(blob):
    """The lines' sequence numbers (f0) and values (f3, f5, ...) as Arrow columns, numbers as
    int64 (the words between are checked in the buffer by _laid_out). None if any value is not
    of its column's type."""
    types = {"f0": pa.int64()}
    for j, key in enumerate(_KEYS):
        types["f%d" % (3 + 2 * j)] = pa.string() if key in _TEXT_KEYS else pa.int64()
    return _read_csv(blob, types, True)


def _read_csv(blob, types, only_these):
    """blob's lines through Arrow's CSV reader (space, '=' and the line's '*' separate words)
    -> a one-chunk table of the `types` columns, or None if a word is not of its type."""
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(_TO_CSV[blob])),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False,
                                             escape_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=list(types) if only_these else None,
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_columns != len(types) or any(c.null_count for c in table.columns):
        return None
    return table.combine_chunks()


_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _width(values):
    """Characters of each int64 as the protocol writes it (a '-', digits, no leading zero)."""
    return np.maximum(1, np.searchsorted(_POW10, np.abs(values), side="right")) + (values < 0)


def _canonical(blob, lengths, table):
    """Rows whose line is exactly what the protocol's encoder writes for the parsed values:
    `<seq> rec k1=v1 ... k10=v10*`, numbers without leading zeros or '+', at most 12 digits (9
    for the sequence number). The line is written again from the values by Arrow's kernels
    (int to text, join) and compared with the received bytes, all lines at once."""
    seq = table.column("f0").chunk(0)
    pieces = [pc.cast(seq, pa.string()), " rec "]
    good = pc.and_(pc.greater_equal(seq, 0), pc.less(seq, 10**9))
    for j, key in enumerate(_KEYS):
        col = table.column("f%d" % (3 + 2 * j)).chunk(0)
        if key not in _TEXT_KEYS:
            good = pc.and_(good, pc.less(pc.abs(col), 10**12))
            col = pc.cast(col, pa.string())
        pieces += [key + "=", col, " " if j < len(_KEYS) - 1 else "*"]
    written = pc.binary_join_element_wise(*pieces, "")
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    received = pa.Array.from_buffers(pa.large_string(), len(lengths),
                                     [None, pa.py_buffer(offsets), pa.py_buffer(blob)])
    same = pc.equal(pc.cast(written, pa.large_string()), received)
    return pc.and_(good, same).to_numpy(zero_copy_only=False)


def _frame(part, idx, table, host_ns):
    n = len(idx)
    frame = {
        "source": spans.coded_text(np.zeros(n, np.int32), [part.source]),
        "line_no": idx + 1,
        "host_time": pd.to_datetime(host_ns[idx], unit="ns", utc=True),
        "seq": pd.array(table.column("f0").to_numpy(), dtype="Int64"),
    }
    for j, key in enumerate(_KEYS):
        col = table.column("f%d" % (3 + 2 * j))
        if key in _TEXT_KEYS:
            frame[key] = spans.text_series(col.combine_chunks())
        else:
            frame[key] = pd.array(col.to_numpy(), dtype="Int64")
    return pd.DataFrame(frame)

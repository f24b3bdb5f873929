"""Capture files into line and record tables, vectorised: the bulk of `rec` lines in numpy/Arrow."""

# logs.load() calls read(). The checks are the same as line by line (capfile.decode and
# capfile.SeqTracker): a line takes the fast path only if it is a canonical capture line (host
# time, TAB, printable ASCII ending in an escaped CR LF), its CRC and framing hold and it is a
# `rec` line whose fields are exactly protocol.RECORD_FIELDS in order; every other line goes
# through decode_entry(), the exact line-by-line decoder. docs/logs.md, "Speed".
import numpy as np
import pandas as pd
import pyarrow as pa

from host_tools import capfile, spans
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
    ends = np.flatnonzero(buf == 10)
    if len(buf) and buf[-1] != 10:
        ends = np.append(ends, len(buf))
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    part = Part(source, len(ends))
    part.data = data
    odd = np.flatnonzero((buf < 32) | (buf > 126) | (buf == 92))  # TAB, LF, escapes, others
    lo = np.searchsorted(odd, starts)
    count = np.searchsorted(odd, ends) - lo  # specials before each line's LF
    safe = np.minimum(lo, len(odd) - 1) if len(odd) else lo
    oddv = buf[odd] if len(odd) else np.zeros(0, np.uint8)
    tab = odd[safe] if len(odd) else starts
    fast = (count == 3) & (ends - starts > 30)
    fast &= oddv[safe] == 9 if len(odd) else False
    fast &= (odd[np.minimum(safe + 1, len(odd) - 1)] == ends - 4) if len(odd) else False
    fast &= (odd[np.minimum(safe + 2, len(odd) - 1)] == ends - 2) if len(odd) else False
    fast &= buf[np.maximum(ends - 3, 0)] == ord("r")
    fast &= buf[np.maximum(ends - 1, 0)] == ord("n")
    fast &= buf[starts] != ord("#")
    host_ns, ok = spans.unsigned(buf, starts, tab, 19)
    fast &= ok & (host_ns < np.uint64(2**63))
    cs, ce = tab + 1, ends - 4  # the device line, without its end of line
    star = ce - 5
    fast &= buf[np.maximum(star, 0)] == ord("*")
    sp_all = np.flatnonzero(buf == 32)
    first_sp = sp_all[np.minimum(np.searchsorted(sp_all, cs), len(sp_all) - 1)] if len(
        sp_all) else cs
    fast &= (first_sp > cs) & (first_sp < star)
    seq, ok = spans.unsigned(buf, cs, first_sp, 9)
    fast &= ok
    fast &= (spans.windows(buf, first_sp + 1, 4) == np.frombuffer(b"rec ", np.uint8)).all(1)
    idx = np.flatnonzero(fast)
    crc = spans.hex4(buf, star[idx] + 1)
    good = crc >= 0
    good[good] = spans.crc16(data, cs[idx[good]], star[idx[good]]) == crc[good]
    idx = idx[good]
    records, idx = _records(buf, part, idx, cs, star, sp_all, first_sp, seq, host_ns)
    fast[:] = False
    fast[idx] = True
    part.records = records
    part.host_ns[idx] = host_ns[idx].astype(np.int64)
    part.seq[idx] = seq[idx].astype(np.int64)
    part.kind[idx] = part.code("kind", "rec")
    part.spans = (starts, ends, cs, fast)
    for i in np.flatnonzero(~fast).tolist():
        line = data[starts[i]:ends[i]]
        decode_entry(part, i, *capfile.parse_capture_line(line, True))
    return part


def _records(buf, part, idx, cs, star, sp_all, first_sp, seq, host_ns):
    """The fields of candidate rec lines idx -> (DataFrame, the indices really taken)."""
    n_fields = len(_KEYS)
    eq_all = np.flatnonzero(buf == 61)
    s_lo = np.searchsorted(sp_all, cs[idx])
    e_lo = np.searchsorted(eq_all, cs[idx])
    n_sp = np.searchsorted(sp_all, star[idx]) - s_lo
    n_eq = np.searchsorted(eq_all, star[idx]) - e_lo
    keep = (n_sp == n_fields + 1) & (n_eq == n_fields)
    idx, s_lo, e_lo = idx[keep], s_lo[keep], e_lo[keep]
    sp = sp_all[s_lo[:, None] + np.arange(n_fields + 1)]  # the word separators
    eq = eq_all[e_lo[:, None] + np.arange(n_fields)]
    # Every word after "rec" is exactly key=value: each '=' right after its key's name, so no
    # '=' or separator is left for a value.
    keep = np.ones(len(idx), bool)
    for j, key in enumerate(_KEYS):
        keep &= eq[:, j] - sp[:, j + 1] - 1 == len(key)
        word = spans.windows(buf, sp[:, j + 1] + 1, len(key))
        keep &= (word == np.frombuffer(key.encode(), np.uint8)).all(axis=1)
    idx, sp, eq = idx[keep], sp[keep], eq[keep]
    v_start = eq + 1
    v_end = np.concatenate([sp[:, 2:], star[idx, None]], axis=1)
    columns = {}
    keep = np.ones(len(idx), bool)
    for j, key in enumerate(_KEYS):
        if key in _TEXT_KEYS:  # a number there still becomes text: Log types `st` as text
            continue
        neg = buf[v_start[:, j]] == ord("-")
        value, ok = spans.unsigned(buf, v_start[:, j] + neg, v_end[:, j], 12)
        keep &= ok
        columns[key] = np.where(neg, -value.astype(np.int64), value.astype(np.int64))
    idx = idx[keep]
    n = len(idx)
    frame = {
        "source": spans.coded_text(np.zeros(n, np.int32), [part.source]),
        "line_no": idx + 1,
        "host_time": pd.to_datetime(host_ns[idx].astype(np.int64), unit="ns", utc=True),
        "seq": pd.array(seq[idx].astype(np.int64), dtype="Int64"),
    }
    data_buffer = pa.py_buffer(buf)
    for j, key in enumerate(_KEYS):
        if key in _TEXT_KEYS:
            frame[key] = spans.text_series(
                spans.text_views(data_buffer, buf, v_start[keep, j], v_end[keep, j]))
        else:
            frame[key] = pd.array(columns[key][keep], dtype="Int64")
    return pd.DataFrame(frame), idx



"""A file's Part (logs/ingest.py) as the `lines` DataFrame, sequence checks vectorised."""

import numpy as np
import pandas as pd
import pyarrow as pa

from host_tools.logs import capfile, spans
from host_tools.logs.ingest import LINE_ENTRIES
from pumpfw import protocol

LINE_COLUMNS = (
    "source", "line_no", "host_time", "entry", "kind", "seq", "status", "error",
    "missing_before", "reordered", "partial", "raw",
)  # fmt: skip


def host_times(ns):
    """int64 ns since the epoch (-1: none) -> datetime64[ns, UTC] values (NaT for none)."""
    ns = np.asarray(ns, np.int64)
    values = ns.astype("datetime64[ns]")
    values[ns < 0] = np.datetime64("NaT")
    return pd.DatetimeIndex(values).tz_localize("UTC")


def sequence_checks(part):
    """(missing_before, reordered) per line, as capfile.SeqTracker gives them line by line.

    Vectorised; a file with a number going backwards (rare) is checked line by line instead,
    since a reordered line leaves the tracker's expectation where it was."""
    n = part.n
    is_line = part.entry == 0
    decoded = is_line & (part.seq >= 0)
    unframed = part.codes["status"].get("unframed", -99)
    counted = is_line & (part.seq < 0) & (part.status != unframed)
    missing = np.zeros(n, np.int64)
    reordered = np.zeros(n, bool)
    idx = np.flatnonzero(decoded)
    if len(idx) < 2:
        return missing, reordered
    corrupt_before = np.cumsum(counted)[idx]
    between = np.diff(corrupt_before, prepend=0)
    seq = part.seq[idx]
    hello = part.codes["kind"].get("hello", -99)
    check = np.ones(len(idx), bool)
    check[0] = False
    check &= ~((part.kind[idx] == hello) & (seq == 0))
    expected = (np.concatenate([[-1], seq[:-1]]) + 1) % protocol.SEQ_MOD
    ahead = (seq - expected) % protocol.SEQ_MOD
    if (check & (ahead >= protocol.SEQ_MOD // 2)).any():
        return _sequence_checks_one_by_one(part, decoded, counted)
    missing[idx] = np.where(check, np.maximum(0, ahead - between), 0)
    return missing, reordered


def _sequence_checks_one_by_one(part, decoded, counted):
    missing = np.zeros(part.n, np.int64)
    reordered = np.zeros(part.n, bool)
    tracker = capfile.SeqTracker()
    kinds = part.names["kind"]
    for i in np.flatnonzero(decoded | counted).tolist():
        if counted[i]:
            tracker.corrupt()
        else:
            missing[i], reordered[i] = tracker.check(int(part.seq[i]), kinds[part.kind[i]])
    return missing, reordered


def lines_frame(part):
    """The `lines` DataFrame of one file (columns LINE_COLUMNS, docs/logs.md)."""
    n = part.n
    missing, reordered = sequence_checks(part)
    seq = pd.array(part.seq, dtype="Int64")
    seq[part.seq < 0] = pd.NA
    frame = pd.DataFrame({
        "source": spans.coded_text(np.zeros(n, np.int32), [part.source]),
        "line_no": np.arange(1, n + 1, dtype=np.int64),
        "host_time": host_times(part.host_ns),
        "entry": spans.coded_text(part.entry, LINE_ENTRIES),
        "kind": spans.coded_text(part.kind, part.names["kind"]),
        "seq": seq,
        "status": spans.coded_text(part.status, part.names["status"]),
        "error": spans.coded_text(part.error, part.names["error"]),
        "missing_before": missing,
        "reordered": reordered,
        "partial": part.partial,
        "raw": _raw(part),
    })
    return frame


def _raw(part):
    """The escaped raw text of each line. Where it is the file's own text (canonical capture
    lines, header and comment lines) it is taken from the file in one Arrow pass; only the rest
    (a line whose escapes the capture would have written differently) is patched."""
    if part.spans is None:
        return pd.Series([part.raw_text.get(i) for i in range(part.n)], dtype="str")
    starts, ends, cs, fast = part.spans
    lo = np.where(fast, cs, starts)
    valid = fast.copy()
    patch = {}
    data = part.data
    for i, text in part.raw_text.items():
        if text is None:
            continue
        start = int(cs[i]) if part.entry[i] == 0 else int(starts[i])
        if data[start:ends[i]] == text.encode("latin-1", "replace"):
            lo[i] = start
            valid[i] = True
        else:
            patch[i] = text
    buf = np.frombuffer(data, np.uint8)
    raw = spans.text_series(spans.text_views(pa.py_buffer(data), buf, lo, ends, valid=valid))
    if patch:
        at = np.fromiter(patch.keys(), np.int64, len(patch))
        raw.iloc[at] = pd.Series(list(patch.values()), dtype="str").to_numpy()
    return raw

"""Researcher API: load captures into pandas DataFrames (lines, messages, records, events)."""

# Columns are documented in docs/logs.md. Typical use:
#   from host_tools import logs
#   log = logs.load("captures/")           # one capture file or a folder of them
#   log.records, log.events, log.lines     # DataFrames
#   table = logs.summary(log)              # one row per infusion (Table 2 durations)
#   logs.cohort(table), logs.compare(table_a, table_b)
import os
from pathlib import Path

import pandas as pd

from host_tools import capfile
from host_tools.capfile import UserError
from host_tools.infusions import INFUSION_COLUMNS, cohort, compare, split, summary  # noqa: F401
from pumpfw import protocol

LogError = UserError

RECORD_COLUMNS = ("source", "line_no", "host_time", "seq") + protocol.RECORD_FIELDS
# Every argument an event can carry, whatever its name (see protocol.EVENTS).
# Plus `what`, the name that alarm and fault events add beside their code.
EVENT_ARGS = tuple(sorted({f for spec in protocol.EVENTS.values() for f in spec[1:] if f}
                          | {"what"}))
EVENT_COLUMNS = ("source", "line_no", "host_time", "seq", "event", "t_ms") + EVENT_ARGS
LINE_COLUMNS = (
    "source", "line_no", "host_time", "entry", "kind", "seq", "status", "error",
    "missing_before", "reordered", "partial", "raw",
)  # fmt: skip
_TEXT_FIELDS = {"st", "cause", "fw", "board", "reset", "event", "name", "kind", "reason", "text",
                "what", "press"}


class Log:
    """The DataFrames of one or more capture files, in file order then line order."""

    def __init__(self, lines, messages, sources):
        self.sources = sources
        self.lines = lines
        self.messages = messages
        self.records = _typed(messages[messages["kind"] == "rec"], RECORD_COLUMNS)
        events = messages[messages["kind"] == "ev"].rename(columns={"name": "event"})
        self.events = _typed(events, EVENT_COLUMNS)

    def integrity(self):
        """Counts per source: lines, decoded, corrupted, sequence gaps and missing lines..."""
        got = self.lines[self.lines["entry"] == "line"]
        rows = []
        for source in self.sources:
            part = got[got["source"] == source]
            rows.append({
                "source": source,
                "lines": len(part),
                "decoded": int((part["status"] == "ok").sum()),
                "corrupted": int((part["status"] != "ok").sum()),
                "checksum_failures": int((part["status"] == "checksum").sum()),
                "seq_gaps": int((part["missing_before"] > 0).sum()),
                "seq_missing": int(part["missing_before"].sum()),
                "reordered": int(part["reordered"].sum()),
                "partial": int(part["partial"].sum()),
                "reconnects": int(((self.lines["source"] == source)
                                   & (self.lines["kind"] == "reconnect")).sum()),
            })
        return pd.DataFrame(rows)


def load(path):
    """One capture file, or every capture file in a folder (sorted by name) -> Log."""
    files = _capture_files(Path(path))
    line_rows, message_rows = [], []
    for file in files:
        _read_one(file, line_rows, message_rows)
    lines = pd.DataFrame(line_rows, columns=list(LINE_COLUMNS))
    lines["seq"] = lines["seq"].astype("Int64")
    lines["host_time"] = pd.to_datetime(lines["host_time"].astype("Int64"), unit="ns", utc=True)
    messages = pd.DataFrame(message_rows)
    if messages.empty:
        messages = pd.DataFrame(columns=["source", "line_no", "host_time", "seq", "kind", "name"])
    messages["host_time"] = pd.to_datetime(messages["host_time"].astype("Int64"), unit="ns",
                                           utc=True)
    for column in messages.columns:
        if column not in _TEXT_FIELDS and column not in ("source", "host_time"):
            messages[column] = _maybe_int(messages[column])
    return Log(lines, messages, [str(f) for f in files])


def _capture_files(path):
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _is_capture(p))
        if not files:
            raise UserError("no capture files (first line %r) in %s" % (capfile.HEADER, path))
        return files
    if not path.exists():
        raise UserError("no such file: %s" % path)
    if not os.access(path, os.R_OK):
        raise UserError("cannot read %s: permission denied" % path)
    return [path]


def _is_capture(path):
    try:
        with open(path, "rb") as f:
            return f.readline().startswith(capfile.HEADER.encode())
    except OSError:
        return False


def _read_one(file, line_rows, message_rows):
    source = str(file)
    seq = capfile.SeqTracker()
    try:
        entries = list(capfile.read_capture(file))
    except OSError as exc:
        raise UserError("cannot read %s: %s" % (file, exc.strerror)) from None
    for line_no, entry, host_ns, payload in entries:
        row = dict.fromkeys(LINE_COLUMNS)
        row.update(source=source, line_no=line_no, host_time=host_ns, entry=entry,
                   missing_before=0, reordered=False, partial=False, status="ok", error="")
        if entry == "marker":
            row["kind"], row["error"] = payload
        elif entry in ("header", "comment", "bad"):
            row["kind"] = entry
            row["raw"] = payload
            row["status"] = "unreadable" if entry == "bad" else "ok"
        else:
            _decode_into(row, payload, seq, message_rows)
        line_rows.append(row)


def _decode_into(row, raw, seq, message_rows):
    row["raw"] = capfile.escape(raw)
    row["partial"] = not raw.endswith(b"\n")
    msg, reason, text = capfile.decode(raw)
    if msg is None:
        row.update(kind="corrupt", status=reason, error=text)
        if reason != "unframed":
            seq.corrupt()
        return
    row["kind"], row["seq"] = msg.kind, msg.seq
    row["missing_before"], row["reordered"] = seq.check(msg.seq, msg.kind)
    out = {"source": row["source"], "line_no": row["line_no"], "host_time": row["host_time"],
           "seq": msg.seq, "kind": msg.kind, "name": msg.name}
    if msg.kind in ("ok", "err", "ask"):
        out.update(ref=msg.ref, reason=msg.reason, text=msg.text)
    for key, value in msg.fields.items():
        out.setdefault(key, value)
    message_rows.append(out)


def _maybe_int(series):
    """Nullable Int64 when every present value is a whole number; text columns stay text."""
    present = series.dropna()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("Int64") if (present == present.round()).all() else series
    if len(present) and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return series.astype("Int64")
    return series


def _typed(frame, columns):
    out = frame.reindex(columns=list(columns)).reset_index(drop=True)
    for column in columns:
        if column in ("source", "host_time") or column in _TEXT_FIELDS:
            continue
        # Numbers become nullable ints; a field that is text in some event (a newer firmware's
        # name field) stays as it came rather than failing the whole load.
        out[column] = _maybe_int(out[column])
    return out

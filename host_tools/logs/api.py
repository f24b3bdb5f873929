"""Researcher API: load captures into pandas DataFrames (lines, messages, records, events)."""

# Columns are documented in docs/logs.md. Typical use:
#   from host_tools import logs
#   log = logs.load("captures/")           # one capture file or a folder of them
#   log.records, log.events, log.lines     # DataFrames
#   table = logs.summary(log)              # one row per infusion (Table 2 durations)
#   logs.cohort(table), logs.compare(table_a, table_b)
import functools
import os
from pathlib import Path

import pandas as pd

from host_tools.logs import capfile, ingest, linetable
from host_tools.logs.capfile import UserError
from host_tools.logs.cohortstats import (  # noqa: F401
    LeftOutWarning,
    cohort,
    compare,
    per_patient,
    table2,
    table2_by_replicate,
)
from host_tools.logs.infusions import INFUSION_COLUMNS, split, summary, typed_summary  # noqa: F401
from host_tools.logs.linetable import LINE_COLUMNS  # noqa: F401
from host_tools.logs.patients import (  # noqa: F401
    PATIENT_COLUMNS,
    SmallSampleWarning,
    bootstrap_median,
    counts,
    patient_summary,
)
from pumpfw import protocol

LogError = UserError

RECORD_COLUMNS = ("source", "line_no", "host_time", "seq") + protocol.RECORD_FIELDS
# Every argument an event can carry, whatever its name (see protocol.EVENTS).
# Plus `what`, the name that alarm and fault events add beside their code.
EVENT_ARGS = tuple(sorted({f for spec in protocol.EVENTS.values() for f in spec[1:] if f}
                          | {"what"}))
EVENT_COLUMNS = ("source", "line_no", "host_time", "seq", "event", "t_ms") + EVENT_ARGS
MESSAGE_BASE = ("source", "line_no", "host_time", "seq", "kind", "name")
TEXT_FIELDS = {"source", "st", "cause", "fw", "board", "reset", "event", "name", "kind",
               "reason", "text", "what", "press"}
CAPTURE_COLUMNS = ("source", "subject", "started", "port", "board", "fw", "steps_per_ml")


class Log:
    """The DataFrames of one or more capture files, in file order then line order."""

    def __init__(self, parts, sources):
        self.sources = sources
        self.lines = _concat([linetable.lines_frame(p) for p in parts], LINE_COLUMNS)
        fast = [p.records for p in parts if p.records is not None and len(p.records)]
        self._others = [m for p in parts for m in p.messages]
        slow = _typed(pd.DataFrame([m for m in self._others if m["kind"] == "rec"]),
                      RECORD_COLUMNS)
        records = _concat(fast + ([slow] if len(slow) else []), RECORD_COLUMNS)
        if len(slow):
            records = _in_file_order(records, sources)
        self.records = _typed(records, RECORD_COLUMNS)
        events = pd.DataFrame([m for m in self._others if m["kind"] == "ev"])
        self.events = _typed(events.rename(columns={"name": "event"}), EVENT_COLUMNS)
        self.captures = _captures(parts, self._others)

    @functools.cached_property
    def messages(self):
        """Every decoded line (built on first use: records and all other messages)."""
        recs = self.records.assign(kind="rec", name="")
        others = pd.DataFrame([m for m in self._others if m["kind"] != "rec"])
        frames = [f for f in (recs, _typed(others, tuple(others.columns))) if len(f)]
        if not frames:
            return pd.DataFrame(columns=list(MESSAGE_BASE))
        out = _in_file_order(pd.concat(frames, ignore_index=True), self.sources)
        first = list(MESSAGE_BASE) + [c for c in out.columns if c not in MESSAGE_BASE]
        return out[first]

    @property
    def subjects(self):
        """source -> subject ID recorded in its capture header (None where there is none)."""
        return {source: (None if pd.isna(subject) else subject) for source, subject
                in zip(self.captures["source"], self.captures["subject"], strict=True)}

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


def load(path, *more):
    """One capture file, or every capture file in a folder (sorted by name) -> Log. Several
    paths are one Log as if their files were in one folder (sorted by name), so an infusion
    split over two captures is joined whichever way the files are given."""
    files = _capture_files(Path(path))
    if more:
        files = sorted({f for p in (path, *more) for f in _capture_files(Path(p))})
    return Log([_read(file) for file in files], [str(f) for f in files])


def _read(file):
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise UserError("cannot read %s: %s" % (file, exc.strerror)) from None
    return ingest.read(str(file), data)


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


def _captures(parts, messages):
    """One row per file: the capture header's fields and the board's own: its first `hello`,
    or the first reply to `id` (a capture started after the boot has no hello)."""
    hellos = {}
    for m in messages:
        if m["kind"] == "hello" or (m["kind"] == "ok" and m.get("name") == "id"
                                    and m.get("board") is not None):
            hellos.setdefault(m["source"], m)
    rows = []
    for part in parts:
        first = part.data[:4096].split(b"\n", 1)[0]
        head = capfile.header_fields(first.decode("ascii", "replace"))
        hello = hellos.get(part.source, {})
        rows.append({"source": part.source, "subject": head.get("subject"),
                     "started": head.get("started"), "port": head.get("port"),
                     "board": hello.get("board"), "fw": hello.get("fw"),
                     "steps_per_ml": hello.get("steps_per_ml")})
    return _typed(pd.DataFrame(rows, columns=list(CAPTURE_COLUMNS)), CAPTURE_COLUMNS,
                  text={"subject", "started", "port"})


def _in_file_order(frame, sources):
    order = {s: i for i, s in enumerate(sources)}
    key = frame["source"].map(order).astype("int64") * 2**40 + frame["line_no"].astype("int64")
    return frame.iloc[key.argsort(kind="stable").to_numpy()].reset_index(drop=True)


def _concat(frames, columns):
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _maybe_int(series):
    """Nullable Int64 when every present value is a whole number; text columns stay text."""
    present = series.dropna()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("Int64") if (present == present.round()).all() else series
    if len(present) and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return series.astype("Int64")
    return series


def _typed(frame, columns, text=()):
    """Columns in order; numbers as nullable Int64, text as "str" (even when empty), host_time
    as UTC datetimes."""
    out = frame.reindex(columns=list(columns)).reset_index(drop=True)
    for column in columns:
        series = out[column]
        if column == "host_time":
            if not isinstance(series.dtype, pd.DatetimeTZDtype):
                out[column] = linetable.host_times(series.fillna(-1).astype("int64"))
        elif column in TEXT_FIELDS or column in text:
            if series.dtype != "str":
                out[column] = series.astype("str")
        elif str(series.dtype) != "Int64":
            # Numbers become nullable ints; a field that is text in some event (a newer
            # firmware's name field) stays as it came rather than failing the whole load.
            out[column] = _maybe_int(series)
    return out

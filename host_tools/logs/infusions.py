"""Split a loaded log into infusions: every infusion found, none lost silently (docs/logs.md)."""

# An infusion runs from its `start` event to complete/stop/discontinue. Records carry the
# infusion number and its elapsed time, so an infusion whose start was not captured (the capture
# began late, or the line was lost) is rebuilt from them, one split over two capture files is
# joined, and one whose end event is missing ends where its records say; each is flagged in
# `rebuilt`. Across a reboot, the host's receive times bridge the device clocks, so the duration
# includes the time the board was off (`off_min`).
import math

import numpy as np
import pandas as pd

from host_tools.logs import streams
from host_tools.logs.cohortstats import cohort, compare, infusion_group  # noqa: F401
from host_tools.logs.timeline import END_EVENTS, INFUSION_COLUMNS, MS_PER_MIN, summarise  # noqa: F401

_FROM_STATE = {"complete": "complete", "stopped": "stop", "discontinued": "discontinue"}


class Infusion:
    """One infusion: its events and records (DataFrames with `t_rel_ms`, ms since its start on
    one time axis), its summary row, and the capture rows (provenance) it came from."""

    def __init__(self, build, log):
        self.source = build.source
        self.index = build.index
        self.row = build.row
        self.start_t_ms = self.row["start_t_ms"]
        t0 = build.start_t
        kept = [(t, f["row"]) for t, _, f, _ in build.items if f.get("row", -1) >= 0]
        self.events = log.events.iloc[[r for _, r in kept]].reset_index(drop=True)
        self.events["t_rel_ms"] = [t - t0 for t, _ in kept]
        parts = [log.records.iloc[run.first:run.last + 1] for run, _ in build.runs]
        records = pd.concat(parts, ignore_index=True) if parts else log.records.iloc[0:0]
        shifts = np.concatenate([np.full(run.last - run.first + 1, shift)
                                 for run, shift in build.runs]) if parts else np.zeros(0)
        self.records = records.assign(
            t_rel_ms=records["t_ms"].to_numpy("float64") + shifts - t0)
        self.captures = log.captures[log.captures["source"].isin(build.sources)]
        self.off_spans = [(a - t0, b - t0) for a, b in build.offs]


class _Build:
    """An infusion being assembled while a stream is walked. Times are on one axis: device ms
    of the epoch it started in, other epochs shifted onto it (`shift`)."""

    def __init__(self, stream, source, key, start_t, inf, flags):
        self.subject = stream.subject
        self.source = self.end_source = source
        self.sources = [source]
        self.flags = list(flags)
        self.inf = inf
        self.key = key
        self.shift = {key: 0.0}
        self.start_t = self.last_t = start_t
        self.device_start = start_t  # the controller's start on the current device clock
        self.items, self.runs, self.offs = [], [], []
        self.reboots = 0
        self.timing = "events"
        self.premed, self.override_bits = None, 0
        self.pending_join = False
        self.last_record = None
        self.final_run = False
        self.index, self.row = 0, None

    def add_event(self, e):
        t = e["t_ms"] + self.shift[(e["file"], e["epoch"])]
        self.items.append((t, e["event"], e, e["line_no"]))
        self.last_t = max(self.last_t, t)

    def ended(self):
        return bool(self.items) and self.items[-1][1] in END_EVENTS


def split(log):
    """-> [Infusion] by stream (subject), each in capture-time order; open ones included."""
    builds = []
    for stream in streams.streams(log):
        builds += _walk(stream)
    counters = {}
    out = []
    for b in builds:
        counters[b.source] = counters.get(b.source, 0) + 1
        b.index = counters[b.source]
        b.row = _row(b)
        out.append(Infusion(b, log))
    return out


def _walk(stream):
    done, cur, context = [], None, streams.Context()
    for item in stream.items:
        if item.kind == "file":
            if cur is not None:
                cur.pending_join = True  # the next capture may go on with it
            context = streams.Context()
        elif item.kind == "event":
            cur, context = _event(stream, done, cur, context, item.data)
        else:
            cur, context = _run(stream, done, cur, context, item.data)
    if cur is not None:
        done.append(cur)
    return done


def _event(stream, done, cur, context, e):
    name = e["event"]
    if name == "start":
        if cur is not None:
            done.append(cur)  # a new start: the one before stays open
        cur = _Build(stream, stream.source_of(e), (e["file"], e["epoch"]), e["t_ms"],
                     int(e["inf"]), ())
        cur.premed, cur.override_bits = context.before_start(e)
        cur.add_event(e)
        return cur, streams.Context(e["line_no"])
    if cur is None:
        if name in END_EVENTS:  # an end with nothing before it: listed, never dropped
            lone = _Build(stream, stream.source_of(e), (e["file"], e["epoch"]), math.nan, 0,
                          ("start_not_found",))
            lone.items.append((math.nan, "start", {"inf": 0}, e["line_no"]))
            lone.add_event(e)
            done.append(lone)
            return None, streams.Context(e["line_no"])
        context.orphan(e)
        return cur, context
    if name == "reboot":
        if not _reboot(stream, cur, e):
            done.append(cur)
            return None, streams.Context(e["line_no"])
        return cur, context
    if (e["file"], e["epoch"]) not in cur.shift:
        context.orphan(e)  # another capture: its place is known once a record run matches
        return cur, context
    cur.add_event(e)
    if cur.ended():
        done.append(cur)
        return None, streams.Context(e["line_no"])
    return cur, context


def _run(stream, done, cur, context, run):
    if cur is not None and _belongs(cur, run):
        joining = run.key not in cur.shift
        _take(cur, run)
        if joining:
            for e in context.since(run):
                cur.add_event(e)
        if not run.active and not cur.ended():
            _end_from_record(cur, run)
            done.append(cur)
            return None, streams.Context(run.last_line)
        return cur, context
    if not run.active or run.inf <= 0:
        recent = done[-1] if done and cur is None else None
        if recent is not None and recent.ended() and not recent.final_run and _belongs(
                recent, run):
            recent.final_run = True  # its records after the end: the controller's totals
            _take(recent, run)
        return cur, context  # an idle pump, or records after an infusion's end
    if cur is not None:
        done.append(cur)
    gap = stream.gap_before(run, context.since_line)
    why = "start_lost_in_gap" if gap else "start_before_capture"
    cur = _Build(stream, run.source, run.key, run.start_est, run.inf, (why,))
    cur.premed, cur.override_bits = context.before_start(None)
    cur.items.append((run.start_est, "start", {"inf": run.inf}, run.first_line))
    for e in context.since(run):
        cur.add_event(e)
    _take(cur, run)
    return cur, streams.Context(run.first_line)


def _belongs(cur, run):
    if run.inf != cur.inf:
        return False
    if run.key in cur.shift:
        if not run.active:
            return True
        return cur.device_start is None or run.start_est == cur.device_start
    if cur.pending_join:  # the same controller seen by the next capture (no reboot between)
        return not run.active or run.start_est == cur.device_start
    return False


def _take(cur, run):
    if run.key not in cur.shift:
        cur.shift[run.key] = cur.shift[cur.key]  # the same device clock, another capture
    if cur.pending_join:
        cur.flags.append("joined")
        cur.pending_join = False
    if run.source not in cur.sources:
        cur.sources.append(run.source)
    if run.active and cur.device_start is None:
        cur.device_start = run.start_est
    cur.key = run.key
    shift = cur.shift[run.key]
    cur.runs.append((run, shift))
    cur.last_record = run.last_record
    cur.last_t = max(cur.last_t, run.last_t + shift)
    cur.end_source = run.source


def _reboot(stream, cur, e):
    """A reboot inside an infusion: bridge the clocks by host time. False if the board did not
    bring the infusion back (it is then left open, flagged)."""
    key = (e["file"], e["epoch"])
    before, after = stream.offset_ns(cur.key), stream.offset_ns(key)
    cur.reboots += 1
    if before is None or after is None or cur.timing == "device":
        cur.timing = "device"
        cur.shift[key] = cur.shift[cur.key]
    else:
        # Host ns between the two clocks' zeros, in device ms (a SCALE=10 board runs 10x).
        shift = cur.shift[cur.key] + (after - before) / 1e6 * stream.clock_rate(cur.key)
        t_on = e["t_ms"] + shift
        if t_on < cur.last_t - 1000:  # the host clock cannot place the boot: device totals
            cur.timing = "device"
            cur.shift[key] = cur.shift[cur.key]
        else:
            cur.timing = "host"
            cur.shift[key] = shift
            if t_on > cur.last_t:
                cur.offs.append((cur.last_t, t_on))
    if cur.pending_join:
        cur.flags.append("joined")
        cur.pending_join = False
    cur.key = key
    cur.device_start = None  # the restored controller's start is read from its next records
    cur.add_event(e)
    if not e.get("recovered"):
        cur.flags.append("not_recovered_after_reboot")
        return False
    return True


def _end_from_record(cur, run):
    rec = run.last_record
    name = _FROM_STATE.get(rec.get("st"))
    if name is None:
        return
    if cur.device_start is None:
        t_end = cur.last_t
    else:
        t_end = cur.device_start + int(rec["elapsed_ms"]) + cur.shift[run.key]
    cur.items.append((t_end, name, {"vol_ul": rec.get("vol_ul")}, run.last_line))
    cur.flags.append("end_from_record")


def _row(b):
    items = b.items
    if b.timing != "device":  # one time axis: events in time order (device clocks differ)
        items = sorted(items, key=lambda it: (math.isnan(it[0]) and -1 or 0, it[0], it[3]))
    b.items = items
    events = [(t, name, fields) for t, name, fields, _ in items]
    end = items[-1] if items[-1][1] in END_EVENTS else None
    first = items[0][2]
    return summarise(
        events, b.last_record, b.offs, b.timing, b.premed, b.override_bits,
        subject=b.subject, source=b.source, index=b.index, rebuilt=",".join(b.flags),
        start_line=items[0][3], end_line=end[3] if end else None,
        start_host_time=first.get("host_time", pd.NaT),
        end_host_time=end[2].get("host_time", pd.NaT) if end else pd.NaT,
        reboots=b.reboots, end_source=b.end_source,
    )


def summary(log_or_infusions):
    """One row per infusion (columns: INFUSION_COLUMNS, docs/logs.md), open ones included."""
    items = log_or_infusions
    if hasattr(items, "events"):
        items = split(items)
    table = pd.DataFrame([inf.row for inf in items], columns=list(INFUSION_COLUMNS))
    return typed_summary(table)


def typed_summary(table):
    """The summary's dtypes (also for a table read back from CSV): ints nullable, text as text,
    host times as UTC datetimes."""
    table = table.reindex(columns=list(INFUSION_COLUMNS))
    for column in ("index", "infusion", "start_line", "end_line", "n_interruptions", "n_pauses",
                   "n_ir", "n_ir_continued", "max_ir_grade", "reboots"):
        table[column] = pd.to_numeric(table[column]).round().astype("Int64")
    for column in ("start_t_ms", "end_t_ms"):
        table[column] = pd.to_numeric(table[column]).astype("Float64")
    for column in ("subject", "source", "outcome", "rebuilt", "ir_grades", "ir_episodes",
                   "timing", "premed_window", "overrides", "end_source"):
        table[column] = table[column].astype("str").fillna("") if column != "subject" else \
            table[column].astype("str")
    for column in ("start_host_time", "end_host_time"):
        table[column] = pd.to_datetime(table[column], utc=True)
    return table

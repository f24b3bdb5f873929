"""Split a loaded log into infusions; per-infusion (Table 2) and cohort summaries; Mann-Whitney."""

import math

import pandas as pd
from scipy import stats

MS_PER_MIN = 60_000
END_EVENTS = {"complete": "complete", "stop": "stopped", "discontinue": "discontinued"}
# Event -> the controller state it enters (docs/infusion-schedule.md, "States").
_ENTERS = {"pause": "paused", "resume": "running", "interrupt": "interrupted"}

INFUSION_COLUMNS = (
    "source", "index", "infusion", "outcome", "start_line", "end_line", "start_t_ms",
    "end_t_ms", "start_host_time", "end_host_time", "duration_min", "duration_h",
    "infusing_min", "paused_min", "interrupted_min", "n_interruptions", "n_pauses", "n_ir",
    "ir_grades", "max_ir_grade", "delivered_ml", "device_elapsed_min", "device_infusing_min",
    "reboots", "timing",
)  # fmt: skip


class Infusion:
    """One infusion of one log: its events and records (DataFrame slices) and summary row."""

    def __init__(self, source, index, events, records):
        self.source = source
        self.index = index
        self.events = events
        self.records = records
        self.row = _summarise(self)

    @property
    def start_t_ms(self):
        return int(self.events["t_ms"].iloc[0])


def split(log):
    """-> [Infusion] in log order. An infusion runs from a `start` event to the next
    complete/stop/discontinue; one without an end (log cut, or a new start) is `open`."""
    out = []
    for source in log.sources:
        events = log.events[log.events["source"] == source]
        records = log.records[log.records["source"] == source]
        starts = list(events.index[events["event"] == "start"])
        for k, at in enumerate(starts):
            nxt = starts[k + 1] if k + 1 < len(starts) else None
            part = events.loc[at:nxt - 1] if nxt is not None else events.loc[at:]
            ends = part.index[part["event"].isin(list(END_EVENTS))]
            if len(ends):
                part = part.loc[: ends[0]]
            first_line = part["line_no"].iloc[0]
            last_line = events.loc[nxt, "line_no"] if nxt is not None else math.inf
            number = part["inf"].iloc[0]
            mine = records[(records["line_no"] > first_line) & (records["line_no"] < last_line)
                           & (records["inf"] == number)]
            out.append(Infusion(source, k + 1, part.reset_index(drop=True),
                                mine.reset_index(drop=True)))
    return out


def _summarise(inf):
    ev = inf.events
    start = ev.iloc[0]
    last = ev.iloc[-1]
    outcome = END_EVENTS.get(last["event"], "open")
    state, since = "running", int(start["t_ms"])
    spent_ms = {"running": 0, "paused": 0, "interrupted": 0}
    for _, e in ev.iloc[1:].iterrows():
        t = int(e["t_ms"])
        new = _ENTERS.get(e["event"])
        if e["event"] in END_EVENTS or (new and new != state):
            spent_ms[state] += t - since
            state, since = new, t
    grades = [int(g) for g in ev.loc[ev["event"] == "ir", "grade"]]
    recs = inf.records
    last_rec = recs.iloc[-1] if len(recs) else None
    reboots = int((ev["event"] == "reboot").sum())
    row = {
        "source": inf.source, "index": inf.index, "infusion": int(start["inf"]),
        "outcome": outcome, "start_line": int(start["line_no"]),
        "end_line": int(last["line_no"]) if outcome != "open" else None,
        "start_t_ms": int(start["t_ms"]),
        "end_t_ms": int(last["t_ms"]) if outcome != "open" else None,
        "start_host_time": start["host_time"],
        "end_host_time": last["host_time"] if outcome != "open" else pd.NaT,
        "n_interruptions": int((ev["event"] == "interrupt").sum()),
        "n_pauses": int((ev["event"] == "pause").sum()), "n_ir": len(grades),
        "ir_grades": ",".join(str(g) for g in grades), "max_ir_grade": max(grades, default=0),
        "delivered_ml": _delivered_ml(last, last_rec),
        "device_elapsed_min": _min(last_rec, "elapsed_ms"),
        "device_infusing_min": _min(last_rec, "infusing_ms"),
        "reboots": reboots, "timing": "events",
    }
    if outcome == "open":
        duration = infusing = paused = interrupted = math.nan
    elif reboots:
        # Device time restarts with the board; the controller's own totals carry across.
        row["timing"] = "device"
        duration, infusing = row["device_elapsed_min"], row["device_infusing_min"]
        paused = interrupted = math.nan
    else:
        duration = (int(last["t_ms"]) - int(start["t_ms"])) / MS_PER_MIN
        infusing = spent_ms["running"] / MS_PER_MIN
        paused = spent_ms["paused"] / MS_PER_MIN
        interrupted = spent_ms["interrupted"] / MS_PER_MIN
    row.update(duration_min=duration, duration_h=duration / 60, infusing_min=infusing,
               paused_min=paused, interrupted_min=interrupted)
    return row


def _delivered_ml(last_event, last_rec):
    if last_event["event"] in ("complete", "stop") and not pd.isna(last_event["vol_ul"]):
        return int(last_event["vol_ul"]) / 1000
    if last_rec is not None:
        return int(last_rec["vol_ul"]) / 1000
    return math.nan


def _min(rec, field):
    return math.nan if rec is None else int(rec[field]) / MS_PER_MIN


def summary(log_or_infusions):
    """One row per infusion (columns: INFUSION_COLUMNS, docs/logs.md)."""
    items = log_or_infusions
    if hasattr(items, "events"):
        items = split(items)
    return pd.DataFrame([inf.row for inf in items], columns=list(INFUSION_COLUMNS))


def infusion_group(number, lump_from=3):
    """Infusion number -> its label in the paper's tables: "1", "2", "3+"."""
    if lump_from is not None and number >= lump_from:
        return "%d+" % lump_from
    return str(number)


def _ended(table, lump_from):
    done = table[table["outcome"] != "open"].dropna(subset=["duration_min"]).copy()
    done["infusion_group"] = [infusion_group(int(n), lump_from) for n in done["infusion"]]
    return done


def cohort(table, lump_from=3):
    """Median and range of durations by infusion number (open infusions left out), e.g.
    infusion 1: "3.7 h (range 1.0-6.1)" as in the paper's Results."""
    rows = []
    done = _ended(table, lump_from)
    for label, part in sorted(done.groupby("infusion_group"), key=lambda kv: _order(kv[0])):
        hours = part["duration_h"]
        rows.append({
            "infusion_group": label, "n": len(part), "median_h": hours.median(),
            "min_h": hours.min(), "max_h": hours.max(),
            "median_min": part["duration_min"].median(),
            "text": "%.1f h (range %.1f-%.1f)" % (hours.median(), hours.min(), hours.max()),
        })
    return pd.DataFrame(rows, columns=["infusion_group", "n", "median_h", "min_h", "max_h",
                                       "median_min", "text"])


def _order(label):
    return int(label.rstrip("+")), label.endswith("+")


def compare(table_a, table_b, lump_from=3):
    """Two-sided Mann-Whitney U test of durations, group A vs B, per infusion group
    (the paper's Table 2: weight-based vs fixed-volume infusions)."""
    a, b = _ended(table_a, lump_from), _ended(table_b, lump_from)
    rows = []
    labels = sorted(set(a["infusion_group"]) | set(b["infusion_group"]), key=_order)
    for label in labels:
        xa = a.loc[a["infusion_group"] == label, "duration_h"]
        xb = b.loc[b["infusion_group"] == label, "duration_h"]
        u, p = math.nan, math.nan
        if len(xa) and len(xb):
            res = stats.mannwhitneyu(xa, xb, alternative="two-sided")
            u, p = float(res.statistic), float(res.pvalue)
        rows.append({"infusion_group": label, "n_a": len(xa), "n_b": len(xb),
                     "median_a_h": xa.median(), "median_b_h": xb.median(),
                     "u_statistic": u, "p_value": p})
    return pd.DataFrame(rows)

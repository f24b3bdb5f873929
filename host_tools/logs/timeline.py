"""One infusion's events on one time axis -> its summary row, for captures and simulations."""

# The row's columns are INFUSION_COLUMNS (docs/logs.md). Events are (t_ms, name, fields) with t_ms
# on one axis for the whole infusion: device time, or device time bridged over reboots by the
# host's receive times (host_tools/logs/infusions.py). The simulator (host_tools/cohort) feeds the
# controller's own events, so real and simulated infusions are summarised by the same code.
import math

MS_PER_MIN = 60_000
END_EVENTS = {"complete": "complete", "stop": "stopped", "discontinue": "discontinued"}
# Event -> the controller state it enters (docs/infusion-schedule.md, "States").
_ENTERS = {"pause": "paused", "resume": "running", "interrupt": "interrupted"}
PREMED_TARGET_MIN = (15, 30)  # the seed's premedication window before the start
PREMED_LIMIT_MIN = 60  # "but no longer than 60 min": 30-60 is allowed and flagged
OVERRIDE_NAMES = ((1, "number"), (2, "premed"), (4, "journal"))

INFUSION_COLUMNS = (
    "subject", "source", "index", "infusion", "outcome", "rebuilt", "start_line", "end_line",
    "start_t_ms", "end_t_ms", "start_host_time", "end_host_time", "duration_min", "duration_h",
    "infusing_min", "paused_min", "interrupted_min", "off_min", "n_interruptions", "n_pauses",
    "n_ir", "n_ir_continued", "ir_grades", "max_ir_grade", "ir_onset_min", "ir_resolved_min",
    "ir_episodes", "delivered_ml", "device_elapsed_min", "device_infusing_min", "reboots",
    "timing", "premed_to_start_min", "premed_window", "overrides", "end_source",
)  # fmt: skip


def premed_window(minutes):
    """Premedication-to-start interval -> "" (none entered), "target" (15-30 min), "late"
    (30-60 min: allowed, flagged) or "outside" (under 15 or over 60: only by an override)."""
    if minutes is None or math.isnan(minutes):
        return ""
    lo, hi = PREMED_TARGET_MIN
    if lo <= minutes <= hi:
        return "target"
    if hi < minutes <= PREMED_LIMIT_MIN:
        return "late"
    return "outside"


def override_names(bits):
    return ",".join(name for bit, name in OVERRIDE_NAMES if bits & bit)


def summarise(events, last_record=None, off_spans=(), timing="events", premed=None,
              override_bits=0, **meta):
    """events: [(t_ms, name, fields)] from the start event on, in order; the last one ends the
    infusion if it is complete/stop/discontinue, else the infusion is open. last_record: the
    last record's fields (dict) or None. off_spans: [(t_from, t_to)] while the board was off.
    premed: (t_ms, min_ago) of the premedication entry before the start, or None. meta: the
    identifying columns (subject, source, index, start_line, ...). -> one row (dict)."""
    t0, _, start_fields = events[0]
    t_end, last_name, last_fields = events[-1]
    outcome = END_EVENTS.get(last_name, "open")
    spent = {"running": 0, "paused": 0, "interrupted": 0, "off": 0}
    offs = sorted(off_spans)
    state, since = "running", t0
    grades, onsets, resolved, episodes = [], [], [], []
    counts = {"interrupt": 0, "pause": 0, "ir_continue": 0}
    for t, name, fields in events[1:]:
        while offs and offs[0][0] <= t:
            t_from, t_to = offs.pop(0)
            spent[state] += t_from - since
            spent["off"] += t_to - t_from
            since = t_to
            state = "interrupted" if state == "interrupted" else "paused"  # restored paused
        new = _ENTERS.get(name)
        if name in END_EVENTS or (new and new != state):
            spent[state] += t - since
            state, since = new, t
        if name in counts:
            counts[name] += 1
        if name == "ir":
            grades.append(int(fields["grade"]))
            onsets.append(t)
            episodes.append([t, None])
        elif name == "ir_resolved":
            resolved.append(t)
            for episode in reversed(episodes):
                if episode[1] is None:
                    episode[1] = t
                    break
    row = dict.fromkeys(INFUSION_COLUMNS)
    row.update(meta)
    row.update(
        infusion=int(start_fields["inf"]), outcome=outcome,
        start_t_ms=t0, end_t_ms=t_end if outcome != "open" else None,
        n_interruptions=counts["interrupt"], n_pauses=counts["pause"],
        n_ir=len(grades), n_ir_continued=counts["ir_continue"],
        ir_grades=",".join(str(g) for g in grades), max_ir_grade=max(grades, default=0),
        ir_onset_min=_min(onsets[0] - t0) if onsets else math.nan,
        ir_resolved_min=_resolved_after(episodes, t0),
        ir_episodes=";".join("%s-%s" % (_fmt(a - t0), "" if b is None else _fmt(b - t0))
                             for a, b in episodes),
        delivered_ml=_delivered_ml(last_name, last_fields, last_record),
        device_elapsed_min=_field_min(last_record, "elapsed_ms"),
        device_infusing_min=_field_min(last_record, "infusing_ms"),
        timing=timing, overrides=override_names(override_bits),
    )
    if outcome == "open":
        durations = (math.nan,) * 5
    elif timing == "device":
        # Device time restarts with the board and no host time bridges it: the controller's own
        # totals (they carry across a reboot; the time the board was off is not in them).
        durations = (row["device_elapsed_min"], row["device_infusing_min"]) + (math.nan,) * 3
    else:
        durations = (_min(t_end - t0), _min(spent["running"]), _min(spent["paused"]),
                     _min(spent["interrupted"]), _min(spent["off"]))
    (row["duration_min"], row["infusing_min"], row["paused_min"], row["interrupted_min"],
     row["off_min"]) = durations
    row["duration_h"] = row["duration_min"] / 60
    if premed is not None:
        row["premed_to_start_min"] = premed[1] + _min(t0 - premed[0])
    else:
        row["premed_to_start_min"] = math.nan
    row["premed_window"] = premed_window(row["premed_to_start_min"])
    return row


def _resolved_after(episodes, t0):
    if episodes and episodes[0][1] is not None:
        return _min(episodes[0][1] - t0)
    return math.nan


def _min(ms):
    return ms / MS_PER_MIN


def _fmt(ms):
    return "%g" % round(ms / MS_PER_MIN, 2)


def _field_min(rec, field):
    if rec is None or rec.get(field) is None:
        return math.nan
    return int(rec[field]) / MS_PER_MIN


def _delivered_ml(last_name, last_fields, last_record):
    if last_name in ("complete", "stop") and last_fields.get("vol_ul") is not None:
        return int(last_fields["vol_ul"]) / 1000
    if last_record is not None and last_record.get("vol_ul") is not None:
        return int(last_record["vol_ul"]) / 1000
    return math.nan

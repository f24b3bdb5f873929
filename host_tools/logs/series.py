"""One infusion's plotted series: rate and volume against time, its paused/interrupted spans."""

import pandas as pd

from host_tools.logs.timeline import END_EVENTS

MS_PER_MIN = 60_000
_ZERO_RATE = ("pause", "interrupt", "complete", "stop", "discontinue", "reboot")
_ENTERS = {"pause": "paused", "resume": "running", "interrupt": "interrupted"}


def rate_series(inf):
    """(t_min since start, rate mL/h) from the log: every record, plus every event that sets the
    rate (rate at its since_ms, resume, and 0 at pause, interrupt, a reboot and the end), and 0
    where the board went off, in time order; a step function (steps-post)."""
    points = []
    recs = inf.records
    for t, line, rate in zip(recs["t_rel_ms"], recs["line_no"], recs["rate_ul_h"], strict=True):
        points.append((float(t), int(line), int(rate), "rec"))
    for _, e in inf.events.iterrows():
        t = float(e["t_rel_ms"])
        if e["event"] == "rate":
            points.append((t - (int(e["t_ms"]) - int(e["since_ms"])), int(e["line_no"]),
                           int(e["rate_ul_h"]), "ev"))
        elif e["event"] == "resume":
            points.append((t, int(e["line_no"]), int(e["rate_ul_h"]), "ev"))
        elif e["event"] in _ZERO_RATE:
            points.append((t, int(e["line_no"]), 0, "ev"))
    for t_from, _ in getattr(inf, "off_spans", ()):
        points.append((float(t_from), 2**62, 0, "off"))  # the board off: nothing infused
    points.sort()
    return pd.DataFrame({"t_min": [p[0] / MS_PER_MIN for p in points],
                         "rate_ml_h": [p[2] / 1000 for p in points],
                         "from": [p[3] for p in points]})


def volume_series(inf):
    """(t_min since start, volume mL): every record's vol_ul, plus the end event's vol_ul."""
    points = [(float(t), int(v)) for t, v in zip(inf.records["t_rel_ms"], inf.records["vol_ul"],
                                                  strict=True)]
    for _, e in inf.events.iterrows():
        if e["event"] in ("complete", "stop") and not pd.isna(e["vol_ul"]):
            points.append((float(e["t_rel_ms"]), int(e["vol_ul"])))
    points.sort()
    return pd.DataFrame({"t_min": [t / MS_PER_MIN for t, _ in points],
                         "volume_ml": [v / 1000 for _, v in points]})


def spans(inf):
    """[(state, from_min, to_min)] for every paused, interrupted and board-off span."""
    out = []
    offs = sorted(inf.off_spans)
    state, since = "running", 0.0
    last = 0.0
    for _, e in inf.events.iterrows():
        t = float(e["t_rel_ms"])
        while offs and offs[0][0] <= t:
            t_from, t_to = offs.pop(0)
            if state != "running":
                out.append((state, since, t_from))
            out.append(("off", t_from, t_to))
            state = "interrupted" if state == "interrupted" else "paused"
            since = t_to
        new = _ENTERS.get(e["event"])
        if e["event"] in END_EVENTS or (new and new != state):
            if state != "running":
                out.append((state, since, t))
            state, since = new or "running", t
        last = max(last, t)
    if len(inf.records):
        last = max(last, float(inf.records["t_rel_ms"].max()))
    if state != "running" and last > since:
        out.append((state, since, last))
    return [(name, a / MS_PER_MIN, b / MS_PER_MIN) for name, a, b in out if b > a]

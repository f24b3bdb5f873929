"""One infusion's figure, fit for a paper: rate and volume against time, with its provenance."""

import datetime
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from host_tools.logs import series  # noqa: E402
from pumpfw import preview  # noqa: E402
from pumpfw.schedule import DEFAULT_REGIMEN  # noqa: E402

DPI = 300
FORMATS = ("png", "svg", "pdf")
MS_PER_MIN = 60_000
# Events drawn as vertical lines, in words a reader of the paper uses; one legend entry and one
# style (colour, line style) per kind of event, never shared with another entry.
EVENT_WORDS = {
    "ir": "infusion reaction (grade %s)",
    "ir_continue": "grade 2, not interrupted (operator's choice)",
    "ir_resolved": "reaction resolved",
    "discontinue": "discontinued (grade %s)",
    "complete": "250 mL infused",
    "stop": "stopped by the operator",
    "reboot": "board restarted",
    "fault": "fault: %s",
}
EVENT_STYLE = {"ir": ("tab:red", "--"), "ir_continue": ("tab:orange", (0, (5, 1))),
               "ir_resolved": ("tab:green", ":"), "discontinue": ("black", "-"),
               "complete": ("tab:blue", ":"), "stop": ("black", "-."),
               "reboot": ("tab:purple", (0, (3, 1, 1, 1, 1, 1))), "fault": ("tab:brown", ":")}
# The plotted series: (colour, line style, width).
RATE_STYLE, PLAN_STYLE = ("tab:blue", "-", 1.8), ("0.35", "--", 1.0)
VOLUME_STYLE, TARGET_STYLE = ("#1b7837", "-", 1.8), ("0.35", "-.", 1.0)
SPAN_WORDS = {"paused": ("paused", "0.85", None), "interrupted": ("interrupted (reaction)",
              "#f4c7c3", None), "off": ("board off", "#d9c8e8", "//")}
ALARM_WORDS = {"paused_long": "reminder: still paused", "ir_waiting": "reminder: waiting for"
               " the reaction to resolve", "near_end": "near the end", "complete": "complete",
               "fault": "fault alarm", "low_volume": "low volume left"}
ALARM_STYLES = (("tab:olive", "|"), ("tab:cyan", "x"), ("tab:pink", "+"), ("0.2", "1"),
                ("tab:gray", "2"), ("goldenrod", "3"))


def capture_dates(inf):
    """The dates the infusion's lines were received (host clock, UTC): "2026-12-07" or
    "2026-12-06 to 2026-12-07"; the header's start date where no line has a host time."""
    times = [inf.row.get("start_host_time"), inf.row.get("end_host_time")]
    if "host_time" in inf.records:
        times += [inf.records["host_time"].min(), inf.records["host_time"].max()]
    times = [t for t in times if t is not None and not pd.isna(t)]
    if times:
        first, last = min(times).date().isoformat(), max(times).date().isoformat()
        text = first if first == last else "%s to %s" % (first, last)
        if last > datetime.datetime.now(datetime.UTC).date().isoformat():
            text += " (after today: the host clock was wrong)"
        return text
    started = inf.captures["started"].dropna() if len(inf.captures) else []
    if len(started):
        return "capture started %s (no line has a host time)" % str(started.iloc[0])[:10]
    return "date unknown (no host times)"


def provenance(inf):
    """One line: where the data came from (board, firmware and calibration from the capture's
    hello or `id` reply, the dates its lines were received, the file) and when this was made."""
    rows = inf.captures
    if not len(rows):
        return "source: %s" % inf.source
    r = rows.iloc[0]
    made = datetime.datetime.now(datetime.UTC).date().isoformat()

    def known(key, fmt="%s"):
        return "?" if pd.isna(r[key]) else fmt % r[key]

    return "board %s, firmware %s, %s steps/mL, captured %s (%s); pumpctl report %s" % (
        known("board"), known("fw"), known("steps_per_ml"), capture_dates(inf),
        str(r["source"]).rsplit("/", 1)[-1], made)


def planned(infusion, regimen=DEFAULT_REGIMEN):
    """(t_min, rate mL/h) of the program with nothing happening, as a step function."""
    segs = preview.run(regimen, infusion)["segments"]
    t = [s[0] / MS_PER_MIN for s in segs] + [segs[-1][1] / MS_PER_MIN]
    rate = [s[3] / 1000 for s in segs] + [0.0]
    return t, rate


def delivered_text(inf):
    """The volume delivered to the step's precision: the last record's steps / steps per mL
    (decimals enough for one step) when that record has the final volume; else in uL."""
    row = inf.row
    spm = inf.captures["steps_per_ml"].dropna() if len(inf.captures) else []
    recs = inf.records
    if len(spm) and len(recs) and not pd.isna(recs["steps"].iloc[-1]):
        last_ul = recs["vol_ul"].iloc[-1]
        if pd.isna(row["delivered_ml"]) or int(last_ul) == round(row["delivered_ml"] * 1000):
            steps, per_ml = int(recs["steps"].iloc[-1]), int(spm.iloc[0])
            decimals = max(3, math.ceil(math.log10(per_ml)))
            grouped = format(steps, ",").replace(",", " ")
            return "%.*f mL (%s steps)" % (decimals, steps / per_ml, grouped)
    if pd.isna(row["delivered_ml"]):
        return "volume unknown"
    return "%.3f mL" % row["delivered_ml"]


def plot_infusion(inf):
    """The figure of one infusion: rate and volume against time since its start, paused,
    interrupted and board-off spans shaded (their lengths in the legend, never over the data),
    the planned program, the 250 mL target, events, repeated alarms grouped, and a provenance
    line. Every legend entry has its own style. Caller closes it."""
    rate, vol = series.rate_series(inf), series.volume_series(inf)
    row = inf.row
    fig, (ax_rate, ax_vol) = plt.subplots(2, 1, sharex=True, figsize=(10, 7.5),
                                          layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0, 1, 0.975))  # room for the provenance line
    t_end = max([0.0] + [float(s.max()) for s in (rate["t_min"], vol["t_min"]) if len(s)]
                + [float(t) / MS_PER_MIN for t in inf.events["t_rel_ms"]])
    colour, style, width = RATE_STYLE
    ax_rate.plot(rate["t_min"], rate["rate_ml_h"], drawstyle="steps-post", color=colour,
                 linestyle=style, linewidth=width, label="rate as run")
    t_plan, r_plan = planned(int(row["infusion"]))
    colour, style, width = PLAN_STYLE
    label = "planned program (no reaction, no pause)"
    if t_plan[-1] > t_end * 1.02:  # drawn up to the data's end; its own end said in words
        label += ", ends at %g min" % round(t_plan[-1], 1)
    ax_rate.plot(t_plan, r_plan, drawstyle="steps-post", color=colour, linestyle=style,
                 linewidth=width, label=label)
    colour, style, width = VOLUME_STYLE
    ax_vol.plot(vol["t_min"], vol["volume_ml"], color=colour, linestyle=style, linewidth=width,
                label="volume infused")
    colour, style, width = TARGET_STYLE
    target_ml = DEFAULT_REGIMEN.volume_ul / 1000
    ax_vol.axhline(target_ml, color=colour, linestyle=style, linewidth=width,
                   label="target %g mL" % target_ml)
    _spans(inf, ax_rate, ax_vol)
    _events(inf, ax_rate, ax_vol)
    _alarms(inf, ax_rate)
    outcome = {"complete": "complete", "stopped": "stopped early", "discontinued":
               "discontinued", "open": "still open when the log ends"}[row["outcome"]]
    subject = "" if pd.isna(row["subject"]) or row["subject"] == "" else "%s, " % row["subject"]
    ax_rate.set_title("%sinfusion %d: %s, %s, %s" % (
        subject, row["infusion"], outcome, _duration(row["duration_min"]), delivered_text(inf)),
        fontsize=10)
    ax_rate.set_ylabel("infusion rate (mL/h)")
    ax_vol.set_ylabel("volume infused (mL)")
    ax_vol.set_xlabel("time since the start of the infusion (min)")
    ax_rate.set_ylim(bottom=0)
    top = max(target_ml, float(vol["volume_ml"].max()) if len(vol) else 0.0)
    ax_vol.set_ylim(0, top * 1.08)
    ax_vol.set_xlim(0, max(t_end, 1.0) * 1.02)  # the data's span, from the start
    _legend(fig, (ax_rate, ax_vol))
    fig.text(0.01, 0.995, provenance(inf), fontsize=6, color="0.3", ha="left", va="top")
    return fig, rate, vol


def _duration(minutes):
    if minutes != minutes:
        return "duration unknown"
    return "%.1f min (%.2f h) including interruptions" % (minutes, minutes / 60)


def _spans(inf, ax_rate, ax_vol):
    """Shaded spans; one legend entry per kind with the length of each span."""
    lengths = {}
    for name, t0, t1 in series.spans(inf):
        words, colour, hatch = SPAN_WORDS[name]
        for ax in (ax_rate, ax_vol):
            ax.axvspan(t0, t1, facecolor=colour, alpha=0.6, linewidth=0, hatch=hatch,
                       edgecolor="0.5" if hatch else None, label="_" + name)
        lengths.setdefault(name, []).append(t1 - t0)
    for name, spans in lengths.items():
        words, _, _ = SPAN_WORDS[name]
        text = ", ".join("%.0f" % m for m in spans)
        label = "%s: %s min" % (words, text) if len(spans) == 1 else "%s (x%d): %s min" % (
            words, len(spans), text)
        for patch in ax_rate.patches:
            if patch.get_label() == "_" + name:
                patch.set_label(label)
                break


def _events(inf, ax_rate, ax_vol):
    """One vertical line per event; one legend entry per kind (its grades or names listed)."""
    args = {}
    for _, e in inf.events.iterrows():
        if e["event"] in EVENT_WORDS:
            arg = e["what"] if e["event"] == "fault" else e["grade"]
            args.setdefault(e["event"], [])
            if "%s" in EVENT_WORDS[e["event"]] and not pd.isna(arg) and arg not in args[
                    e["event"]]:
                args[e["event"]].append(arg)
    for name, seen in args.items():
        words = EVENT_WORDS[name]
        if "%s" in words:
            words = words % (", ".join(str(a) for a in seen) or "?")
        colour, style = EVENT_STYLE[name]
        at = inf.events.loc[inf.events["event"] == name, "t_rel_ms"] / MS_PER_MIN
        for k, t in enumerate(at):
            for ax in (ax_rate, ax_vol):
                ax.axvline(t, color=colour, linestyle=style, linewidth=1.2,
                           label=words if ax is ax_rate and k == 0 else None)


def _alarms(inf, ax_rate):
    """Repeated alarms of one kind as one row of ticks and one legend entry with the count."""
    alarms = inf.events[inf.events["event"] == "alarm"]
    for k, (what, part) in enumerate(alarms.groupby("what")):
        t = part["t_rel_ms"].to_numpy(float) / MS_PER_MIN
        words = ALARM_WORDS.get(what, str(what))
        label = "%s (x%d)" % (words, len(t)) if len(t) > 1 else words
        colour, marker = ALARM_STYLES[k % len(ALARM_STYLES)]
        ax_rate.plot(t, [1.0 - 0.04 * (k + 1)] * len(t), linestyle="none", marker=marker,
                     color=colour, markersize=7, transform=ax_rate.get_xaxis_transform(),
                     label=label)


def _legend(fig, axes):
    """One legend under the panels, inside the figure's width, each label once."""
    seen = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, h)
    if seen:
        fig.legend(seen.values(), seen.keys(), loc="outside lower center", fontsize=8,
                   frameon=False, ncols=2 if len(seen) > 3 else len(seen))


def save(fig, out_dir, stem, formats=FORMATS):
    """300 dpi PNG plus SVG and PDF; closes the figure; -> the paths."""
    paths = [out_dir / ("%s.%s" % (stem, fmt)) for fmt in formats]
    for path in paths:
        fig.savefig(path, dpi=DPI, metadata=_METADATA.get(path.suffix, {}))
    plt.close(fig)
    return paths


# No creation date in the files: the same data gives the same bytes (docs/figures is kept).
_METADATA = {".png": {"Software": None}, ".svg": {"Date": None}, ".pdf": {"CreationDate": None}}

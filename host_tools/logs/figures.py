"""Figures fit for a paper: one infusion's rate and volume, and the Fig. 2-like cohort chart."""

import datetime

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
# Events drawn as marked lines, in words a reader of the paper uses.
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
EVENT_STYLE = {"ir": ("tab:red", "--"), "ir_continue": ("tab:orange", "--"),
               "ir_resolved": ("tab:green", ":"), "discontinue": ("black", "-"),
               "complete": ("tab:blue", ":"), "stop": ("black", "-."),
               "reboot": ("tab:purple", "-."), "fault": ("tab:brown", ":")}
SPAN_WORDS = {"paused": ("paused", "0.85"), "interrupted": ("interrupted (reaction)", "#f4c7c3"),
              "off": ("board off", "#d9c8e8")}
ALARM_WORDS = {"paused_long": "reminder: still paused", "ir_waiting": "reminder: waiting for"
               " the reaction to resolve", "near_end": "near the end", "complete": "complete",
               "fault": "fault alarm", "low_volume": "low volume left"}


def provenance(inf):
    """One line: where the data came from (board, firmware, calibration, capture date)."""
    rows = inf.captures
    if not len(rows):
        return "source: %s" % inf.source
    r = rows.iloc[0]
    started = str(r["started"])[:10] if not pd.isna(r["started"]) else "unknown date"
    made = datetime.date.today().isoformat()
    cal = "%s steps/mL" % r["steps_per_ml"] if not pd.isna(r["steps_per_ml"]) else "steps/mL ?"
    return "board %s, firmware %s, %s, captured %s (%s); pumpctl report %s" % (
        r["board"] if not pd.isna(r["board"]) else "?", r["fw"] if not pd.isna(r["fw"]) else "?",
        cal, started, str(r["source"]).rsplit("/", 1)[-1], made)


def planned(infusion, regimen=DEFAULT_REGIMEN):
    """(t_min, rate mL/h) of the program with nothing happening, as a step function."""
    segs = preview.run(regimen, infusion)["segments"]
    t = [s[0] / MS_PER_MIN for s in segs] + [segs[-1][1] / MS_PER_MIN]
    rate = [s[3] / 1000 for s in segs] + [0.0]
    return t, rate


def plot_infusion(inf):
    """The figure of one infusion: rate and volume against time since its start, paused and
    interrupted spans shaded with their length, the planned program, the 250 mL target,
    events in a legend, repeated alarms grouped, a provenance line. Caller closes it."""
    rate, vol = series.rate_series(inf), series.volume_series(inf)
    row = inf.row
    fig, (ax_rate, ax_vol) = plt.subplots(2, 1, sharex=True, figsize=(10, 6),
                                          layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.03, 1, 0.97))  # room for the provenance line
    ax_rate.plot(rate["t_min"], rate["rate_ml_h"], drawstyle="steps-post", color="tab:blue",
                 label="rate as run")
    ax_vol.plot(vol["t_min"], vol["volume_ml"], color="tab:blue", label="volume infused")
    t_plan, r_plan = planned(int(row["infusion"]))
    ax_rate.plot(t_plan, r_plan, drawstyle="steps-post", color="0.4", linestyle="--",
                 linewidth=1, label="planned program (no reaction, no pause)")
    ax_vol.axhline(DEFAULT_REGIMEN.volume_ul / 1000, color="0.4", linestyle="--", linewidth=1,
                   label="target %g mL" % (DEFAULT_REGIMEN.volume_ul / 1000))
    for k, (name, t0, t1) in enumerate(series.spans(inf)):
        words, colour = SPAN_WORDS[name]
        for ax in (ax_rate, ax_vol):
            ax.axvspan(t0, t1, color=colour, alpha=0.6, linewidth=0,
                       label=words if ax is ax_rate else None)
        height = 0.97 - 0.16 * (k % 2)  # neighbouring spans' labels on two rows
        ax_rate.annotate("%s\n%.0f min" % (words.split(" (")[0], t1 - t0), ((t0 + t1) / 2, height),
                         xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8,
                         bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.8})
    _events(inf, ax_rate, ax_vol)
    _alarms(inf, ax_rate)
    _legend(fig, (ax_rate, ax_vol))
    outcome = {"complete": "complete", "stopped": "stopped early", "discontinued":
               "discontinued", "open": "still open when the log ends"}[row["outcome"]]
    subject = "" if pd.isna(row["subject"]) or row["subject"] == "" else "%s, " % row["subject"]
    ax_rate.set_title("%sinfusion %d: %s, %s, %.1f mL" % (
        subject, row["infusion"], outcome, _duration(row["duration_min"]), row["delivered_ml"]))
    ax_rate.set_ylabel("infusion rate (mL/h)")
    ax_vol.set_ylabel("volume infused (mL)")
    ax_vol.set_xlabel("time since the start of the infusion (min)")
    ax_rate.set_ylim(bottom=0)
    ax_vol.set_ylim(0, DEFAULT_REGIMEN.volume_ul / 1000 * 1.08)
    fig.text(0.01, 0.002, provenance(inf), fontsize=6, color="0.3", ha="left", va="bottom")
    return fig, rate, vol


def _duration(minutes):
    if minutes != minutes:
        return "duration unknown"
    return "%.1f min (%.2f h) including interruptions" % (minutes, minutes / 60)


def _events(inf, ax_rate, ax_vol):
    for _, e in inf.events.iterrows():
        name = e["event"]
        if name not in EVENT_WORDS:
            continue
        words = EVENT_WORDS[name]
        if "%s" in words:
            arg = e["what"] if name == "fault" else e["grade"]
            words = words % ("?" if pd.isna(arg) else arg)
        colour, style = EVENT_STYLE[name]
        t = e["t_rel_ms"] / MS_PER_MIN
        for ax in (ax_rate, ax_vol):
            ax.axvline(t, color=colour, linestyle=style, linewidth=1.2,
                       label=words if ax is ax_rate else None)


def _alarms(inf, ax_rate):
    """Repeated alarms of one kind as one row of ticks and one legend entry with the count."""
    alarms = inf.events[inf.events["event"] == "alarm"]
    for k, (what, part) in enumerate(alarms.groupby("what")):
        t = part["t_rel_ms"].to_numpy(float) / MS_PER_MIN
        words = ALARM_WORDS.get(what, str(what))
        label = "%s (x%d)" % (words, len(t)) if len(t) > 1 else words
        ax_rate.plot(t, [1.0 - 0.04 * (k + 1)] * len(t), linestyle="none", marker="|",
                     markersize=7, transform=ax_rate.get_xaxis_transform(), label=label)


def _legend(fig, axes):
    """One legend beside the panels, each label once."""
    seen = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, h)
    if seen:
        fig.legend(seen.values(), seen.keys(), loc="outside right upper", fontsize=8,
                   frameon=False)


def plot_fig2(groups):
    """Fig. 2-like: median duration (h) by infusion 1, 2, 3+, one bar per group.
    groups: [(name, cohort table from cohortstats.cohort())]."""
    labels = ["1", "2", "3+"]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    width = 0.8 / max(1, len(groups))
    for k, (name, stats) in enumerate(groups):
        by = stats.set_index("infusion_group")
        xs = [i + (k - (len(groups) - 1) / 2) * width for i in range(len(labels))]
        heights = [by.loc[g, "median_h"] if g in by.index else 0 for g in labels]
        bars = ax.bar(xs, heights, width * 0.95, label=name)
        for bar, h, g in zip(bars, heights, labels, strict=True):
            if g in by.index:
                ax.annotate("%.2f" % h, (bar.get_x() + bar.get_width() / 2, h), ha="center",
                            va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(labels)), ["Infusion %s" % g for g in labels])
    ax.set_ylabel("Median duration (hours)")
    ax.set_title("Duration of infusion by infusion number")
    ax.legend(fontsize=8)
    ax.set_ylim(0, max(4.0, ax.get_ylim()[1]))
    return fig


def save(fig, out_dir, stem):
    """300 dpi PNG plus SVG and PDF; closes the figure; -> the paths."""
    paths = [out_dir / ("%s.%s" % (stem, fmt)) for fmt in FORMATS]
    for path in paths:
        fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return paths

"""The paper's Fig. 2 (two panels, Part A and Part B) beside a table's, and duration plots."""

# Input: a summary table (INFUSION_COLUMNS, docs/logs.md) with optional columns `part` ('A' or
# 'B'; absent: every row is Part B, the fixed-volume arm this pump runs) and `replicate`
# (simulated cohorts). Patients are distinct (replicate, subject) pairs. A part without rows is
# drawn with the paper's values only, and says so.
import math
import warnings

import numpy as np
import pandas as pd

from host_tools.logs import cohortstats
from host_tools.logs.figures import plt

# Fig. 2 of the seed paper: median duration (h), N = patients; Part B's ranges from Results
# (222 min, range 60-366; 111, 90-234; 75, 48-204). The paper gives no range for Part A.
PAPER_N = {"A": 31, "B": 47}
PAPER_MEDIAN_H = {"A": {"1": 3.30, "2+": 2.90}, "B": {"1": 3.70, "2": 1.85, "3+": 1.25}}
PAPER_RANGE_H = {"B": {"1": (60 / 60, 366 / 60), "2": (90 / 60, 234 / 60),
                       "3+": (48 / 60, 204 / 60)}}
PANEL_TITLE = {"A": "Part A (10 mg/kg; N = 31)\nweight-based volume, rate in mg/h",
               "B": "Part B (10 mg/kg; N = 47)\nfixed volume 250 mL, rate in mL/h"}
TOOL_COLOUR = {"A": "#d95f02", "B": "#1b9e77"}
WHISKERS = ("range", "iqr")


def group_of(part, infusion):
    """Infusion number -> its bar in the paper's Fig. 2: Part A 1, 2+; Part B 1, 2, 3+."""
    if part == "A":
        return "1" if infusion == 1 else "2+"
    return str(infusion) if infusion < 3 else "3+"


def with_parts(table):
    """The usable rows (open ones left out with a LeftOutWarning), with `part` and `group`."""
    done, _ = cohortstats.usable(table, "Fig. 2")
    part = done["part"].fillna("B").astype(str) if "part" in done else pd.Series(
        "B", index=done.index)
    done = done.assign(part=part.to_numpy())
    done["group"] = [group_of(p, int(n)) for p, n in zip(done["part"], done["infusion"],
                                                         strict=True)]
    return done


def patients(rows):
    """Distinct patients: (replicate, subject) pairs, or capture files without subjects."""
    subject = rows["subject"].where(rows["subject"].notna() & rows["subject"].ne(""),
                                    rows["source"])
    rep = rows["replicate"].astype(str) if "replicate" in rows else ""
    return (rep + "/" + subject.astype(str)).nunique() if len(rows) else 0


def fig2_stats(table, whiskers="range"):
    """One row per Fig. 2 bar: part, group, n (infusions), patients, median_h, lo_h, hi_h
    (whiskers: range = min-max, iqr = 25th-75th percentile), and the paper's values."""
    if whiskers not in WHISKERS:
        raise ValueError("whiskers: one of %s" % ", ".join(WHISKERS))
    done = with_parts(table)
    rows = []
    for part, groups in PAPER_MEDIAN_H.items():
        for group, paper_h in groups.items():
            hours = done.loc[(done["part"] == part) & (done["group"] == group), "duration_h"]
            lo, hi = ((hours.min(), hours.max()) if whiskers == "range" else
                      (hours.quantile(0.25), hours.quantile(0.75))) if len(hours) else (
                math.nan, math.nan)
            paper_lo, paper_hi = PAPER_RANGE_H.get(part, {}).get(group, (math.nan, math.nan))
            rows.append({"part": part, "group": group, "n": len(hours),
                         "patients": patients(done[(done["part"] == part)
                                                   & (done["group"] == group)]),
                         "median_h": hours.median() if len(hours) else math.nan,
                         "lo_h": lo, "hi_h": hi, "paper_median_h": paper_h,
                         "paper_min_h": paper_lo, "paper_max_h": paper_hi})
    return pd.DataFrame(rows)


def kind_of(simulated):
    """How the data were made, as the figures say it: True -> simulated, a text as given."""
    if isinstance(simulated, str):
        return simulated
    return "simulated" if simulated else "measured"


def plot_fig2(table, label, simulated, whiskers="range"):
    """Fig. 2 as the paper draws it: two panels (Part A: infusion 1, 2+; Part B: 1, 2, 3+),
    median bars, the paper's bar beside each of the table's, whiskers (the table's range or
    IQR; the paper's range where it gives one), n in the legend and under each bar."""
    stats = fig2_stats(table, whiskers)
    kind = kind_of(simulated)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.8), sharey=True, layout="constrained",
                             gridspec_kw={"width_ratios": [2, 3]})
    top = np.nanmax(stats[["median_h", "hi_h", "paper_median_h", "paper_max_h"]].to_numpy(
        float))
    width = 0.38
    handles = {}
    for ax, part in zip(axes, ("A", "B"), strict=True):
        part_rows = stats[stats["part"] == part].reset_index(drop=True)
        xs = np.arange(len(part_rows))
        paper = ax.bar(xs - width / 2, part_rows["paper_median_h"], width, color="0.8",
                       edgecolor="black", linewidth=0.6, hatch="//")
        handles["paper"] = paper
        has_range = part_rows["paper_min_h"].notna()
        if has_range.any():
            err = ax.errorbar((xs - width / 2)[has_range], part_rows.loc[has_range,
                              "paper_median_h"], yerr=_yerr(part_rows[has_range], "paper_min_h",
                                                            "paper_max_h"),
                              fmt="none", ecolor="black", capsize=3, linewidth=0.8)
            handles["paper range"] = err
        have = part_rows["n"] > 0
        if have.any():
            bars = ax.bar((xs + width / 2)[have], part_rows.loc[have, "median_h"], width,
                          color=TOOL_COLOUR[part], edgecolor="black", linewidth=0.6)
            handles["tool " + part] = (bars, int(part_rows.loc[have, "n"].sum()),
                                       patients(_rows_of(table, part)))
            ax.errorbar((xs + width / 2)[have], part_rows.loc[have, "median_h"],
                        yerr=_yerr(part_rows[have], "lo_h", "hi_h"), fmt="none",
                        ecolor="0.15", capsize=3, linewidth=0.8)
        else:
            ax.text(0.5, 0.97, "no Part %s rows: the paper's values only" % part,
                    transform=ax.transAxes, ha="center", va="top", fontsize=8, color="0.3")
        ax.set_xticks(xs, [_tick(r) for _, r in part_rows.iterrows()], fontsize=8)
        ax.set_title(PANEL_TITLE[part], fontsize=9)
        ax.set_xlim(-0.6, len(part_rows) - 0.4)
    axes[0].set_ylabel("Median duration (hours)")
    axes[0].set_ylim(0, max(4.0, top * 1.12))
    labels, shown = [], []
    labels.append("paper, Fig. 2 (N = %d + %d patients)" % (PAPER_N["A"], PAPER_N["B"]))
    shown.append(handles["paper"])
    if "paper range" in handles:
        labels.append("paper's range (Part B, Results)")
        shown.append(handles["paper range"])
    for part in ("A", "B"):
        if "tool " + part in handles:
            bars, n, pats = handles["tool " + part]
            labels.append("%s, %s, Part %s: %s, %s; whiskers %s" % (
                label, kind, part, _plural(n, "infusion"), _plural(pats, "patient"),
                "min-max" if whiskers == "range" else "IQR"))
            shown.append(bars)
    fig.legend(shown, labels, loc="outside lower center", fontsize=7.5, frameon=False,
               ncols=1)
    fig.suptitle("Duration of isatuximab infusion by infusion number: the paper's Fig. 2 and "
                 "%s (%s)" % (label, kind), fontsize=10)
    return fig


def _rows_of(table, part):
    done = with_parts(table) if len(table) else table
    return done[done["part"] == part]


def _yerr(rows, lo, hi):
    med = rows["median_h" if lo == "lo_h" else "paper_median_h"].to_numpy(float)
    return np.vstack([med - rows[lo].to_numpy(float), rows[hi].to_numpy(float) - med])


def _tick(r):
    """A bar pair's label: the group, the two medians (paper | table), n."""
    if not r["n"]:
        return "Infusion %s\npaper %.2f h" % (r["group"], r["paper_median_h"])
    return "Infusion %s\npaper %.2f | %.2f h\nn = %d" % (r["group"], r["paper_median_h"],
                                                       r["median_h"], r["n"])


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def plot_durations(table, label, simulated):
    """Box plots of durations by infusion (Fig. 2's bars; box = IQR, whiskers = min-max, every
    infusion a dot) beside the paper's median and range, and the ECDF of each group."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cohortstats.LeftOutWarning)
        done = with_parts(table)
    kind = kind_of(simulated)
    fig, (ax_box, ax_cdf) = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
    order = [(p, g) for p, groups in PAPER_MEDIAN_H.items() for g in groups]
    data = [done.loc[(done["part"] == p) & (done["group"] == g), "duration_h"].to_numpy(float)
            for p, g in order]
    xs = np.arange(len(order))
    present = [k for k, d in enumerate(data) if len(d)]
    if present:
        ax_box.boxplot([data[k] for k in present], positions=xs[present], widths=0.5,
                       whis=(0, 100), showfliers=False, medianprops={"color": "black"},
                       label="%s, %s: box IQR, whiskers min-max" % (label, kind))
        rng = np.random.default_rng(0)
        for k in present:
            jitter = rng.uniform(-0.12, 0.12, len(data[k]))
            ax_box.plot(xs[k] + jitter, data[k], linestyle="none", marker="o", markersize=2,
                        alpha=0.35, color=TOOL_COLOUR[order[k][0]],
                        label="one infusion (Part %s)" % order[k][0])
    paper_x = xs + 0.32
    ax_box.plot(paper_x, [PAPER_MEDIAN_H[p][g] for p, g in order], linestyle="none",
                marker="D", color="black", markersize=5, label="paper's median (Fig. 2)")
    ranged = [k for k, (p, g) in enumerate(order) if g in PAPER_RANGE_H.get(p, {})]
    ax_box.vlines(paper_x[ranged], [PAPER_RANGE_H[order[k][0]][order[k][1]][0] for k in ranged],
                  [PAPER_RANGE_H[order[k][0]][order[k][1]][1] for k in ranged], color="black",
                  linestyle=":", label="paper's range (Part B, Results)")
    ax_box.set_xticks(xs, ["%s: %s\n(n = %d)" % (p, g, len(d)) for (p, g), d in
                           zip(order, data, strict=True)], fontsize=8)
    ax_box.set_xlim(-0.6, len(order) - 0.3)
    ax_box.set_ylabel("Duration of infusion (hours)")
    ax_box.set_xlabel("Part: infusion")
    ax_box.set_ylim(bottom=0)
    styles = ("-", "--", ":", "-.", (0, (5, 1)))
    for k, (p, g) in enumerate(order):
        d = np.sort(data[k])
        if not len(d):
            continue
        ax_cdf.ecdf(d, color=TOOL_COLOUR[p], linestyle=styles[k % len(styles)],
                    label="ECDF, Part %s, infusion %s (n = %d)" % (p, g, len(d)))
    ax_cdf.set_xlabel("Duration of infusion (hours)")
    ax_cdf.set_ylabel("Fraction of infusions at or under")
    ax_cdf.set_ylim(0, 1.02)
    ax_cdf.set_xlim(0, max(ax_box.get_ylim()[1], 1.0))
    keep = {}
    for ax in (ax_box, ax_cdf):
        for h, text in zip(*ax.get_legend_handles_labels(), strict=True):
            keep.setdefault(text, h)
    fig.legend(keep.values(), keep.keys(), fontsize=7, loc="outside lower center", ncols=2,
               frameon=False)
    fig.suptitle("Durations by infusion number, %s (%s), beside the paper" % (label, kind),
                 fontsize=10)
    return fig

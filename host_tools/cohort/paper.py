"""The seed paper's figures, and a simulated cohort beside them (medians, ranges, per patient)."""

import warnings

import numpy as np
import pandas as pd

from host_tools.cohort.patient import nominal_min
from host_tools.logs import cohortstats

# Results, Safety and Table 1 (durations in min: 3.7 h (222 min; range 60-366), 1.85 h (111;
# 90-234), 1.25 h (75; 48-204)).
DURATIONS = {"1": (222, 60, 366), "2": (111, 90, 234), "3+": (75, 48, 204)}
PER_PATIENT = {"patients": 47, "infusions": 871, "patients_with_ir": 19, "ir_episodes": 20,
               "patients_interrupted": 18, "patients_not_interrupted": 1}
_FIRST = {"1": 1, "2": 2, "3+": 3}


def by_cohort(table):
    """Median, min and max duration (min) by infusion group, per simulated cohort (replicate)."""
    rows = []
    for replicate, part in table.groupby("replicate"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cohortstats.LeftOutWarning)
            stats = cohortstats.cohort(part)
        for _, r in stats.iterrows():
            rows.append({"replicate": replicate, "infusion_group": r["infusion_group"],
                         "median_min": r["median_min"], "min_min": r["min_min"],
                         "max_min": r["max_min"], "n": r["n"]})
    return pd.DataFrame(rows)


def beside_paper(table):
    """One row per infusion group: the paper's median and range, and the simulated cohorts'
    (the median over cohorts, with the 2.5-97.5 % interval over cohorts)."""
    per = by_cohort(table)
    rows = []
    for group, (median, lo, hi) in DURATIONS.items():
        part = per[per["infusion_group"] == group]
        row = {"infusion_group": group, "paper_median_min": median, "paper_min_min": lo,
               "paper_max_min": hi, "fastest_250ml_min": nominal_min(_FIRST[group]),
               "cohorts": len(part)}
        for what in ("median", "min", "max"):
            values = part["%s_min" % what].to_numpy(float)
            row["sim_%s_min" % what] = float(np.median(values)) if len(values) else np.nan
            row["sim_%s_lo" % what], row["sim_%s_hi" % what] = (
                np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def impossible(side):
    """The paper's figures no protocol-following 250 mL infusion can produce, and why."""
    out = []
    for _, r in side.iterrows():
        if r["paper_min_min"] < r["fastest_250ml_min"]:
            out.append(
                "infusion %s: the paper's shortest, %g min, is below %g min, the fastest a "
                "complete 250 mL infusion %s can run under this protocol (every step on time, "
                "no reaction, no pause): only a dose stopped before 250 mL (or a wrongly "
                "recorded time) is that short." % (r["infusion_group"], r["paper_min_min"],
                                                   r["fastest_250ml_min"], r["infusion_group"]))
    return out


def text(side, patients, label="simulated"):
    """The comparison as lines for a terminal."""
    lines = ["%-11s %-22s %-36s %s" % ("infusion", "paper: median (range)",
                                       label + ": median (range)", "cohorts' medians, 95 %")]
    for _, r in side.iterrows():
        lines.append("%-11s %-22s %-36s %s" % (
            r["infusion_group"],
            "%g min (%g-%g)" % (r["paper_median_min"], r["paper_min_min"], r["paper_max_min"]),
            _minutes(r["sim_median_min"], r["sim_min_min"], r["sim_max_min"]),
            _minutes(None, r["sim_median_lo"], r["sim_median_hi"])))
    lines.append("")
    lines.append("per patient            paper       %s (per cohort, median)" % label)
    for key, paper_value in PER_PATIENT.items():
        lines.append("  %-20s %-11s %s" % (key.replace("_", " "), paper_value, patients[key]))
    return lines


def _minutes(median, lo, hi):
    """"223 min (141-374)", "141-374", or "no infusion" where the group has none (never nan)."""
    if lo != lo or hi != hi or (median is not None and median != median):
        return "no infusion"
    span = "%.0f-%.0f" % (lo, hi)
    return span if median is None else "%.0f min (%s)" % (median, span)


def per_patient_by_cohort(table):
    """cohortstats.per_patient() per cohort, and the median over cohorts of each figure."""
    rows = [cohortstats.per_patient(part) for _, part in table.groupby("replicate")]
    frame = pd.DataFrame(rows)
    return {k: (float(frame[k].median()) if k in frame else np.nan) for k in frame.columns}

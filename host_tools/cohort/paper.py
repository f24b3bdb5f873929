"""The seed paper's figures, and a simulated cohort beside them (medians, ranges, per patient)."""

import math
import warnings

import numpy as np
import pandas as pd

from host_tools.cohort.patient import nominal_min
from host_tools.logs import cohortstats, patients

# Results, Safety (also Fig. 2 and Table 2's Part B column, in hours): the median duration
# of infusion 1 is 3.7 h (222 min; range 60-366), infusion 2 1.85 h (111; 90-234), 3+
# 1.25 h (75; 48-204). The paper's population is "all treated" (Methods: "at least one dose
# (even incomplete)"), so the comparisons here count incomplete infusions too.
DURATIONS = {"1": (222, 60, 366), "2": (111, 90, 234), "3+": (75, 48, 204)}
# Results, Patients (47) and Safety (871 infusions; IRs in 19 patients, 20 episodes,
# interrupted in 18, not in 1).
PER_PATIENT = {"patients": 47, "infusions": 871, "patients_with_ir": 19, "ir_episodes": 20,
               "patients_interrupted": 18, "patients_not_interrupted": 1}
# Table 2 (Part A N=31, Part B N=47: median h; two-sided Mann-Whitney U p, "<" a bound).
TABLE2 = (("1st", 3.32, 3.70, "0.0007"), ("2nd", 2.88, 1.85, "<0.0001"),
          ("3rd", 2.89, 1.25, "<0.0001"), ("4th", 2.71, 1.25, "<0.0001"),
          ("5th", 2.67, 1.25, "<0.0001"), ("6th", 2.81, 1.25, "<0.0001"),
          ("≥2nd", 2.87, 1.25, "<0.0001"), ("≥3rd", 2.87, 1.25, "<0.0001"))
# Fig. 2's bars (median h): Part A infusion 1, 2+; Part B infusion 1, 2, 3+.
FIG2 = {"A": (("1", 3.30), ("2+", 2.90)), "B": (("1", 3.70), ("2", 1.85), ("3+", 1.25))}
_FIRST = {"1": 1, "2": 2, "3+": 3}


def by_cohort(table):
    """Median, min and max duration (min) by infusion group, per simulated cohort (replicate),
    incomplete infusions included as in the paper's population."""
    rows = []
    for replicate, part in table.groupby("replicate"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cohortstats.LeftOutWarning)
            stats = cohortstats.cohort(part, incomplete=True)
        for _, r in stats.iterrows():
            rows.append({"replicate": replicate, "infusion_group": r["infusion_group"],
                         "median_min": r["median_min"], "min_min": r["min_min"],
                         "max_min": r["max_min"], "n": r["n"]})
    return pd.DataFrame(rows)


def beside_paper(table, n_boot=1000):
    """One row per infusion group: the paper's median and range, and the simulated cohorts'
    (the median over cohorts, with the 2.5-97.5 % interval over cohorts). One cohort (or
    captures): the median's interval is a bootstrap by patient, the range has none."""
    per = by_cohort(table)
    one = per["replicate"].nunique() <= 1
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
                np.percentile(values, [2.5, 97.5]) if len(values) > 1 else (np.nan, np.nan))
        row["interval"] = "over cohorts" if not one else "bootstrap by patient"
        if one and len(part):
            row["sim_median_lo"], row["sim_median_hi"] = _boot(table, group, n_boot)
        rows.append(row)
    return pd.DataFrame(rows)


def _boot(table, group, n_boot):
    ended = table[table["outcome"].ne("open") & table["duration_min"].notna()]
    pick = ended[[cohortstats.infusion_group(int(n)) == group for n in ended["infusion"]]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", patients.SmallSampleWarning)
        _, lo, hi = patients.bootstrap_median(patients.by_patient(pick, "duration_min"),
                                              n_boot=n_boot, seed=0)
    return lo, hi


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


def _m(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else "%.0f" % x


def text(side, per_patient, label="simulated"):
    """The comparison as lines for a terminal (minutes throughout; '-' where there is no
    value, never 'nan')."""
    how = side["interval"].iloc[0] if len(side) else ""
    head = "median's 95 % interval" + (" (%s)" % how if how else "")
    lines = ["%-11s %-22s %-36s %s" % ("infusion", "paper: median (range)",
                                       label + ": median (range)", head)]
    for _, r in side.iterrows():
        lines.append("%-11s %-22s %-36s %s" % (
            r["infusion_group"],
            "%g min (%g-%g)" % (r["paper_median_min"], r["paper_min_min"], r["paper_max_min"]),
            _minutes(r["sim_median_min"], r["sim_min_min"], r["sim_max_min"]),
            "%s-%s" % (_m(r["sim_median_lo"]), _m(r["sim_median_hi"]))
            if not math.isnan(r["sim_median_lo"]) else "- (too few patients)"))
    lines.append("")
    lines.append("per patient            paper       %s (per cohort, median)" % label)
    for key, paper_value in PER_PATIENT.items():
        lines.append("  %-20s %-11s %s" % (key.replace("_", " "), paper_value,
                                           _fmt(per_patient.get(key))))
    return lines


def _fmt(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "%g" % x


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

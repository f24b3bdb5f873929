"""Cohort statistics on summary tables: medians by infusion, Table 2, per-patient IR figures."""

import math
import warnings

import pandas as pd
from scipy import stats

TABLE2_ROWS = (("1st", 1, 1), ("2nd", 2, 2), ("3rd", 3, 3), ("4th", 4, 4), ("5th", 5, 5),
               ("6th", 6, 6), ("≥2nd", 2, None), ("≥3rd", 3, None))


class LeftOutWarning(UserWarning):
    """Infusions a statistic could not use (open, or no duration): named, never silently."""


def infusion_group(number, lump_from=3):
    """Infusion number -> its label in the paper's tables: "1", "2", "3+"."""
    if lump_from is not None and number >= lump_from:
        return "%d+" % lump_from
    return str(number)


def usable(table, what="statistics"):
    """(rows with a duration, rows left out). Left-out rows are announced with a warning that
    names them (open infusions, and ended ones whose start was never found)."""
    ok = table["outcome"].ne("open") & table["duration_min"].notna()
    left = table[~ok]
    if len(left):
        names = ", ".join("%s #%s (infusion %s, %s)" % (
            _short(r["source"]), r["index"], r["infusion"], r["outcome"])
            for _, r in left.head(8).iterrows())
        more = " and %d more" % (len(left) - 8) if len(left) > 8 else ""
        warnings.warn("%d infusion(s) left out of the %s, no duration: %s%s"
                      % (len(left), what, names, more), LeftOutWarning, stacklevel=3)
    return table[ok].copy(), left


def _short(source):
    return str(source).rsplit("/", 1)[-1]


def _ended(table, lump_from, what):
    done, _ = usable(table, what)
    done["infusion_group"] = [infusion_group(int(n), lump_from) for n in done["infusion"]]
    return done


def cohort(table, lump_from=3):
    """Median and range of durations by infusion number (open infusions left out, with a
    LeftOutWarning), e.g. infusion 1: "3.7 h (range 1.0-6.1)" as in the paper's Results."""
    rows = []
    done = _ended(table, lump_from, "cohort medians")
    for label, part in sorted(done.groupby("infusion_group"), key=lambda kv: _order(kv[0])):
        hours = part["duration_h"]
        rows.append({
            "infusion_group": label, "n": len(part), "median_h": hours.median(),
            "min_h": hours.min(), "max_h": hours.max(),
            "median_min": part["duration_min"].median(),
            "min_min": part["duration_min"].min(), "max_min": part["duration_min"].max(),
            "text": "%.1f h (range %.1f-%.1f)" % (hours.median(), hours.min(), hours.max()),
        })
    return pd.DataFrame(rows, columns=["infusion_group", "n", "median_h", "min_h", "max_h",
                                       "median_min", "min_min", "max_min", "text"])


def _order(label):
    return int(label.rstrip("+")), label.endswith("+")


def _mwu(xa, xb):
    if len(xa) and len(xb):
        res = stats.mannwhitneyu(xa, xb, alternative="two-sided")
        return float(res.statistic), float(res.pvalue)
    return math.nan, math.nan


def compare(table_a, table_b, lump_from=3):
    """Two-sided Mann-Whitney U test of durations, group A vs B, per infusion group
    (the paper's Table 2: weight-based vs fixed-volume infusions)."""
    a, b = _ended(table_a, lump_from, "comparison"), _ended(table_b, lump_from, "comparison")
    rows = []
    labels = sorted(set(a["infusion_group"]) | set(b["infusion_group"]), key=_order)
    for label in labels:
        xa = a.loc[a["infusion_group"] == label, "duration_h"]
        xb = b.loc[b["infusion_group"] == label, "duration_h"]
        u, p = _mwu(xa, xb)
        rows.append({"infusion_group": label, "n_a": len(xa), "n_b": len(xb),
                     "median_a_h": xa.median(), "median_b_h": xb.median(),
                     "u_statistic": u, "p_value": p})
    return pd.DataFrame(rows)


def n_patients(table):
    """Subjects in a table (distinct subject IDs; without any, distinct capture files)."""
    subjects = table["subject"].dropna()
    subjects = subjects[subjects != ""]
    return subjects.nunique() if len(subjects) else table["source"].nunique()


def table2(table_b, table_a=None):
    """The paper's Table 2: median duration (h) by infusion 1st-6th, >=2nd, >=3rd, for group B
    (and A beside it with a two-sided Mann-Whitney U p-value when given)."""
    groups = {"b": _ended(table_b, None, "Table 2")}
    if table_a is not None:
        groups["a"] = _ended(table_a, None, "Table 2")
    rows = []
    for label, lo, hi in TABLE2_ROWS:
        row = {"infusion": label + " Infusion"}
        picked = {}
        for key, done in groups.items():
            sel = done["infusion"] >= lo
            if hi is not None:
                sel &= done["infusion"] <= hi
            picked[key] = done.loc[sel, "duration_h"]
            row["n_%s" % key] = len(picked[key])
            row["median_%s_h" % key] = picked[key].median()
        if table_a is not None:
            row["u_statistic"], row["p_value"] = _mwu(picked["a"], picked["b"])
        rows.append(row)
    return pd.DataFrame(rows)


def p_text(p):
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    return "<0.0001" if p < 0.0001 else "%.4f" % p


def table2_markdown(t2, name_b, n_b, name_a=None, n_a=None):
    """Table 2 as Markdown, in the paper's layout (medians in hours, two decimals)."""
    head = ["Median duration of infusion, h"]
    if name_a is not None:
        head.append("%s N=%d" % (name_a, n_a))
    head.append("%s N=%d" % (name_b, n_b))
    if name_a is not None:
        head.append("Two-sided p-value (Mann-Whitney U)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in t2.iterrows():
        cells = [r["infusion"]]
        if name_a is not None:
            cells.append(_h(r["median_a_h"]))
        cells.append(_h(r["median_b_h"]))
        if name_a is not None:
            cells.append(p_text(r["p_value"]))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Duration: from the start of the infusion to its end, interruptions included.")
    return "\n".join(lines) + "\n"


def _h(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else "%.2f" % x


def per_patient(table):
    """The paper's per-patient safety figures (Results, Safety) from a summary table."""
    by = table.assign(subject=table["subject"].fillna(table["source"]))
    patients = by["subject"].nunique()
    with_ir = by[by["n_ir"] > 0]
    interrupted = by[by["n_interruptions"] > 0]
    not_interrupted = by[by["n_ir_continued"] > 0]
    episodes = int(by["n_ir"].sum())
    infusions = len(by)
    first_only = with_ir["infusion"].eq(1).all() if len(with_ir) else True
    return {
        "patients": patients,
        "infusions": infusions,
        "patients_with_ir": with_ir["subject"].nunique(),
        "patients_with_ir_pct": 100 * with_ir["subject"].nunique() / patients if patients else 0,
        "ir_episodes": episodes,
        "ir_episodes_per_infusions_pct": 100 * episodes / infusions if infusions else 0,
        "patients_interrupted": interrupted["subject"].nunique(),
        "patients_not_interrupted": not_interrupted["subject"].nunique(),
        "max_ir_grade": int(by["max_ir_grade"].max()) if infusions else 0,
        "irs_only_in_infusion_1": bool(first_only),
        "infusions_per_patient_median": by.groupby("subject").size().median(),
    }

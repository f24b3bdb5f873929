"""Cohort statistics on summary tables: medians by infusion, Table 2, per-patient IR figures."""

import math
import warnings

import numpy as np
import pandas as pd

from host_tools.logs.patients import (
    MIN_PATIENTS_FOR_TEST,
    SmallSampleWarning,
    counts,
    mann_whitney,
    patient_key,
    patient_medians,
)

TABLE2_ROWS = (("1st", 1, 1), ("2nd", 2, 2), ("3rd", 3, 3), ("4th", 4, 4), ("5th", 5, 5),
               ("6th", 6, 6), ("≥2nd", 2, None), ("≥3rd", 3, None))


class LeftOutWarning(UserWarning):
    """Infusions a statistic could not use (open, or no duration) or kept out (incomplete:
    stopped or discontinued before the whole volume): named, never silently."""


def infusion_group(number, lump_from=3):
    """Infusion number -> its label in the paper's tables: "1", "2", "3+"."""
    if lump_from is not None and number >= lump_from:
        return "%d+" % lump_from
    return str(number)


def usable(table, what="statistics", incomplete=False):
    """(rows used, rows left out). Used: complete infusions (the whole volume infused), or with
    incomplete=True every ended one with a duration (the paper's "all treated", which counts
    incomplete doses). Left-out rows are announced with a warning that names them: a stopped
    5-second test infusion must not enter a median as 0.00 h unless asked for."""
    ended = table["outcome"].ne("open") & table["duration_min"].notna()
    ok = ended if incomplete else ended & table["outcome"].eq("complete")
    left = table[~ok]
    if len(left):
        names = ", ".join("%s #%s (infusion %s, %s)" % (
            _short(r["source"]), r["index"], r["infusion"], r["outcome"])
            for _, r in left.head(8).iterrows())
        more = " and %d more" % (len(left) - 8) if len(left) > 8 else ""
        why = "no duration or incomplete (include incomplete ones on request)" \
            if not incomplete else "no duration"
        warnings.warn("%d infusion(s) left out of the %s, %s: %s%s"
                      % (len(left), what, why, names, more), LeftOutWarning, stacklevel=3)
    return table[ok].copy(), left


def _short(source):
    return str(source).rsplit("/", 1)[-1]


def _ended(table, lump_from, what, incomplete=False):
    done, _ = usable(table, what, incomplete)
    done["infusion_group"] = [infusion_group(int(n), lump_from) for n in done["infusion"]]
    return done


def hours_text(median, lo, hi):
    """'1.85 h (range 1.50-3.90)': two decimals throughout, as the paper's Table 2."""
    return "%.2f h (range %.2f-%.2f)" % (median, lo, hi)


def cohort(table, lump_from=3, incomplete=False):
    """Median and range of durations by infusion number (complete infusions unless
    incomplete=True; the others left out with a LeftOutWarning), e.g. infusion 1:
    "3.70 h (range 1.00-6.10)"; n counts infusions, patients counts patients."""
    rows = []
    done = _ended(table, lump_from, "cohort medians", incomplete)
    for label, part in sorted(done.groupby("infusion_group"), key=lambda kv: _order(kv[0])):
        hours = part["duration_h"]
        rows.append({
            "infusion_group": label, "n": len(part),
            "patients": patient_key(part).nunique(), "median_h": hours.median(),
            "min_h": hours.min(), "max_h": hours.max(),
            "median_min": part["duration_min"].median(),
            "min_min": part["duration_min"].min(), "max_min": part["duration_min"].max(),
            "text": hours_text(hours.median(), hours.min(), hours.max()),
        })
    return pd.DataFrame(rows, columns=["infusion_group", "n", "patients", "median_h", "min_h",
                                       "max_h", "median_min", "min_min", "max_min", "text"])


def _order(label):
    return int(label.rstrip("+")), label.endswith("+")


def _test(pa, pb, what):
    """Mann-Whitney U of two groups' durations with the patient as the unit: the infusions
    themselves when each patient has one, else one median per patient. -> (U, p, unit)."""
    one_each = len(pa) == patient_key(pa).nunique() and len(pb) == patient_key(pb).nunique()
    if one_each:
        xa, xb, unit = pa["duration_h"], pb["duration_h"], "infusions (1 per patient)"
    else:
        xa, xb, unit = patient_medians(pa), patient_medians(pb), "per-patient medians"
    u, p = mann_whitney(xa, xb, what)
    return u, p, unit


def compare(table_a, table_b, lump_from=3, incomplete=False):
    """Two-sided Mann-Whitney U test of durations, group A vs B, per infusion group (the
    paper's Table 2: weight-based vs fixed-volume infusions), patients as the unit."""
    a = _ended(table_a, lump_from, "comparison", incomplete)
    b = _ended(table_b, lump_from, "comparison", incomplete)
    rows = []
    labels = sorted(set(a["infusion_group"]) | set(b["infusion_group"]), key=_order)
    for label in labels:
        pa, pb = a[a["infusion_group"] == label], b[b["infusion_group"] == label]
        u, p, unit = _test(pa, pb, "infusion " + label)
        rows.append({"infusion_group": label, "n_a": len(pa), "n_b": len(pb),
                     "patients_a": patient_key(pa).nunique(),
                     "patients_b": patient_key(pb).nunique(),
                     "median_a_h": pa["duration_h"].median(),
                     "median_b_h": pb["duration_h"].median(),
                     "u_statistic": u, "p_value": p, "test_unit": unit})
    return pd.DataFrame(rows)


def n_patients(table):
    """Patients in a table, per cohort: distinct subjects (without any, distinct capture
    files); simulated replicates are cohorts, not more patients (counts() gives both)."""
    return counts(table)["patients"]


def _table2_one(b, a):
    groups = {"b": b} if a is None else {"b": b, "a": a}
    rows = []
    for label, lo, hi in TABLE2_ROWS:
        row = {"infusion": label + " Infusion"}
        picked = {}
        for key, done in groups.items():
            sel = done["infusion"] >= lo
            if hi is not None:
                sel &= done["infusion"] <= hi
            picked[key] = done[sel]
            row["n_%s" % key] = int(sel.sum())
            row["patients_%s" % key] = patient_key(picked[key]).nunique()
            row["median_%s_h" % key] = picked[key]["duration_h"].median()
        if a is not None:
            row["u_statistic"], row["p_value"], row["test_unit"] = _test(
                picked["a"], picked["b"], label + " infusion")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SmallSampleWarning)
                row["p_value_infusions_pooled"] = mann_whitney(
                    picked["a"]["duration_h"], picked["b"]["duration_h"])[1]
        rows.append(row)
    return pd.DataFrame(rows)


def _replicates(table):
    return sorted(table["replicate"].unique()) if "replicate" in table else [1]


def table2_by_replicate(table_b, table_a=None, incomplete=False):
    """_table2_one() per simulated cohort (replicate r of A against replicate r of B), long:
    one row per (replicate, Table 2 row)."""
    b = _ended(table_b, None, "Table 2", incomplete)
    a = None if table_a is None else _ended(table_a, None, "Table 2", incomplete)
    reps = _replicates(b) if a is None else sorted(set(_replicates(b)) & set(_replicates(a)))
    parts = []
    for r in reps:
        def pick(t, r=r):
            return t[t["replicate"] == r] if "replicate" in t else t

        parts.append(_table2_one(pick(b), None if a is None else pick(a)).assign(replicate=r))
    return pd.concat(parts, ignore_index=True)


def table2(table_b, table_a=None, incomplete=False):
    """The paper's Table 2: median duration (h) by infusion 1st-6th, >=2nd, >=3rd, for group B
    (and A beside it with a two-sided Mann-Whitney U p-value when given, the patient as the
    unit). Several simulated cohorts (replicates): the median over cohorts of each figure,
    with its 2.5-97.5 % interval over cohorts (_lo, _hi); never one pool of all cohorts."""
    b_reps = _replicates(table_b)
    a_reps = _replicates(table_a) if table_a is not None else b_reps
    if len(b_reps) <= 1 or len(a_reps) <= 1:
        b = _ended(table_b, None, "Table 2", incomplete)
        a = None if table_a is None else _ended(table_a, None, "Table 2", incomplete)
        out = _table2_one(b, a)
        out.attrs.update(replicates_b=1, replicates_a=1)
        return out
    long = table2_by_replicate(table_b, table_a, incomplete)
    numbers = [c for c in long.columns if c not in ("infusion", "replicate", "test_unit")]
    rows = []
    for label, part in long.groupby("infusion", sort=False):
        row = {"infusion": label}
        for c in numbers:
            values = part[c].astype(float).dropna()
            row[c] = float(values.median()) if len(values) else math.nan
            if c.startswith(("median_", "p_value")):
                row[c + "_lo"], row[c + "_hi"] = (np.percentile(values, [2.5, 97.5])
                                                  if len(values) else (math.nan, math.nan))
        if "test_unit" in part:
            row["test_unit"] = part["test_unit"].iloc[0]
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(replicates_b=len(b_reps), replicates_a=len(a_reps))
    return out


def p_text(p):
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    return "<0.0001" if p < 0.0001 else "%.4f" % p


def _n_label(n, replicates):
    return "N=%d" % n if replicates <= 1 else "N=%d per cohort, %d cohorts" % (n, replicates)


def table2_markdown(t2, name_b, n_b, name_a=None, n_a=None):
    """Table 2 as Markdown, in the paper's layout (medians in hours, two decimals; N in
    patients; several simulated cohorts: medians over cohorts)."""
    reps = t2.attrs.get("replicates_b", 1), t2.attrs.get("replicates_a", 1)
    head = ["Median duration of infusion, h"]
    if name_a is not None:
        head.append("%s %s" % (name_a, _n_label(n_a, reps[1])))
    head.append("%s %s" % (name_b, _n_label(n_b, reps[0])))
    if name_a is not None:
        head.append("Two-sided p-value (Mann-Whitney U)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    small = False
    few = "patients_a" in t2 and "patients_b" in t2
    for _, r in t2.iterrows():
        cells = [r["infusion"]]
        if name_a is not None:
            cells.append(_h(r["median_a_h"]))
        cells.append(_h(r["median_b_h"]))
        if name_a is not None:
            p = r["p_value"]
            tiny = few and min(r["patients_a"], r["patients_b"]) < MIN_PATIENTS_FOR_TEST
            small |= bool(tiny)
            cells.append("n too small" if isinstance(p, float) and math.isnan(p) and tiny
                         else p_text(p) + (" (n too small)" if tiny else ""))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Duration: from the start of the infusion to its end, interruptions included;"
                 " complete infusions only unless stated.")
    if name_a is not None:
        lines.append("p: patients as the unit (one infusion each, or one median per patient"
                     " for pooled rows)%s." % (
                         "; the median p over cohorts" if max(reps) > 1 else ""))
    if small:
        lines.append("n too small: fewer than %d patients in a group, where no p-value can"
                     " reach 0.05 (under 2: no test)." % MIN_PATIENTS_FOR_TEST)
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

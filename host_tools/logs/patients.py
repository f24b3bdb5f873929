"""Patients, not infusions: per-patient summaries, intervals by patient, clustered tests."""

# A patient's infusions are not independent (the same nurse habits, the same body): a test
# that counts 898 infusions of 47 patients as 898 observations is pseudo-replication. Here a
# patient is the unit: one row per patient, medians resampled by patient, pooled rows
# (infusions >= 2nd, >= 3rd) tested on per-patient medians, N counted in patients, and
# simulated replicates (independent cohorts) kept apart as replicates (docs/cohort.md).
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

# Fewer patients than this in a group: the p-value comes with a SmallSampleWarning (with 4
# and 4 the smallest two-sided exact p is 2/70 = 0.029; with 3 and 3 it is 0.1: no
# difference can show at 0.05). Fewer than 2 in a group: no test at all.
MIN_PATIENTS_FOR_TEST = 4

# The per-patient table's columns and what each means (the data dictionary's source).
PATIENT_COLUMNS = {
    "replicate": "simulated cohort number (1 for real captures)",
    "subject": "patient ID (the capture's subject; without one, the capture file)",
    "arm": "A (10 mg/kg by weight, mg/h) or B (250 mL fixed volume, mL/h); empty if unknown",
    "weight_kg": "body weight, kg (simulated; empty for captures)",
    "infusions": "infusions recorded for the patient, complete or not",
    "infusions_complete": "infusions that ended with the whole volume infused",
    "last_infusion": "highest infusion number recorded",
    "cycles": "28-day cycles started, from the highest infusion number (4 infusions in"
              " cycle 1, then 2 per cycle: the paper's Fig. 1)",
    "ir_episodes": "infusion reactions recorded (episodes, all grades)",
    "infusions_with_ir": "infusions with at least one infusion reaction",
    "interruptions": "IR interruptions (grade 2 stops) over all infusions",
    "max_ir_grade": "highest IR grade recorded (0: none)",
    "median_duration_h": "median duration of the patient's complete infusions, h (start to"
                         " end, interruptions included)",
    "duration_1_h": "duration of infusion 1 if complete, h",
    "duration_2_h": "duration of infusion 2 if complete, h",
    "median_duration_3plus_h": "median duration of complete infusions 3, 4, ..., h",
}


class SmallSampleWarning(UserWarning):
    """A test or interval was not computed (or is weak) because n is too small."""


def patient_key(table):
    """One key per patient: (replicate, subject) -> '<replicate>/<subject>'. Without a subject,
    the capture file (source); a table with neither: each row its own patient."""
    fallback = (table["source"].astype(str) if "source" in table
                else pd.Series(table.index.astype(str), index=table.index))
    if "subject" in table:
        subject = table["subject"].astype(object).where(table["subject"].notna(), fallback)
        subject = subject.astype(str).where(subject.astype(str) != "", fallback)
    else:
        subject = fallback
    if "replicate" in table:
        return table["replicate"].astype(str) + "/" + subject
    return subject


def counts(table):
    """{'patients': per cohort (the median over replicates), 'replicates', 'patients_total'}."""
    key = patient_key(table)
    reps = table["replicate"] if "replicate" in table else pd.Series(1, index=table.index)
    per_rep = key.groupby(reps).nunique()
    return {"patients": int(per_rep.median()) if len(per_rep) else 0,
            "replicates": int(per_rep.size), "patients_total": int(key.nunique())}


def cycles_from_last_infusion(last):
    """Cycles started given the highest infusion number (QW in cycle 1, then Q2W)."""
    return 1 if last <= 4 else 1 + math.ceil((last - 4) / 2)


def patient_summary(table):
    """One row per patient (columns PATIENT_COLUMNS, in that order)."""
    t = table.assign(_key=patient_key(table),
                     _complete=table["outcome"].eq("complete"))
    rows = []
    for _, part in t.groupby("_key", sort=False):
        first = part.iloc[0]
        done = part[part["_complete"]]
        hours = done["duration_h"].astype(float)

        def one(n, done=done):
            x = done.loc[done["infusion"] == n, "duration_h"]
            return float(x.iloc[0]) if len(x) else math.nan

        last = int(part["infusion"].max())
        rows.append({
            "replicate": int(first["replicate"]) if "replicate" in part else 1,
            "subject": first["subject"] if isinstance(first["subject"], str) and
            first["subject"] else str(first["source"]),
            "arm": str(first["arm"]) if "arm" in part else "",
            "weight_kg": float(first["weight_kg"]) if "weight_kg" in part else math.nan,
            "infusions": len(part), "infusions_complete": len(done),
            "last_infusion": last, "cycles": cycles_from_last_infusion(last),
            "ir_episodes": int(part["n_ir"].sum()),
            "infusions_with_ir": int((part["n_ir"] > 0).sum()),
            "interruptions": int(part["n_interruptions"].sum()),
            "max_ir_grade": int(part["max_ir_grade"].max()),
            "median_duration_h": float(hours.median()) if len(hours) else math.nan,
            "duration_1_h": one(1), "duration_2_h": one(2),
            "median_duration_3plus_h": float(done.loc[done["infusion"] >= 3, "duration_h"]
                                             .median()) if (done["infusion"] >= 3).any()
            else math.nan,
        })
    return pd.DataFrame(rows, columns=list(PATIENT_COLUMNS))


def by_patient(table, column="duration_h"):
    """[array of the column's values] per patient, in order of first appearance."""
    key = patient_key(table)
    return [g.to_numpy(float) for _, g in table[column].groupby(key, sort=False)]


def bootstrap_median(groups, n_boot=2000, seed=0, level=0.95):
    """(median, lo, hi) of the pooled values, the interval by resampling patients (each
    patient's values kept together). groups: one array per patient. One patient: no
    interval (nan, nan) and a SmallSampleWarning."""
    groups = [g for g in groups if len(g)]
    if not groups:
        return math.nan, math.nan, math.nan
    pooled = np.concatenate(groups)
    median = float(np.median(pooled))
    if len(groups) < 2:
        warnings.warn("1 patient: no bootstrap interval for the median", SmallSampleWarning,
                      stacklevel=2)
        return median, math.nan, math.nan
    rng = np.random.default_rng(seed)
    sizes = np.array([len(g) for g in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    picks = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    medians = np.empty(n_boot)
    for b in range(n_boot):
        chosen = picks[b]
        idx = np.concatenate([np.arange(starts[c], starts[c] + sizes[c]) for c in chosen])
        medians[b] = np.median(pooled[idx])
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(medians, [tail, 100 - tail])
    return median, float(lo), float(hi)


def mann_whitney(xa, xb, what="", min_n=MIN_PATIENTS_FOR_TEST):
    """(U, two-sided p). A group under 2 observations (patients, for the callers here):
    (nan, nan); under min_n: the p-value, and a SmallSampleWarning naming n either way (none
    when a group is empty: there is nothing to compare)."""
    xa, xb = np.asarray(xa, float), np.asarray(xb, float)
    small = min(len(xa), len(xb))
    if small < min_n and len(xa) and len(xb):  # an empty side is no comparison at all
        warnings.warn("%sn = %d and %d: %s (a Mann-Whitney U test needs >= %d per group for"
                      " p < 0.05 to be possible)" % (
                          what + ": " if what else "", len(xa), len(xb),
                          "no test" if small < 2 else "p-value given but cannot show a"
                          " difference", min_n), SmallSampleWarning, stacklevel=2)
    if small < 2:
        return math.nan, math.nan
    res = stats.mannwhitneyu(xa, xb, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def patient_medians(table, column="duration_h"):
    """One value per patient: the median of the patient's rows (a clustered comparison's
    unit)."""
    return np.array([np.median(g) for g in by_patient(table, column) if len(g)])

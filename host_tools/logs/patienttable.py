"""The per-patient table a researcher takes away: cycles, infusions, IRs, median durations."""

# One row per patient of a summary table (captures or a simulated cohort). Every column is
# declared once here, with its type and meaning; docs/logs.md carries dictionary_markdown()
# verbatim (a test keeps it so).
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = (
    ("part", "str", "study arm: `A` (weight-based volume) or `B` (fixed volume); empty when the"
     " table has no `part` column"),
    ("replicate", "Int64", "simulated cohort the patient belongs to; 1 for captures"),
    ("patient", "str", "subject ID (the capture header's `subject=`); the capture file where"
     " there is none"),
    ("cycles", "Int64", "28-day cycles started, from the highest infusion number (4 infusions"
     " in cycle 1, then 2 a cycle, as the paper's schedule)"),
    ("infusions", "Int64", "infusions found, open ones included"),
    ("infusions_timed", "Int64", "infusions with a duration (ended, start known)"),
    ("infusions_open", "Int64", "infusions with no end seen (`outcome` = `open`)"),
    ("irs", "Int64", "infusion reactions (episodes, any grade) over all infusions"),
    ("infusions_with_ir", "Int64", "infusions with at least one infusion reaction"),
    ("interrupted_for_ir", "Int64", "infusions interrupted for a grade-2 reaction"),
    ("max_ir_grade", "Int64", "highest reaction grade; 0 without any"),
    ("median_duration_h", "Float64", "median duration of the timed infusions, hours,"
     " interruptions included (the paper's definition)"),
    ("duration_1_h", "Float64", "duration of infusion 1, hours; empty if not timed"),
    ("median_duration_2plus_h", "Float64", "median duration of infusions 2 and later, hours"),
    ("median_duration_3plus_h", "Float64", "median duration of infusions 3 and later, hours"),
    ("total_duration_h", "Float64", "sum of the timed infusions' durations, hours"),
)
NAMES = tuple(name for name, _, _ in COLUMNS)


def cycles_started(max_infusion):
    """Cycles begun by infusion number n: 1 for n <= 4, then one more every 2 infusions."""
    n = int(max_infusion)
    return 1 if n <= 4 else 2 + (n - 5) // 2


def per_patient(table):
    """Summary table -> one row per patient (columns: NAMES), sorted by part, replicate, id."""
    t = table.copy()
    t["patient"] = t["subject"].where(t["subject"].notna() & t["subject"].ne(""),
                                      t["source"]).astype(str)
    t["part"] = t["part"].fillna("").astype(str) if "part" in t else ""
    t["replicate"] = t["replicate"].fillna(1).astype("int64") if "replicate" in t else 1
    t["timed"] = t["outcome"].ne("open") & t["duration_min"].notna()
    rows = []
    for (part, rep, patient), p in t.groupby(["part", "replicate", "patient"], sort=True):
        timed = p[p["timed"]]
        hours = timed["duration_h"].astype(float)
        number = timed["infusion"].astype(int)
        first = hours[number == 1]
        rows.append({
            "part": part, "replicate": rep, "patient": patient,
            "cycles": cycles_started(p["infusion"].max()),
            "infusions": len(p), "infusions_timed": len(timed),
            "infusions_open": int((~p["timed"]).sum()),
            "irs": int(p["n_ir"].sum()), "infusions_with_ir": int((p["n_ir"] > 0).sum()),
            "interrupted_for_ir": int((p["n_interruptions"] > 0).sum()),
            "max_ir_grade": int(p["max_ir_grade"].max()),
            "median_duration_h": _median(hours),
            "duration_1_h": float(first.iloc[0]) if len(first) else np.nan,
            "median_duration_2plus_h": _median(hours[number >= 2]),
            "median_duration_3plus_h": _median(hours[number >= 3]),
            "total_duration_h": float(hours.sum()),
        })
    return typed(pd.DataFrame(rows, columns=list(NAMES)))


def _median(values):
    return float(values.median()) if len(values) else np.nan


def typed(frame):
    """The declared dtypes (also for a table read back from CSV)."""
    frame = frame.reindex(columns=list(NAMES))
    for name, dtype, _ in COLUMNS:
        if dtype == "str":
            frame[name] = frame[name].fillna("").astype("str")
        else:
            frame[name] = pd.to_numeric(frame[name]).astype(dtype)
    return frame


def write(frame, out):
    """OUT.csv and OUT.parquet (a .csv or .parquet suffix on OUT is dropped) -> the paths."""
    out = Path(out)
    if out.suffix in (".csv", ".parquet"):
        out = out.with_suffix("")
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_name(out.name + ".csv"), out.with_name(out.name + ".parquet")]
    frame.to_csv(paths[0], index=False)
    frame.to_parquet(paths[1], index=False)
    return paths


def read(path):
    """A per-patient table written by write(), CSV or Parquet, with its dtypes."""
    path = Path(path)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(
        path, keep_default_na=False, na_values=[""])
    return typed(frame)


def dictionary_markdown():
    """The data dictionary of the per-patient table, as a Markdown table."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += ["| `%s` | %s | %s |" % (name, dtype, meaning) for name, dtype, meaning in COLUMNS]
    return "\n".join(lines) + "\n"

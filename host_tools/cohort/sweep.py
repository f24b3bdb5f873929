"""`pumpctl cohort sweep`: each assumption over a stated range, its effect on each output."""

# One at a time: every other field stays at the scenario's value, the same seed and cohorts
# (common random numbers), so a bar is the assumption's own effect, not noise between runs.
# The effect is the change of the median over cohorts of each output, low end and high end of
# the range against the baseline; the chart is a tornado per output, widest swing on top.
import dataclasses
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from host_tools.cohort import engine, paper, scenario  # noqa: E402

# (field, element of a tuple or None, low, high, arms, why this range)
ASSUMPTIONS = (
    ("ir_onset_median_min", None, 30.0, 90.0, "AB", "assumed 60: half to 1.5 x"),
    ("ir_resolve_median_min", None, 15.0, 60.0, "AB", "assumed 30: half to 2 x"),
    ("ir_second_after_median_min", None, 20.0, 90.0, "B", "assumed 45"),
    ("patient_hold_sigma", None, 0.0, 1.0, "AB", "invented 0.5: none to large"),
    ("patient_ir_sigma", None, 0.0, 0.8, "AB", "invented 0.4: none to 2 x"),
    ("pause_share", None, 0.0, 0.07, "AB", "assumed 0.035: none to 2 x"),
    ("pause_median_min", None, 5.0, 30.0, "AB", "assumed 15"),
    ("stop_early_share", None, 0.0, 0.025, "AB", "assumed 0.012: none to 2 x"),
    ("stop_early_from", None, 0.2, 0.8, "AB", "assumed 0.5"),
    ("step_up_lag_mean_min", 0, "lo", "hi", "AB", "fitted: its interval (cohort fit)"),
    ("step_up_lag_mean_min", 1, "lo", "hi", "AB", "fitted: its interval (cohort fit)"),
    ("weight_median_kg", None, 65.0, 85.0, "A", "invented 75"),
    ("weight_sigma", None, 0.1, 0.3, "A", "invented 0.2"),
    ("conc_mg_per_ml", None, 2.0, 8.0, "A", "assumed 4 mg/mL"),
)
# The fitted values' intervals (docs/cohort.md, `pumpctl cohort fit --replicates 20`).
FITTED_INTERVALS = {("B", 0): (2.00, 3.56), ("B", 1): (1.67, 3.25),
                    ("A", 0): (1.41, 5.99), ("A", 1): (6.78, 16.79)}
COLUMNS = ("arm", "assumption", "range", "output", "baseline_min", "low_min", "high_min",
           "low_delta_min", "high_delta_min", "why")


def outputs(table, arm):
    """{output name: median over cohorts, in minutes} of one arm's simulated table."""
    if arm == "B":
        per = paper.by_cohort(table)
        out = {}
        for what in ("median", "min", "max"):
            for g in paper.DURATIONS:
                part = per[per["infusion_group"] == g]
                out["B infusion %s %s" % (g, what)] = float(part["%s_min" % what].median())
        return out
    ended = table[table["outcome"].ne("open")]
    first = ended[ended["infusion"] == 1].groupby("replicate")["duration_min"].median()
    later = ended[ended["infusion"] >= 2].groupby("replicate")["duration_min"].median()
    return {"A infusion 1 median": float(first.median()),
            "A infusion 2+ median": float(later.median())}


def _with(base, field, index, value):
    if index is None:
        return dataclasses.replace(base, **{field: value})
    values = list(getattr(base, field))
    values[index] = value
    return dataclasses.replace(base, **{field: tuple(values)})


def sweep(seed=1, replicates=4, workers=None, scenarios=None, assumptions=ASSUMPTIONS,
          arms="AB"):
    """-> DataFrame (COLUMNS): one row per (arm, assumption, output)."""
    scenarios = scenarios or {"A": scenario.PART_A, "B": scenario.PAPER}
    rows = []
    for arm in arms:
        base = scenarios[arm]
        baseline = outputs(engine.simulate(base, seed, replicates, workers), arm)
        for field, index, low, high, in_arms, why in assumptions:
            if arm not in in_arms:
                continue
            if low == "lo":
                low, high = FITTED_INTERVALS[(arm, index)]
            name = field if index is None else "%s[%d]" % (field, index)
            ends = [outputs(engine.simulate(_with(base, field, index, v), seed, replicates,
                                            workers), arm) for v in (low, high)]
            for out, base_value in baseline.items():
                rows.append({"arm": arm, "assumption": name, "range": "%g-%g" % (low, high),
                             "output": out, "baseline_min": base_value,
                             "low_min": ends[0][out], "high_min": ends[1][out],
                             "low_delta_min": ends[0][out] - base_value,
                             "high_delta_min": ends[1][out] - base_value, "why": why})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def tornado(table, replicates, seed):
    """One panel per output: each assumption's low (light) and high (dark) end as a bar of
    the change in minutes against the baseline, widest swing on top."""
    names = list(dict.fromkeys(table["output"]))
    cols = 3
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.9 * rows), constrained_layout=True,
                             squeeze=False)
    for ax, name in zip(axes.flat, names):
        part = table[table["output"] == name].copy()
        part["swing"] = (part["high_delta_min"] - part["low_delta_min"]).abs()
        part = part.sort_values("swing")
        y = np.arange(len(part))
        ax.barh(y + 0.2, part["low_delta_min"], height=0.4, color="#9ecae1",
                label="low end of range")
        ax.barh(y - 0.2, part["high_delta_min"], height=0.4, color="#08519c",
                label="high end of range")
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_yticks(y, ["%s (%s)" % (a, r) for a, r in zip(part["assumption"],
                                                              part["range"])], fontsize=7)
        ax.set_title("%s\n%.0f min at baseline" % (name, part["baseline_min"].iloc[0]),
                     fontsize=9)
        ax.set_xlabel("change, min", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
    fig.suptitle("Simulated cohorts: one assumption at a time (%d cohorts, seed %d)"
                 % (replicates, seed), fontsize=10)
    return fig

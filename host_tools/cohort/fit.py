"""`pumpctl cohort fit`: the declared parameters fitted to the declared targets, with intervals."""

# Only what PARAMETERS names is fitted, each to its one target; everything else stays as the
# scenario says. Method: the cohorts (replicates, common random numbers) are simulated on a
# grid of values of the parameter; in each cohort the value where the target's median crosses
# the paper's figure is found by linear interpolation between grid points. The fitted value is
# the median of those per-cohort values, its interval their 2.5-97.5 %: how well one cohort of
# the paper's size pins the parameter down. Infusion 1's and 2's hold means act on their own
# infusion's duration only, so an arm's two are fitted together on one grid (a value of 0
# would skip the random draws and shift the streams: the grid starts above 0).
import dataclasses
import math

import numpy as np
import pandas as pd

from host_tools.cohort import engine, scenario

GRID_MIN = (0.5, 1.5, 2.5, 3.5, 4.5, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0, 22.0)


@dataclasses.dataclass(frozen=True)
class Parameter:
    arm: str  # "A" or "B": which scenario
    field: str
    index: int  # element of a tuple field
    infusion: int  # the target is the median duration of this infusion number
    target_h: float
    source: str


PARAMETERS = (
    Parameter("B", "step_up_lag_mean_min", 0, 1, 222 / 60,
              "Results, Safety: infusion 1 median 222 min (Table 2: 3.70 h)"),
    Parameter("B", "step_up_lag_mean_min", 1, 2, 111 / 60,
              "Results, Safety: infusion 2 median 111 min (Table 2: 1.85 h)"),
    Parameter("A", "step_up_lag_mean_min", 0, 1, 3.32, "Table 2: Part A 1st infusion 3.32 h"),
    Parameter("A", "step_up_lag_mean_min", 1, 2, 2.88, "Table 2: Part A 2nd infusion 2.88 h"),
)
COLUMNS = ("arm", "parameter", "target", "target_h", "fitted", "lo", "hi", "cohorts_crossing",
           "scenario_value")


def _medians(s, seed, replicates, workers):
    """{(replicate, infusion): median duration h} of infusions 1 and 2, all treated."""
    table = engine.simulate(s, seed, replicates, workers, upto=2)
    ended = table[table["outcome"].ne("open")]
    return ended.groupby(["replicate", "infusion"])["duration_h"].median().to_dict()


def crossing(grid, values, target):
    """The first grid value where values cross target (linear between points), or nan."""
    for k in range(len(grid) - 1):
        a, b = values[k] - target, values[k + 1] - target
        if a == 0:
            return grid[k]
        if (a < 0) != (b < 0) and not (math.isnan(a) or math.isnan(b)):
            return grid[k] + (grid[k + 1] - grid[k]) * a / (a - b)
    return grid[-1] if values[-1] == target else math.nan


def fit(seed=1, replicates=10, workers=None, grid=GRID_MIN, scenarios=None, parameters=None):
    """-> DataFrame (COLUMNS), one row per declared parameter."""
    scenarios = scenarios or {"A": scenario.PART_A, "B": scenario.PAPER}
    parameters = parameters or PARAMETERS
    rows = []
    for arm in sorted({p.arm for p in parameters}):
        base = scenarios[arm]
        curves = []
        for g in grid:
            s = dataclasses.replace(base, step_up_lag_mean_min=(g, g))
            curves.append(_medians(s, seed, replicates, workers))
        for p in (p for p in parameters if p.arm == arm):
            per_cohort = []
            for r in range(1, replicates + 1):
                values = [c.get((r, p.infusion), math.nan) for c in curves]
                per_cohort.append(crossing(list(grid), values, p.target_h))
            found = np.asarray([v for v in per_cohort if not math.isnan(v)])
            fitted = float(np.median(found)) if len(found) else math.nan
            lo, hi = (np.percentile(found, [2.5, 97.5]) if len(found) > 1
                      else (math.nan, math.nan))
            rows.append({"arm": arm, "parameter": "%s[%d]" % (p.field, p.index),
                         "target": p.source, "target_h": p.target_h, "fitted": fitted,
                         "lo": float(lo), "hi": float(hi),
                         "cohorts_crossing": "%d of %d" % (len(found), replicates),
                         "scenario_value": getattr(base, p.field)[p.index]})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def text(table, grid=GRID_MIN):
    lines = ["%-4s %-24s %-9s %-14s %-9s %s" % ("arm", "parameter", "fitted", "95 % (cohorts)",
                                                "scenario", "target")]
    for _, r in table.iterrows():
        lines.append("%-4s %-24s %-9s %-14s %-9s %s (%s cross it)" % (
            r["arm"], r["parameter"], _v(r["fitted"]), "%s-%s" % (_v(r["lo"]), _v(r["hi"])),
            _v(r["scenario_value"]), r["target"], r["cohorts_crossing"]))
    lines.append("grid %g-%g min; a cohort whose median does not cross the target in the grid"
                 " is left out of the interval (counted above)" % (grid[0], grid[-1]))
    return lines


def _v(x):
    return "-" if isinstance(x, float) and math.isnan(x) else "%.2f" % x

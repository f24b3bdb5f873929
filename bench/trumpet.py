"""Trumpet curves (IEC 60601-2-24) of the pump on the virtual board: the real firmware on real
MicroPython, the virtual balance read every 0.5 virtual minutes (held time + advance)."""

import pandas as pd

from bench.results import median, metric, not_measured
from bench.simline import SimLine
from host_tools.harness.served import HarnessError
from host_tools.logs import trumpet as tr
from host_tools.sim.simboard import SimBoard

SAMPLE_MS = round(tr.SAMPLE_MIN * 60_000)
BALANCE_RESOLUTION_G = 0.001  # the virtual balance shows 3 decimals (docs/virtual-board.md)

# (rate mL/h, infusion, commands (minute, command, *args), analysis start, period (min)).
# 25 mL/h: infusion 1's first step, held there by a grade-1 IR (never resolved), so the IEC
# second hour (60-120 min) is at 25 mL/h. 200 mL/h: infusion 3; its 250 mL last 75 min, so
# the analysis hour is 10-70 min.
CASES = [
    (25, 1, [(1, "ir", 1)], 60, 60),
    (200, 3, [], 10, 60),
]


def balance_log(infusion, commands, minutes, sim_factory=SimBoard):
    """Start the infusion at t = 0 and weigh every 0.5 min -> DataFrame t_s, mass_g; spm."""
    with sim_factory(hold=True, pty=False) as sim, SimLine(sim) as line:
        line.command("interval", 60_000)
        sim.advance_ms(10)
        grams0 = sim.balance_grams()
        line.command("start", infusion)
        pending = sorted(commands)
        rows = [(0.0, 0.0)]
        for i in range(1, round(minutes * 60_000 / SAMPLE_MS) + 1):
            sim.advance_ms(SAMPLE_MS)
            rows.append((i * SAMPLE_MS / 1000, sim.balance_grams() - grams0))
            if pending and i * SAMPLE_MS >= pending[0][0] * 60_000:
                line.command(*pending.pop(0)[1:])
        spm = sim.status()["steps_per_ml"]
    if rows[-1][1] <= 0:
        raise RuntimeError("infusion %d did not run on the virtual board (balance 0 g)"
                           % infusion)
    return pd.DataFrame(rows, columns=list(tr.BALANCE_COLUMNS)), spm


def quantum_pct(rate_ml_h, window_min, spm, resolution_g=BALANCE_RESOLUTION_G):
    """The flow error (%) one step (plus the balance's resolution) makes in a window."""
    window_ml = rate_ml_h * window_min / 60
    return 100 * (1 / spm + resolution_g) / window_ml


def _curve(case, windows, sim_factory, runs):
    """Median over runs of each window's Ep(max), Ep(min) and of the overall error."""
    rate, infusion, commands, start_min, period_min = case
    tables, overalls = [], []
    for _ in range(runs):
        log, spm = balance_log(infusion, commands, start_min + period_min, sim_factory)
        table, overall = tr.trumpet(log, rate, start_min=start_min, period_min=period_min,
                                    windows_min=windows, density_g_per_ml=1.0)
        tables.append(table)
        overalls.append(overall)
    table = pd.concat(tables).groupby("window_min", as_index=False).median()
    return table, median(overalls), spm


def measure(cases=CASES, windows=tr.WINDOWS_MIN, sim_factory=SimBoard, runs=3):
    out = {}
    for case in cases:
        rate, infusion, commands, start_min, period_min = case
        try:
            table, overall, spm = _curve(case, windows, sim_factory, runs)
        except (OSError, RuntimeError, HarnessError, tr.UserError) as exc:
            for p in windows:
                for side in ("max", "min"):
                    out["trumpet_ep_%s_pct_%dmlh_%gmin" % (side, rate, p)] = not_measured(
                        "%", "virtual board run failed: %s" % exc)
            continue
        where = ("infusion %d, balance every %g min, analysis %g-%g min, %d steps/mL, "
                 "median of %d runs" % (infusion, tr.SAMPLE_MIN, start_min,
                                        start_min + period_min, spm, runs))
        for row in table.itertuples():
            p = row.window_min
            limit = quantum_pct(rate, p, spm)
            step_only = quantum_pct(rate, p, spm, 0)
            for side, value in (("max", row.ep_max_pct), ("min", row.ep_min_pct)):
                out["trumpet_ep_%s_pct_%dmlh_%gmin" % (side, rate, p)] = metric(
                    round(float(value), 4), "%", round(limit, 4),
                    "Ep(%s) over %g min windows at %d mL/h (host_tools.logs.trumpet, density 1); "
                    "limit: one step (%.3f %%) + 1 mg of balance resolution; ok if |Ep| <= "
                    "limit; %s" % (side, p, rate, step_only, where),
                    ok=bool(abs(value) <= limit))
        out["trumpet_overall_error_pct_%dmlh" % rate] = metric(
            round(overall, 4) + 0.0, "%", None,
            "mean flow error over the analysis period; " + where)
    return out

"""Balance logs, the IEC 60601-2-24 start-up curve and trumpet curve (method: docs/logs.md)."""

import math

import numpy as np
import pandas as pd

from host_tools.logs.capfile import UserError

SAMPLE_MIN = 0.5  # the standard's sampling interval S
WINDOWS_MIN = (2, 5, 11, 19, 31)  # observation windows P
STARTUP_MIN = 120  # the start-up curve covers the first two hours
DENSITY_G_PER_ML = 0.998  # water near 20 degC; the virtual balance may pass 1.0
BALANCE_COLUMNS = ("t_s", "mass_g")


def load_balance(path):
    """A balance CSV (columns t_s, mass_g; '#' comment lines allowed) -> DataFrame."""
    try:
        frame = pd.read_csv(path, comment="#")
    except FileNotFoundError:
        raise UserError("no such balance log: %s" % path) from None
    except (OSError, ValueError) as exc:
        raise UserError("cannot read balance log %s: %s" % (path, exc)) from None
    missing = [c for c in BALANCE_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError("balance log %s lacks column(s) %s (want: t_s,mass_g)"
                        % (path, ",".join(missing)))
    frame = frame[list(BALANCE_COLUMNS)].apply(pd.to_numeric, errors="coerce").dropna()
    if len(frame) < 2 or not frame["t_s"].is_monotonic_increasing:
        raise UserError("balance log %s needs at least two samples in time order" % path)
    return frame.reset_index(drop=True)


def resample(balance, sample_min=SAMPLE_MIN):
    """Mass at t = 0, S, 2S... min (linear interpolation between balance readings)."""
    t_min = balance["t_s"].to_numpy() / 60
    first = math.ceil(t_min[0] / sample_min - 1e-9)
    last = math.floor(t_min[-1] / sample_min + 1e-9)
    grid = np.arange(first, last + 1) * sample_min
    return grid, np.interp(grid, t_min, balance["mass_g"].to_numpy())


def flow(balance, sample_min=SAMPLE_MIN, density_g_per_ml=DENSITY_G_PER_ML):
    """Flow Q_i (mL/h) over each sampling interval, stamped at the interval's end."""
    grid, mass_g = resample(balance, sample_min)
    q_ml_h = np.diff(mass_g) / density_g_per_ml / (sample_min / 60)
    return pd.DataFrame({"t_min": grid[1:], "flow_ml_h": q_ml_h})


def startup_curve(balance, rate_ml_h, duration_min=STARTUP_MIN, **kw):
    """The start-up curve: Q_i over the first two hours, next to the set rate."""
    q = flow(balance, **kw)
    q = q[q["t_min"] <= duration_min + 1e-9].reset_index(drop=True)
    q["set_rate_ml_h"] = rate_ml_h
    return q


def trumpet(balance, rate_ml_h, start_min=60.0, period_min=60.0, windows_min=WINDOWS_MIN,
            sample_min=SAMPLE_MIN, density_g_per_ml=DENSITY_G_PER_ML):
    """Ep(max) and Ep(min) (%) for each observation window P over the analysis period.

    E_i = 100 (Q_i - r) / r for each sample in the period; for a window of P minutes
    (m = P / S samples), Ep is the mean of m consecutive E_i, over every start position that
    keeps the window inside the period; Ep(max)/Ep(min) are its extremes. Returns (table,
    overall_error_pct) where the overall error compares the period's mean flow with r.
    """
    if rate_ml_h <= 0:
        raise UserError("the set rate must be > 0 mL/h for a trumpet curve")
    q = flow(balance, sample_min, density_g_per_ml)
    end_min = start_min + period_min
    inside = q[(q["t_min"] > start_min + 1e-9) & (q["t_min"] <= end_min + 1e-9)]
    expected = round(period_min / sample_min)
    if len(inside) < expected:
        raise UserError("the balance log covers %g-%g min: the analysis period %g-%g min is not"
                        " inside it" % (q["t_min"].min() - sample_min, q["t_min"].max(),
                                        start_min, end_min))
    e_pct = 100 * (inside["flow_ml_h"].to_numpy() - rate_ml_h) / rate_ml_h
    rows = []
    for p_min in windows_min:
        m = round(p_min / sample_min)
        if m > len(e_pct):
            rows.append({"window_min": p_min, "ep_max_pct": math.nan, "ep_min_pct": math.nan})
            continue
        means = np.convolve(e_pct, np.ones(m) / m, mode="valid")
        rows.append({"window_min": p_min, "ep_max_pct": float(means.max()),
                     "ep_min_pct": float(means.min())})
    overall = float(e_pct.mean())
    return pd.DataFrame(rows), overall


def plot_trumpet(ax, table, overall_pct):
    ax.plot(table["window_min"], table["ep_max_pct"], "o-", label="Ep(max)")
    ax.plot(table["window_min"], table["ep_min_pct"], "s-", label="Ep(min)")
    ax.axhline(overall_pct, color="grey", linestyle="--", label="overall error %.2f %%"
               % overall_pct)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("observation window (min)")
    ax.set_ylabel("flow error (%)")
    ax.set_title("Trumpet curve (IEC 60601-2-24)")
    ax.legend()


def plot_startup(ax, curve):
    ax.plot(curve["t_min"], curve["flow_ml_h"], label="flow Q_i")
    ax.plot(curve["t_min"], curve["set_rate_ml_h"], "--", label="set rate")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("flow (mL/h)")
    ax.set_title("Start-up curve")
    ax.legend()

"""Trumpet and start-up curves on synthetic balance series whose Ep values are known by hand."""

import numpy as np
import pandas as pd
import pytest

from host_tools.logs import trumpet

RATE_ML_H = 120.0
S_MIN = 0.5
DENSITY = 0.998


def balance_from_flows(flows_ml_h, density=DENSITY):
    """A balance read every 0.5 min: mass after each interval of the given flows."""
    ml = np.concatenate([[0.0], np.cumsum(np.asarray(flows_ml_h) * S_MIN / 60)])
    return pd.DataFrame({"t_s": np.arange(len(ml)) * S_MIN * 60, "mass_g": ml * density})


def test_constant_error_gives_flat_trumpet():
    flows = np.full(240, RATE_ML_H * 1.03)  # 3 % over, 2 h
    table, overall = trumpet.trumpet(balance_from_flows(flows), RATE_ML_H)
    assert list(table["window_min"]) == [2, 5, 11, 19, 31]
    assert np.allclose(table["ep_max_pct"], 3.0) and np.allclose(table["ep_min_pct"], 3.0)
    assert overall == pytest.approx(3.0)


def test_periodic_error_matches_the_hand_computation():
    # Per-sample errors repeat +10, +10, -10, -10 %. A window of m samples holds whole periods
    # (sum 0) plus m mod 4 leftover samples; with m even the leftover is 2 samples: +20, 0 or
    # -20 % in total, so Ep(max) = +20/m and Ep(min) = -20/m, or 0 when 4 divides m.
    pattern = np.array([10, 10, -10, -10])
    errors_pct = np.tile(pattern, 60)
    flows = RATE_ML_H * (1 + errors_pct / 100)
    table, overall = trumpet.trumpet(balance_from_flows(flows), RATE_ML_H)
    expected = {2: 0.0, 5: 20 / 10, 11: 20 / 22, 19: 20 / 38, 31: 20 / 62}
    for _, row in table.iterrows():
        assert row["ep_max_pct"] == pytest.approx(expected[row["window_min"]], abs=1e-9)
        assert row["ep_min_pct"] == pytest.approx(-expected[row["window_min"]], abs=1e-9)
    assert overall == pytest.approx(0.0, abs=1e-9)


def test_irregular_balance_samples_are_resampled_to_half_minutes():
    t_s = np.arange(0, 2 * 3600 + 7, 7.0)  # a reading every 7 s, past 120 min
    mass_g = RATE_ML_H * 0.95 * t_s / 3600 * DENSITY
    balance = pd.DataFrame({"t_s": t_s, "mass_g": mass_g})
    table, overall = trumpet.trumpet(balance, RATE_ML_H)
    assert np.allclose(table[["ep_max_pct", "ep_min_pct"]], -5.0)
    flow = trumpet.flow(balance)
    assert np.allclose(np.diff(flow["t_min"]), S_MIN)


def test_analysis_period_is_the_second_hour():
    # 5 % over in the first hour, exact in the second: the trumpet sees only the second hour
    flows = np.concatenate([np.full(120, RATE_ML_H * 1.05), np.full(120, RATE_ML_H)])
    table, overall = trumpet.trumpet(balance_from_flows(flows), RATE_ML_H)
    assert np.allclose(table["ep_max_pct"], 0.0) and overall == pytest.approx(0.0)
    table, _ = trumpet.trumpet(balance_from_flows(flows), RATE_ML_H, start_min=0)
    assert table.iloc[0]["ep_max_pct"] == pytest.approx(5.0)


def test_startup_curve_covers_two_hours_at_half_minute_steps():
    flows = np.concatenate([np.linspace(0, RATE_ML_H, 20), np.full(300, RATE_ML_H)])
    curve = trumpet.startup_curve(balance_from_flows(flows), RATE_ML_H)
    assert curve["t_min"].iloc[-1] == 120 and len(curve) == 240
    assert np.allclose(curve["flow_ml_h"][:20], flows[:20])
    assert (curve["set_rate_ml_h"] == RATE_ML_H).all()


def test_bad_balance_logs_are_one_clear_error(tmp_path):
    missing = tmp_path / "b.csv"
    missing.write_text("time,grams\n0,0\n30,1\n")
    with pytest.raises(trumpet.UserError, match="lacks column"):
        trumpet.load_balance(missing)
    with pytest.raises(trumpet.UserError, match="no such balance log"):
        trumpet.load_balance(tmp_path / "nope.csv")
    short = balance_from_flows(np.full(100, RATE_ML_H))  # 50 min: no second hour
    with pytest.raises(trumpet.UserError, match="analysis period"):
        trumpet.trumpet(short, RATE_ML_H)
    good = tmp_path / "g.csv"
    good.write_text("# virtual balance\nt_s,mass_g\n0,0.0\n30,1.0\n")
    assert list(trumpet.load_balance(good)["mass_g"]) == [0.0, 1.0]

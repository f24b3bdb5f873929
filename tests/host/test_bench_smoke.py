"""Smoke test of the benchmark suite (bench/): the cheap metric functions on tiny inputs and the
results.json schema. No timing assertions: figures are for `make bench`, not for tests."""

import json
import shutil

import pytest

from bench import apprun, cohortspeed, exactness, ingest, make_test, mpy, run
from bench import results as R

N = apprun.WORK_PER_STEP


def test_error_and_transition_math_on_a_hand_made_history():
    spm = 1000
    rate = 3_600_000  # 1 step per ms at 1000 steps/mL
    rates = [(0, rate), (10_000, 0), (20_000, rate)]
    steps = [1000 * k for k in range(1, 11)] + [20_000 + 1000 * k for k in range(1, 6)]
    assert apprun.cumulative_error(steps, rates, spm) == pytest.approx(1.0)
    assert exactness.transitions(steps, rates, spm) == [0.0, 0.0]
    late = steps[:10] + [s + 250 for s in steps[10:]]
    assert exactness.transitions(late, rates, spm) == [0.0, 250.0]
    assert apprun.cumulative_error(late, rates, spm) == pytest.approx(1.25)


def test_quick_exactness_run_on_the_real_app():
    out = exactness.measure(run.QUICK_SCENARIOS, seeds=(1,), spm=400, workers=1)
    assert out["max_cumulative_error_steps"]["value"] <= 1 + 1e-3
    assert out["transition_error_ms"]["value"] < 0.01
    assert out["stop_latency_steps"]["value"] <= 1
    R.check_schema(out)


def test_ingest_on_a_tiny_capture():
    out = ingest.measure(n_records=500, runs=1)
    assert out["log_ingest_records_per_s"]["value"] > 0
    assert out["log_ingest_vs_read_csv_ratio"]["value"] > 0
    R.check_schema(out)


def test_cohort_speed_on_a_small_run():
    out = cohortspeed.measure(infusions=300, workers=1)
    assert out["cohort_infusions_per_s"]["value"] > 0
    assert out["cohort_100k_infusions_s"]["limit"] == 60.0
    R.check_schema(out)


def test_mpy_lane_figures_or_a_reason():
    out = mpy.measure(calls=50, reps=1)
    R.check_schema(out)
    if shutil.which("node") is None or not mpy.PACKAGE.is_dir():
        assert out["alloc_bytes_per_tick"]["value"] is None
    else:
        assert out["alloc_bytes_per_irq"]["value"] == 0
        assert out["heap_after_start_bytes"]["value"] > 0


def test_make_test_is_opt_in_and_carried_over():
    out = make_test.measure(False, {})
    assert out["make_test_seconds"]["value"] is None
    assert "FULL=1" in out["make_test_seconds"]["reason"]
    last = R.metric(61.5, "s", None, "timed", measured_at="2026-01-01 00:00 UTC")
    carried = make_test.measure(False, {"make_test_seconds": last})["make_test_seconds"]
    assert carried["value"] == 61.5 and "carried over" in carried["how"]


def test_results_schema_and_file(tmp_path):
    results = {"a": R.metric(1.5, "ms", 2, "measured"), "b": R.not_measured("x", "no board")}
    assert results["a"]["ok"] is True
    R.stamp(results)
    path = tmp_path / "results.json"
    R.write(results, path)
    back = json.loads(path.read_text())
    assert set(back["a"]) >= set(R.KEYS) and back["b"]["value"] is None
    assert "| a " in R.table(back)
    with pytest.raises(ValueError):
        R.check_schema({"c": {"value": None, "unit": "s", "limit": None, "ok": None, "how": ""}})
    with pytest.raises(ValueError):
        R.check_schema({"d": {"value": 1, "unit": "s"}})


def test_make_bench_starts_in_a_fresh_interpreter():
    """`make bench`'s entry point imports on its own: no test conftest puts tests/ on the path."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(run.__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--help"], cwd=root,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--only" in proc.stdout


def test_a_family_that_fails_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    def fake_family(name, args, previous):
        if name == "mpy":
            raise RuntimeError("the board said no")
        return {"%s_figure" % name: R.metric(1.0, "s", None, "fake")}

    monkeypatch.setattr(run, "run_family", fake_family)
    out_path = tmp_path / "results.json"
    assert run.main(["--only", "trumpet,mpy,ingest", "--out", str(out_path)]) == 1
    back = json.loads(out_path.read_text())
    assert back["trumpet_figure"]["value"] == 1.0 and back["ingest_figure"]["value"] == 1.0
    assert back["mpy_family"]["value"] is None
    assert "the board said no" in back["mpy_family"]["reason"]

"""The cohort simulator: reproducible on any engine, the real controller's numbers, the paper's
calibration, and `pumpctl cohort` end to end."""

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from capkit import VirtualDevice, write_capture

from host_tools import cohort, logs
from host_tools.cohort import patient
from host_tools.commands.cli import main
from host_tools.logs.capfile import UserError

SMALL = dataclasses.replace(cohort.PAPER, patients=12)


def test_same_seed_same_table_whatever_the_workers_and_chunks():
    one = cohort.simulate(SMALL, seed=5, replicates=2, workers=1)
    many = cohort.simulate(SMALL, seed=5, replicates=2, workers=2, chunk_patients=5)
    pd.testing.assert_frame_equal(one, many)
    other = cohort.simulate(SMALL, seed=6, replicates=2, workers=1)
    assert not one["duration_min"].equals(other["duration_min"])
    assert list(one.columns) == list(logs.INFUSION_COLUMNS) + ["replicate", "arm", "weight_kg"]


def test_a_dask_scheduler_gives_the_identical_table():
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                      dashboard_address=None) as cluster:
            on_dask = cohort.simulate(SMALL, seed=5, replicates=2,
                                      dask_address=cluster.scheduler_address)
    pd.testing.assert_frame_equal(on_dask, cohort.simulate(SMALL, seed=5, replicates=2,
                                                           workers=1))


def test_a_simulated_infusion_is_the_one_a_capture_of_the_controller_gives(tmp_path):
    """Static inputs (no step-up holds): the simulator's row equals logs.summary() of a capture
    of the same infusion written by the real protocol encoders."""
    s = cohort.PUMP
    role = {"ir": True, "episodes": 2, "interrupted": True}
    rng = np.random.default_rng(11)
    dev = VirtualDevice()
    dev.hello()
    sim_rows = []
    for infusion in (1, 2, 3):
        inputs = patient.inputs_for(s, rng, infusion, role)
        dev.infusion(infusion, inputs)
        result = cohort.patient.preview.run(dev.regimen, infusion, inputs)
        events = [(t, n, patient._fields(n, a, b)) for t, n, a, b in result["events"]]
        sim_rows.append(patient.summarise(events, {"elapsed_ms": result["elapsed_ms"],
                                                   "infusing_ms": result["infusing_ms"],
                                                   "vol_ul": result["delivered_ul"]}))
    table = logs.summary(logs.load(write_capture(tmp_path / "s.cap", dev.lines)))
    columns = ["infusion", "outcome", "duration_min", "infusing_min", "paused_min",
               "interrupted_min", "n_ir", "ir_onset_min", "ir_resolved_min", "ir_episodes",
               "delivered_ml", "n_interruptions"]
    for (_, got), want in zip(table.iterrows(), sim_rows, strict=True):
        assert [got[c] for c in columns] == pytest.approx([want[c] for c in columns],
                                                          nan_ok=True)
    assert table.iloc[0]["n_ir"] == 2


def test_the_paper_scenario_reproduces_the_medians_and_the_per_patient_figures():
    table = cohort.simulate(cohort.PAPER, seed=1, replicates=24, workers=2)
    side = cohort.paper.beside_paper(table).set_index("infusion_group")
    assert abs(side.loc["1", "sim_median_min"] - 222) <= 4
    assert abs(side.loc["2", "sim_median_min"] - 111) <= 2
    assert side.loc["3+", "sim_median_min"] == 75
    assert side.loc["1", "sim_median_lo"] <= 222 <= side.loc["1", "sim_median_hi"]
    per = cohort.paper.per_patient_by_cohort(table)
    assert per["patients_with_ir"] == 19 and per["ir_episodes"] == 20
    assert per["patients_interrupted"] == 18 and per["patients_not_interrupted"] == 1
    assert 820 <= per["infusions"] <= 920  # the paper: 871
    assert list(side["fastest_250ml_min"]) == [200, 105, 75]  # the controller's own
    assert len(cohort.paper.impossible(side.reset_index())) == 3  # every paper minimum


def test_roles_are_exact_counts_per_cohort():
    for replicate in range(1, 6):
        roles = cohort.roles(cohort.PAPER, 1, replicate)
        ir = [r for r in roles.values() if r["ir"]]
        assert len(ir) == 19 and sum(r["episodes"] for r in ir) == 20
        assert sum(not r["interrupted"] for r in ir) == 1


def test_cohort_command_writes_and_reads_back(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["cohort", "--patients", "10", "--replicates", "2", "--workers", "1",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "222 min (60-366)" in printed and printed.count("not reachable:") == 3
    saved = pd.read_parquet(out / "cohort.parquet")
    assert len(saved) > 20 and json.loads((out / "scenario.json").read_text())["patients"] == 10
    assert main(["cohort", str(out / "cohort.csv")]) == 0
    again = capsys.readouterr().out
    assert "these data" in again
    line = [ln for ln in printed.splitlines() if ln.startswith("1 ")][0]
    assert line in again  # the same medians from the CSV read back


def test_scenario_mistakes_are_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ir_patient_shre": 0.5}))
    with pytest.raises(UserError, match="unknown fields ir_patient_shre"):
        cohort.load(str(bad))
    bad.write_text(json.dumps({"pause_share": 2}))
    with pytest.raises(UserError, match="pause_share must be 0..1"):
        cohort.load(str(bad))
    good = tmp_path / "fast.json"
    good.write_text(json.dumps({"step_up_lag_mean_min": [0, 0]}))
    assert cohort.load(str(good)).step_up_lag_mean_min == (0, 0)
    assert main(["cohort", "--scenario", "nope"]) == 1
    assert "no scenario 'nope'" in capsys.readouterr().err

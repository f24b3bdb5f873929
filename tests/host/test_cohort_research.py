"""The research side of the simulator: Part A, patient-level effects, fits kept apart from
predictions, validation verdicts that can miss, and the sensitivity sweep (small and seeded)."""

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from host_tools import cohort
from host_tools.cohort import fit, sweep, validate
from host_tools.cohort.scenario import PART_A
from host_tools.logs import patients

A_SMALL = dataclasses.replace(PART_A, patients=12)
B_SMALL = dataclasses.replace(cohort.PAPER, patients=12)


def test_part_a_patients_get_their_weight_based_dose_in_mg_h():
    table = cohort.simulate(A_SMALL, seed=3, replicates=1, workers=1, upto=3)
    assert set(table["arm"]) == {"A"} and table["weight_kg"].nunique() > 3
    done = table[table["outcome"] == "complete"]
    # 10 mg/kg at 4 mg/mL: 2.5 mL per kg, whatever the rate
    assert np.allclose(done["delivered_ml"], done["weight_kg"] * 2.5, atol=0.001)
    roles = cohort.roles(PART_A, 1, 1)
    ir = [r for r in roles.values() if r["ir"]]
    assert len(ir) == 15 and sum(r["at"] == 2 for r in ir) == 2  # 48.3 %; 2 later (6.7 %)


def _inf12_correlation(sigma):
    s = dataclasses.replace(cohort.PAPER, patients=80, ir_patient_share=0.0, pause_share=0.0,
                            stop_early_share=0.0, patient_hold_sigma=sigma)
    t = cohort.simulate(s, seed=4, replicates=1, workers=1, upto=2)
    wide = t.pivot(index="subject", columns="infusion", values="duration_min").dropna()
    assert len(wide) > 40
    return np.corrcoef(wide[1], wide[2])[0, 1]


def test_a_patient_effect_makes_a_patients_infusions_alike():
    assert _inf12_correlation(1.0) > 0.4  # the same patient's holds: clustered
    assert abs(_inf12_correlation(0.0)) < 0.3  # none: infusions independent


def _fake(rows):
    """rows: (replicate, subject, infusion, hours, outcome)."""
    return pd.DataFrame({"replicate": [r[0] for r in rows], "subject": [r[1] for r in rows],
                         "source": "t", "index": range(len(rows)),
                         "infusion": [r[2] for r in rows], "duration_h": [r[3] for r in rows],
                         "duration_min": [r[3] * 60 for r in rows],
                         "outcome": [r[4] for r in rows], "n_ir": 0, "n_interruptions": 0,
                         "max_ir_grade": 0})


def test_patient_summary_is_one_row_per_patient_with_documented_columns():
    t = _fake([(1, "p1", 1, 3.0, "complete"), (1, "p1", 2, 2.0, "complete"),
               (1, "p1", 5, 1.0, "complete"), (1, "p1", 6, 0.01, "stopped"),
               (2, "p1", 1, 4.0, "complete")])
    s = patients.patient_summary(t)
    assert list(s.columns) == list(patients.PATIENT_COLUMNS)
    assert len(s) == 2  # the same subject in two cohorts is two patients
    first = s.iloc[0]
    assert first["infusions"] == 4 and first["infusions_complete"] == 3
    assert first["cycles"] == 2 and first["median_duration_h"] == 2.0
    assert first["duration_2_h"] == 2.0 and first["median_duration_3plus_h"] == 1.0


def test_bootstrap_by_patient_is_wider_than_by_infusion_when_patients_cluster():
    groups = [np.full(10, 5.0)] + [np.array([1.0 + k / 10]) for k in range(9)]
    p = patients
    median, lo, hi = p.bootstrap_median(groups, n_boot=500, seed=1)
    naive = p.bootstrap_median([np.array([x]) for g in groups for x in g], n_boot=500, seed=1)
    assert median == naive[0] == 5.0
    assert hi - lo > naive[2] - naive[1]
    assert p.bootstrap_median(groups, n_boot=500, seed=1) == (median, lo, hi)  # seeded
    with pytest.warns(p.SmallSampleWarning, match="1 patient"):
        assert math.isnan(p.bootstrap_median([np.array([1.0, 2.0])])[1])


def test_n_counts_patients_and_replicates_apart():
    t = cohort.simulate(dataclasses.replace(B_SMALL, patients=5), seed=2, replicates=3,
                        workers=1, upto=2)
    assert patients.counts(t) == {"patients": 5, "replicates": 3,
                                                "patients_total": 15}
    from host_tools.logs import cohortstats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t2 = cohortstats.table2(t, t)
    md = cohortstats.table2_markdown(t2, "B", cohortstats.n_patients(t), "A",
                                     cohortstats.n_patients(t))
    assert "A N=5 per cohort, 3 cohorts" in md and "N=15" not in md


def test_a_replicate_interval_is_never_a_single_value_dressed_as_95_percent():
    t = cohort.simulate(B_SMALL, seed=2, replicates=1, workers=1)
    side = cohort.paper.beside_paper(t, n_boot=200)
    assert (side["interval"] == "bootstrap by patient").all()
    first = side.set_index("infusion_group").loc["1"]
    assert first["sim_median_lo"] < first["sim_median_hi"]
    assert side["sim_min_lo"].isna().all()  # a range end of one cohort has no interval
    lines = cohort.paper.text(side, {}, "simulated")
    assert "nan" not in "\n".join(lines) and "bootstrap by patient" in lines[0]


def test_crossing_interpolates_and_says_nan_when_the_target_is_not_reached():
    assert fit.crossing([1, 2, 3], [10, 20, 30], 25) == pytest.approx(2.5)
    assert fit.crossing([1, 2, 3], [10, 20, 30], 20) == 2
    assert math.isnan(fit.crossing([1, 2, 3], [10, 20, 30], 40))


def test_fit_recovers_a_known_hold_mean():
    """Targets made by the model itself at hold means (3, 3): the fit must find 3 in every
    cohort (common random numbers), and the interval must be that point."""
    truth = dataclasses.replace(B_SMALL, step_up_lag_mean_min=(3.0, 3.0))
    t = cohort.simulate(truth, seed=9, replicates=1, workers=1, upto=2)
    want = t.groupby("infusion")["duration_h"].median()
    params = (fit.Parameter("B", "step_up_lag_mean_min", 0, 1, want[1], "self"),
              fit.Parameter("B", "step_up_lag_mean_min", 1, 2, want[2], "self"))
    got = fit.fit(seed=9, replicates=1, workers=1, grid=(1.0, 2.0, 3.0, 4.0, 6.0),
                  scenarios={"B": B_SMALL}, parameters=params)
    assert list(got["fitted"]) == [3.0, 3.0]
    assert got["lo"].isna().all()  # one cohort: no interval claimed


def test_validate_marks_kinds_and_reports_a_miss_as_a_miss():
    b = cohort.simulate(B_SMALL, seed=1, replicates=3, workers=1)
    a = cohort.simulate(A_SMALL, seed=1, replicates=3, workers=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = validate.validate(b, a).set_index("figure")
    assert set(table["kind"]) == {"input", "fitted", "fitted by hand", "predicted"}
    patients = table.loc["Part B patients"]
    assert patients["model"] == 12 and patients["verdict"] == "MISS"  # 12 is not 47
    assert table.loc["Part B infusion 3+ median", "verdict"] == "within"  # 75 min, exactly
    assert table.loc["p, 2nd infusion, A vs B", "kind"] == "predicted"
    assert table.loc["Part A 2nd infusion median", "kind"] == "fitted"
    assert table.loc["Part A ≥2nd infusion median", "kind"] == "predicted"
    assert "fastest complete infusion" in table.loc["Part B infusion 1 shortest", "note"]
    md = validate.markdown(table.reset_index(), 3, 1)
    assert "| Results, Patients | Part B patients (patients) | input | 47 | 12 | 12-12 | 3/3 |" \
        " MISS" in md


def test_a_verdict_is_within_edge_or_miss_by_where_the_paper_falls_among_cohorts():
    cohorts = list(range(1, 21))  # 20 cohorts' values: 1, 2, ..., 20
    assert validate.judge(cohorts, "10")[3:] == ("9/20", "within")
    assert validate.judge(cohorts, "19.5")[3:] == ("19/20", "edge")  # beyond 95 % of them
    assert validate.judge(cohorts, "25")[4] == "MISS"
    assert validate.judge(cohorts, ">15")[4] == "within"  # a bound is never an edge
    assert validate.judge([5.0], "5")[4] == "no interval"  # one cohort claims none


def test_paper_figures_allow_their_printed_precision():
    assert validate._paper_bounds("3.70") == pytest.approx((3.695, 3.705))
    assert validate._paper_bounds("<0.0001") == (0.0, 0.0001)
    assert validate._paper_bounds(">60") == (60.0, math.inf)


def test_sweep_moves_only_what_an_assumption_touches(tmp_path):
    picks = tuple(a for a in sweep.ASSUMPTIONS if a[0] in ("pause_share", "weight_median_kg"))
    table = sweep.sweep(seed=2, replicates=2, workers=1, assumptions=picks,
                        scenarios={"A": A_SMALL, "B": B_SMALL})
    b = table[(table["arm"] == "B")].set_index(["assumption", "output"])
    assert b.loc[("pause_share", "B infusion 3+ max"), "low_delta_min"] <= 0  # no pauses
    assert b.loc[("pause_share", "B infusion 3+ median"), "low_delta_min"] == 0
    assert "weight_median_kg" not in set(table.loc[table["arm"] == "B", "assumption"])
    a = table[(table["arm"] == "A")].set_index(["assumption", "output"])
    assert a.loc[("weight_median_kg", "A infusion 1 median"), "high_delta_min"] > 0  # more mg
    fig = sweep.tornado(table, 2, 2)
    fig.savefig(tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 10_000
    assert len([ax for ax in fig.axes if ax.has_data()]) == table["output"].nunique()


def test_research_commands_refuse_what_they_cannot_do_in_one_line(capsys):
    from host_tools.commands.cli import main

    assert main(["cohort", "validate", "--replicates", "1"]) == 1
    assert "needs --replicates >= 2" in capsys.readouterr().err
    assert main(["cohort", "fit", "some.csv"]) == 1
    assert "cohort fit takes no files" in capsys.readouterr().err
    assert main(["cohort", "--replicates", "0"]) == 1
    assert "--replicates must be >= 1" in capsys.readouterr().err

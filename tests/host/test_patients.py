"""Statistics on captures that respect what a reader of Table 2 expects: a stopped test infusion
kept out unless asked, N in patients, and no p-value without a word when n is too small."""

import warnings

import pytest
from capkit import HOST_NS0, MIN, VirtualDevice, write_capture

from host_tools import logs
from host_tools.logs import capfile, cohortstats
from pumpfw import preview


def _capture(tmp_path, name, subject_runs):
    """One capture per subject: [(infusion, inputs)] run in order."""
    dev = VirtualDevice()
    dev.hello()
    for number, inputs in subject_runs:
        dev.infusion(number, inputs)
    return write_capture(tmp_path / name, dev.lines)


def test_a_stopped_5_second_test_infusion_stays_out_of_table2_unless_asked(tmp_path):
    _capture(tmp_path, "p1.cap", [(1, [(5_000, preview.STOP, 0)]), (1, [])])
    table = logs.summary(logs.load(tmp_path))
    assert list(table["outcome"]) == ["stopped", "complete"]
    with pytest.warns(logs.LeftOutWarning, match=r"1 infusion\(s\) left out.*stopped"):
        t2 = logs.table2(table).set_index("infusion")
    assert t2.loc["1st Infusion", "median_b_h"] == pytest.approx(200 / 60)  # not 0.00 h
    assert t2.loc["1st Infusion", "n_b"] == 1
    md = cohortstats.table2_markdown(t2.reset_index(), "pump", cohortstats.n_patients(table))
    assert "| 1st Infusion | 3.33 |" in md and "0.00" not in md
    asked = logs.table2(table, incomplete=True).set_index("infusion")
    assert asked.loc["1st Infusion", "n_b"] == 2
    assert asked.loc["1st Infusion", "median_b_h"] < 200 / 60 / 2 + 0.01
    with pytest.warns(logs.LeftOutWarning):
        medians = logs.cohort(table)
    assert medians.iloc[0]["text"] == "3.33 h (range 3.33-3.33)"


def test_one_patient_a_side_gives_no_p_value_and_says_so(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _capture(tmp_path / "a", "a.cap", [(1, [(30 * MIN, preview.PAUSE, 0),
                                          (40 * MIN, preview.RESUME, 0)])])
    _capture(tmp_path / "b", "b.cap", [(1, [])])
    a = logs.summary(logs.load(tmp_path / "a"))
    b = logs.summary(logs.load(tmp_path / "b"))
    with pytest.warns(logs.SmallSampleWarning, match="n = 1 and 1: no test"):
        t2 = logs.table2(b, a)
    assert t2["p_value"].isna().all()
    md = cohortstats.table2_markdown(t2, "b", 1, "a", 1)
    assert "| 1st Infusion | 3.50 | 3.33 | n too small |" in md
    assert "n too small: fewer than 4 patients" in md


def test_several_captures_of_one_subject_are_one_patient(tmp_path):
    for k in range(3):
        dev = VirtualDevice()
        dev.hello()
        dev.infusion(k + 1)
        with capfile.CaptureWriter(tmp_path / ("s%d.cap" % k), "virtual", HOST_NS0,
                                   subject="p7") as w:
            for t_ms, raw in dev.lines:
                w.line(raw, HOST_NS0 + t_ms * 10**6 + 1000)
    table = logs.summary(logs.load(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert logs.counts(table) == {"patients": 1, "replicates": 1, "patients_total": 1}
    assert cohortstats.n_patients(table) == 1

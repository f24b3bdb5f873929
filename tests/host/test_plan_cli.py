"""`pumpctl plan` end to end: the console script, its JSON, and its errors."""

import json
import subprocess
import sys

import pytest

from host_tools.commands.cli import main


def plan_json(capsys, *args):
    assert main(["plan", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("infusion,total", [(1, 200), (2, 105), (3, 75), (7, 75)])
def test_durations_per_infusion(capsys, infusion, total):
    report = plan_json(capsys, "--infusion", str(infusion))
    assert report["total_min"] == total
    assert report["infusing_min"] == total
    assert report["volume_ml"] == 250
    assert report["outcome"] == "complete"
    assert report["segments"][-1]["volume_ml"] == 250


def test_grade2_at_45_resolved_after_20(capsys):
    report = plan_json(capsys, "--infusion", "1", "--ir", "45:2:20")
    assert report["infusing_min"] == 227.5
    assert report["total_min"] == 247.5
    assert report["interruptions"] == 1
    rates = [s["rate_ml_h"] for s in report["segments"]]
    assert rates[:4] == [25, 0, 12.5, 37.5] and rates[-1] == 150


def test_grade2_not_interrupted_holds_the_ladder(capsys):
    report = plan_json(capsys, "--infusion", "1", "--ir-continue", "45:20")
    assert report["interruptions"] == 0 and report["outcome"] == "complete"
    assert report["total_min"] == report["infusing_min"] == pytest.approx(245 + 550 / 60, abs=1e-4)
    assert report["segments"][0] == {"start_min": 0, "end_min": 125, "state": "running",
                                     "rate_ml_h": 25, "volume_ml": 52.083}
    held = plan_json(capsys, "--infusion", "2", "--ir-continue", "10")
    assert held["total_min"] == 300 and held["segments"][-1]["rate_ml_h"] == 50


@pytest.mark.parametrize("minute", [0, 1, 59.5, 61, 150, 199])
def test_grade3_discontinues_and_freezes_the_volume(capsys, minute):
    report = plan_json(capsys, "--infusion", "1", "--ir", "%s:3" % minute)
    assert report["outcome"] == "discontinued"
    assert report["total_min"] == minute
    assert report["volume_ml"] == report["segments"][-1]["volume_ml"] < 250


def test_segments_are_contiguous_and_volumes_follow_the_rates(capsys):
    report = plan_json(capsys, "--infusion", "2", "--pause", "20:15", "--ir", "50:1:5")
    prev_end, volume = 0, 0.0
    for seg in report["segments"]:
        assert seg["start_min"] == prev_end
        volume += seg["rate_ml_h"] * (seg["end_min"] - seg["start_min"]) / 60
        assert seg["volume_ml"] == pytest.approx(volume, abs=1e-3)
        prev_end = seg["end_min"]
    assert report["total_min"] == 105 + 15
    assert report["infusing_min"] == 105


def test_a_refused_input_is_reported(capsys):
    report = plan_json(capsys, "--infusion", "1", "--ir", "10:2:30", "--pause", "20:5")
    # Paused while interrupted by the IR: both halves of the pause are refused, and said so.
    assert report["rejected"] == [
        {"min": 20, "input": "pause", "arg": 0, "reason": "state"},
        {"min": 25, "input": "resume", "arg": 0, "reason": "state"},
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--infusion", "0"],
        ["--infusion", "x"],
        ["--infusion", "1", "--ir", "45"],
        ["--infusion", "1", "--ir", "45:9"],
        ["--infusion", "1", "--ir", "45:3:10"],
        ["--infusion", "1", "--ir", "-1:2:5"],
        ["--infusion", "1", "--pause", "10"],
        ["--infusion", "1", "--ir-continue", "10:0"],
        ["--infusion", "1", "--ir-continue", "10:5:5"],
        ["--infusion", "1", "--pause", "10:0"],
        [],
    ],
)
def test_bad_arguments_give_one_line_and_nonzero_exit(args):
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools.commands.cli", "plan", *args], capture_output=True,
        text=True)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_human_output_names_the_outcome(capsys):
    assert main(["plan", "--infusion", "3"]) == 0
    out = capsys.readouterr().out
    assert "outcome: complete" in out and "total 75 min" in out


def test_part_a_by_weight_in_mg_h(capsys):
    report = plan_json(capsys, "--regimen", "part-a", "--weight-kg", "72", "--infusion", "1")
    assert report["dose_mg"] == 720 and report["volume_ml"] == 180
    assert report["concentration_mg_ml"] == 4
    assert [s["rate_mg_h"] for s in report["segments"]] == [175, 225, 275, 325, 375, 400]
    assert report["total_min"] == 154.875
    heavier = plan_json(capsys, "--regimen", "part-a", "--weight-kg", "100", "--infusion", "2")
    assert heavier["volume_ml"] == 250 and heavier["total_min"] > 136.125
    assert main(["plan", "--regimen", "part-a", "--weight-kg", "72", "--infusion", "1"]) == 0
    text = capsys.readouterr().out
    assert "dose 720 mg (10 mg/kg x 72 kg) at 4 mg/mL" in text and "mg/h" in text


@pytest.mark.parametrize("args,message", [
    (["--regimen", "part-a"], "needs --weight-kg"),
    (["--regimen", "part-b", "--weight-kg", "70"], "are for --regimen part-a"),
    (["--regimen", "part-a", "--weight-kg", "0"], "weight must be 1..300 kg"),
    (["--regimen", "part-a", "--weight-kg", "70", "--concentration-mg-ml", "0"], "must be > 0"),
])
def test_part_a_mistakes_are_one_line(capsys, args, message):
    assert main(["plan", "--infusion", "1", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1

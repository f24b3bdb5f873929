"""HIL: what the pump really sent, captured, is what researchers load and report: infusion 1
with a grade-2 IR, then the same capture with a sequence gap and with a corrupted line."""

import time

import pandas as pd
import pytest

from hil_tests.hilkit import DURATION_TOL_MIN, at_minute, run_to_completion, start
from host_tools import logs
from host_tools.commands import cli
from host_tools.logs import capfile
from pumpfw import protocol as P


def device_minutes(raw_lines):
    """(duration, infusing) in min by the device's own events and last record: what the report
    must say exactly, whatever the rig's timing."""
    events = {}
    last = None
    for raw in raw_lines:
        msg = P.parse_line(raw)
        if msg.kind == "ev":
            events.setdefault(msg.name, msg.fields["t_ms"])
        elif msg.kind == "rec":
            last = msg.fields
    return (events["complete"] - events["start"]) / 60_000, last["infusing_ms"] / 60_000


def write_capture(path, raw_lines):
    """The raw device lines as `pumpctl capture` writes them (host times 1 ms apart)."""
    t0 = time.time_ns()
    with capfile.CaptureWriter(path, port="hil", host_ns=t0) as w:
        for i, raw in enumerate(raw_lines):
            w.line(raw, t0 + i * 1_000_000)
    return path


# One capture serves both tests of a worker (4 h of device time on a slow rig); make hil-rp2
# runs them on one worker (--dist loadgroup). Keyed by the rig's kind: sim, pico, serial.
CAPTURES = {}
pytestmark = pytest.mark.xdist_group("infusion-1-capture")


@pytest.fixture
def captured(rig, pump, tmp_path):
    """A real capture of infusion 1 with a grade-2 IR at 45 min resolved at 65 min."""
    if rig.name not in CAPTURES:
        CAPTURES[rig.name] = capture(rig, pump)
    return CAPTURES[rig.name]


def capture(rig, pump):
    start_ev = start(pump, 1)
    at_minute(rig, pump, start_ev, 45)
    pump.run("ir", 2)
    at_minute(rig, pump, start_ev, 65)
    pump.run("resolved")
    run_to_completion(rig, pump, 300)
    pump.status()
    return list(pump.log)


@pytest.mark.device_min(248)
@pytest.mark.needs("time_warp")
def test_report_on_a_captured_infusion_1_with_a_grade2_ir(captured, tmp_path, hil_record):
    cap = write_capture(tmp_path / "inf1.cap", captured)
    out = tmp_path / "report"
    assert cli.main(["report", str(cap), "-o", str(out)]) == 0
    table = pd.read_csv(out / "infusions.csv")
    row = table[table["infusion"] == 1].iloc[0]
    # The IR and resolved commands reach the pump a little after their minute (the rig's clock
    # runs in real time between its steps): the schedule within DURATION_TOL_MIN, as every HIL
    # duration, and exactly what the device's own events say.
    duration, infusing = device_minutes(captured)
    hil_record.within("duration", row["duration_min"], "min", 247.5, DURATION_TOL_MIN)
    hil_record.within("duration (device events)", row["duration_min"], "min", duration, 1e-6)
    hil_record.within("infusing", row["infusing_min"], "min", 227.5, DURATION_TOL_MIN)
    hil_record.within("interruptions", row["n_interruptions"], "count", 1, 0)
    hil_record.within("delivered", row["delivered_ml"], "mL", 250, 0)
    assert str(row["ir_grades"]) == "2"
    for suffix in (".png", ".svg"):
        plots = list(out.glob("infusion_*" + suffix))
        assert plots and all(p.stat().st_size > 1000 for p in plots)
    # The plotted rate series is the one in the records, decoded here independently.
    plotted = pd.read_csv(next(out.glob("infusion_*_rate.csv")))
    rates = sorted({P.parse_line(raw).fields["rate_ul_h"] / 1000 for raw in captured
                    if b" rec " in raw})
    assert sorted(set(plotted["rate_ml_h"].round(3))) == rates


@pytest.mark.device_min(248)
@pytest.mark.needs("time_warp")
def test_a_gap_and_a_corrupted_line_in_a_real_capture(captured, tmp_path, hil_record):
    recs = [i for i, raw in enumerate(captured) if b" rec " in raw]
    gap = set(recs[10:15])  # five records lost on the way
    bad = recs[40]
    damaged = []
    for i, raw in enumerate(captured):
        if i in gap:
            continue
        if i == bad:
            star = raw.rindex(b"*")
            raw = raw[: star - 1] + (b"7" if raw[star - 1 : star] != b"7" else b"8") + raw[star:]
        damaged.append(raw)
    log = logs.load(write_capture(tmp_path / "damaged.cap", damaged))
    health = log.integrity().iloc[0]
    hil_record.within("checksum failures", health["checksum_failures"], "lines", 1, 0)
    hil_record.within("missing lines", health["seq_missing"], "lines", 5, 0)
    row = logs.summary(log).iloc[0]
    duration, _ = device_minutes(captured)
    hil_record.within("duration despite the damage", row["duration_min"], "min", duration, 1e-6)
    assert len(log.records) == len(recs) - 5 - 1  # the corrupted record is excluded, not kept

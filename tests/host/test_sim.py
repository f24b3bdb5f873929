"""Virtual-board harness: endpoints, serial, virtual clock, stepper, buttons, a stalled host."""

import re
import time

import pytest
from simkit import fixture_board, line_on


@pytest.fixture(scope="module")
def sim():
    with fixture_board() as board:
        yield board


@pytest.fixture(scope="module")
def line(sim):
    yield from line_on(sim)


def test_endpoints_are_printed(sim):
    for key in ("serial", "control", "balance"):
        assert re.fullmatch(r"socket://127\.0\.0\.1:\d+", sim.endpoints[key])
    assert sim.endpoints["entry"] == "harness_fixture:FixtureApp"
    assert sim.endpoints["pty"] is None  # this board was started without one


def test_round_trip_over_socket_url(line):
    # Line() skipped the boot banner (if pyserial's flush on open had not already dropped it).
    assert line.ask("echo hello board") == "hello board"
    assert line.ask("echo again") == "again"


def test_held_time_moves_only_when_told(sim, line):
    before = sim.status()["vtime_ms"]
    time.sleep(0.2)
    assert sim.status()["vtime_ms"] == before
    after = sim.advance_ms(1234)["vtime_ms"]
    assert after == before + 1234
    target = after + 5000
    assert sim.run_until(target)["vtime_ms"] == target


def test_firmware_sees_the_virtual_clock(sim, line):
    reply = line.ask("time")
    ms, us = (int(v) for v in re.fullmatch(r"ms=(\d+) us=(\d+)", reply).groups())
    status = sim.status()
    assert ms <= status["board_ms"] <= ms + 50  # the reply took a few held ticks to read
    assert us // 1000 == ms  # one clock: ticks_us and ticks_ms agree


def test_fast_mode_covers_200_virtual_minutes(sim, line):
    start = sim.hold()["vtime_ms"]
    ticks = sim.status()["ticks"]
    sim.set_fast()
    deadline = time.monotonic() + 30  # a guard against a hang, not a speed assertion
    while sim.status()["vtime_ms"] < start + 200 * 60_000:
        assert time.monotonic() < deadline, "fast mode did not get through 200 virtual minutes"
        time.sleep(0.05)
    status = sim.hold()
    assert status["vtime_ms"] >= start + 200 * 60_000
    assert status["ticks"] - ticks >= 200 * 60  # the app woke as it asked (every 1000 ms)
    assert line.ask("echo still here") == "still here"


def test_scale_mode_runs_the_clock_on_its_own(sim):
    start = sim.hold()["vtime_ms"]
    sim.set_scale(50)
    time.sleep(0.2)
    status = sim.hold()
    assert status["mode"] == "hold"
    assert status["vtime_ms"] > start


def test_stepper_steps_are_counted_by_the_harness(sim, line):
    assert line.ask("spin 500") == "spin ok"
    before = sim.status()["steps"]
    sim.advance_ms(2000)
    made = sim.status()["steps"] - before
    assert 998 <= made <= 1002  # 500 steps/s for 2 s of virtual time
    assert sim.status()["motor_on"] is True
    assert line.ask("stop") == "stop ok"
    status = sim.status()
    assert status["motor_on"] is False
    assert line.ask("steps") == "steps %d" % status["steps_boot"]


def test_button_press_reaches_the_irq_handler(sim, line):
    sim.press("pause")
    sim.advance_ms(50)
    assert sim.status()["buttons"]["pause"] is True
    assert line.ask("buttons") == "buttons ir=0/1 ok=0/1 pause=1/0"  # active low: pressed = 0
    sim.release("pause")
    sim.advance_ms(50)
    assert line.ask("buttons") == "buttons ir=0/1 ok=0/1 pause=2/1"
    with pytest.raises(Exception, match="no button"):
        sim.press("nonesuch")


def test_a_host_that_stops_reading_does_not_block_the_board(sim, line):
    sim.host_reading(False)
    ticks = sim.status()["ticks"]
    line.send("flood 200")  # 12.8 KB: far more than the 4 KB device buffer
    status = sim.advance_ms(3000)
    assert status["tx_pending"] == 4096  # full: write() now accepts fewer bytes, even 0
    assert status["ticks"] > ticks + 2  # and the firmware keeps running
    assert sim.advance_ms(1000)["vtime_ms"] == status["vtime_ms"] + 1000
    sim.host_reading(True)
    line.send("echo drained")
    assert line.read_until("drained", tries=400) == "drained"  # after the rest of the flood
    assert sim.status()["tx_pending"] < 4096

"""Inputs act at once, judged at the STEP pin of the emulated Pico (issue 18, docs/buttons.md):
a PAUSE or IR press while running stops the motor within the debounce window plus one step
interval, a typed `pause`/`stop` within one step interval plus 1 ms of its last byte, and a
press wholly inside a flash erase at the datasheet maximum is still seen. Each bound holds at
the typical and at the maximum flash busy times. One booted Pico per preset serves every test
(each starts its own infusion 3: 200 mL/h, a step every 1 125 us on boards/pico.py)."""

import pytest
from picokit import Bench, step_edges

from host_tools.pico.picoboard import PicoBoard
from pumpfw.buttons import Button

STEP_US = 1125  # 200 mL/h x 16 000 steps/mL
PRESS_BOUND_US = Button.debounce_ms * 1000 + STEP_US
TYPED_BOUND_US = STEP_US + 1000
ERASE_MAX_US = 400_000  # a 4 KB sector erase at the W25Q16JV's maximum
RUN_MS = 1200  # after the start's journal write, well before the next one (every 4 s)


@pytest.fixture(scope="module", params=["typical", "max"])
def rig(request, flashed):
    with PicoBoard(image=flashed["flash"], hold=True, pty=False,
                   flash_times=request.param) as pico:
        bench = Bench(pico)
        yield pico, bench, request.param
        bench.close()


def _running(pico, bench):
    """A fresh infusion 3, running for RUN_MS; returns the pin's total steps at its start."""
    st = bench.status()["st"]
    if st == "discontinued":
        assert bench.command("clear").kind == "ok"
    elif st in ("running", "paused", "interrupted"):
        assert bench.command("stop").kind == "ok"
    bench.wait_ms(100)
    pin0 = pico.status()["steps"]
    mark = len(bench.seen)
    answer = bench.command("start", 3)
    assert answer.kind == "ok", answer
    bench.wait_ms(RUN_MS)
    assert bench.status()["st"] == "running"
    return pin0, mark


def _press(pico, bench, button, hold_ms):
    """Presses at a held instant, holds, releases; returns that instant (world us)."""
    t_us = pico.status()["vtime_us"]
    pico.press(button)
    pico.advance_ms(hold_ms)
    pico.release(button)
    bench.wait_ms(300)
    return t_us


def _last_edge_after(pico, t_us):
    edges = step_edges(pico, t_us - 50_000)
    assert len(edges) > 10, "the pump was not stepping before the input"
    return edges[-1] - t_us


def _agrees_with_pin(pico, bench, pin0, state):
    status = bench.status()
    assert status["st"] == state
    assert status["steps"] == pico.status()["steps"] - pin0  # what it says is what the pin did
    assert not pico.status()["motor_on"]


def _presses(bench, mark):
    return [m.fields["press"] for m in bench.seen[mark:] if m.kind == "ev" and m.name == "button"]


def test_a_pause_press_stops_the_pin_within_the_debounce_and_one_step(rig):
    pico, bench, _ = rig
    pin0, mark = _running(pico, bench)
    t_us = _press(pico, bench, "pause", 200)
    late = _last_edge_after(pico, t_us)
    assert late <= PRESS_BOUND_US, "stepped %.0f us after the press" % late
    _agrees_with_pin(pico, bench, pin0, "paused")
    assert _presses(bench, mark) == ["pause"]


def test_a_short_ir_press_interrupts_within_the_bound(rig):
    pico, bench, _ = rig
    pin0, mark = _running(pico, bench)
    t_us = _press(pico, bench, "ir", 200)
    late = _last_edge_after(pico, t_us)
    assert late <= PRESS_BOUND_US, "stepped %.0f us after the press" % late
    _agrees_with_pin(pico, bench, pin0, "interrupted")
    assert _presses(bench, mark) == ["ir_interrupt"]


def test_a_long_ir_press_stops_at_once_and_discontinues_on_release(rig):
    pico, bench, _ = rig
    pin0, mark = _running(pico, bench)
    t_us = pico.status()["vtime_us"]
    pico.press("ir")
    bench.wait_ms(300)  # still held: short or long is not decided yet, the motor is stopped
    late = _last_edge_after(pico, t_us)
    assert late <= PRESS_BOUND_US, "stepped %.0f us after the press" % late
    _agrees_with_pin(pico, bench, pin0, "interrupted")  # never `running` while it is not
    bench.wait_ms(1700)
    pico.release("ir")
    bench.wait_ms(300)
    _agrees_with_pin(pico, bench, pin0, "discontinued")
    assert _presses(bench, mark) == ["ir_interrupt", "ir_discontinue"]


def test_a_long_pause_press_while_running_pauses_and_its_release_does_not_resume(rig):
    pico, bench, _ = rig
    pin0, mark = _running(pico, bench)
    t_us = _press(pico, bench, "pause", 2000)
    assert _last_edge_after(pico, t_us) <= PRESS_BOUND_US
    bench.wait_ms(500)
    _agrees_with_pin(pico, bench, pin0, "paused")
    assert _presses(bench, mark) == ["pause"]


def test_a_press_wholly_inside_a_flash_stall_as_long_as_the_worst_erase_is_still_seen(rig):
    pico, bench, preset = rig
    if preset != "max":
        pytest.skip("the stall of the worst erase belongs to the maximum flash times")
    pin0, mark = _running(pico, bench)
    # littlefs erases a sector only every few dozen journal writes: each page program of the
    # journal's next rewrite (every 4 s) is made to hold the CPU as long as the worst erase.
    pico.set_flash_times("max", page=ERASE_MAX_US)
    try:
        programs = pico.status()["flash"]["programs"]
        for _ in range(300):
            pico.advance_ms(20)
            flash = pico.status()["flash"]
            if flash["busy"] and flash["programs"] > programs:
                break
        else:
            pytest.fail("no journal write within 6 s of running")
        t_us = pico.status()["vtime_us"]
        pico.press("pause")
        pico.advance_ms(200)
        pico.release("pause")
        assert pico.status()["flash"]["busy"], "the press was not wholly inside the stall"
        while pico.status()["flash"]["busy"]:
            pico.advance_ms(1)
        end_us = pico.status()["vtime_us"]
    finally:
        pico.set_flash_times("max")
    bench.wait_ms(500)
    assert _presses(bench, mark) == ["pause"]
    late = _last_edge_after(pico, t_us) - (end_us - t_us)
    # Nothing runs on the CPU during the stall: the press is acted on once it ends.
    assert late <= PRESS_BOUND_US, "stepped %.0f us after the stall ended" % late
    _agrees_with_pin(pico, bench, pin0, "paused")


@pytest.mark.xfail(strict=True, reason="not met yet (issue 18): 5-8 ms at 200 mL/h, most of it "
                   "checking and dispatching the line in Python; docs/emulated-pico.md")
@pytest.mark.parametrize("command", ["pause", "stop"])
def test_a_typed_command_stops_the_pin_within_a_step_and_a_ms_of_its_last_byte(rig, command):
    pico, bench, _ = rig
    pin0, _ = _running(pico, bench)
    t_us = pico.status()["vtime_us"]  # held: the line's last byte arrives at this instant
    assert bench.command(command).kind == "ok"
    bench.wait_ms(300)
    late = _last_edge_after(pico, t_us)
    assert late <= TYPED_BOUND_US, "stepped %.0f us after the line came" % late
    _agrees_with_pin(pico, bench, pin0, "paused" if command == "pause" else "stopped")

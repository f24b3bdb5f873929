"""Every step the whole firmware makes stays within one step of the commanded rate's integral,
whatever the loop's timing: late, uneven ticks across the ticks wrap, rate changes and IRs, and
journal writes that take 50 ms (a start from rest begins when its record is written)."""

import random

import pytest

from bench.apprun import cumulative_error
from pumpfw import controller as ctl
from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, TestBoard, send
from pumpfw.planner import WORK_PER_STEP

MIN = 60_000
WRAP = (1 << 30) - 1


class FineBoard(TestBoard):
    # Fine enough that a rate change applied 30 ms late would overrun by several steps.
    STEPS_PER_ML = 1_600


def run_scenario(infusion, script, seed):
    """Run the App with ticks 0-30 ms late; return (step times, rate history, steps_per_ml)."""
    rng = random.Random(seed)
    hw = FakeHw(start_us=(1 << 30) - 2_000_000, board=FineBoard)
    absolute = []
    hw.stepper.times_us = []
    app = App(hw)
    send(hw, "interval", 60_000)
    send(hw, "start", infusion)
    rates = []  # (since_us absolute, rate_ul_h)
    c = app.controller
    seen = -1
    pending = sorted(script)
    start_ms = None
    while c.state not in (ctl.COMPLETE, ctl.DISCONTINUED) and app.clock.ms < 400 * MIN:
        tick_us = hw.us  # the tick's instant (a journal write inside it moves hw.us on)
        app.step()
        if start_ms is None and c.state == ctl.RUNNING:
            start_ms = c.start_ms
        if c.changes != seen:
            seen = c.changes
            # The instant the controller reports (rate_since_ms), from the clock's last read.
            read_us = hw.us + (((app.clock.last_us - hw.us + (1 << 29)) & WRAP) - (1 << 29))
            base_us = read_us - (app.clock.ms - c.rate_since_ms) * 1000 - app.clock.rem_us
            if c.rate_ul_h and (not rates or rates[-1][1] == 0):
                # A start from rest begins once the journal record that vouches for it is
                # written, and reports that instant.
                assert hw.flash_end_us > tick_us and base_us >= hw.flash_end_us
            rates.append((base_us, c.rate_ul_h))
        if pending and start_ms is not None and app.clock.ms >= start_ms + pending[0][0]:
            send(hw, *pending.pop(0)[1:])
        wake = app.next_wake_ms()
        late = rng.randint(0, 30)
        hw.us += max(1, wake - app.clock.ms + late) * 1000
        # Unwrap the step times recorded up to the previous tick's time (all within 2^29 us).
        recorded = hw.stepper.times_us
        for i in range(len(absolute), len(recorded)):
            t = recorded[i]
            absolute.append(hw.us + (((t - hw.us + (1 << 29)) & WRAP) - (1 << 29)))
    assert c.state == ctl.COMPLETE, ctl.STATE_NAMES[c.state]
    return absolute, rates, hw.board.STEPS_PER_ML


@pytest.mark.parametrize(
    "infusion,script",
    [
        (1, [(45 * MIN, "ir", 2), (65 * MIN, "resolved")]),
        (2, [(20 * MIN, "pause"), (27 * MIN, "resume"), (50 * MIN, "ir", 1)]),
        (3, [(10 * MIN, "ir", 2), (11 * MIN, "resolved")]),
    ],
)
def test_steps_follow_the_commanded_integral_within_one_step(infusion, script):
    times, rates, spm = run_scenario(infusion, script, seed=infusion)
    assert len(times) == 250 * spm
    assert times == sorted(times)
    # One step, plus the 1 us grid the steps are timed on (a tiny fraction of a step).
    max_rate = max(r for _, r in rates)
    assert cumulative_error(times, rates, spm) <= 1 + max_rate * spm / WORK_PER_STEP

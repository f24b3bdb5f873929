"""The real App on the in-process fake board (pumpfw/hw/fakeboard.py): step times, rate history,
the drive's own change times and when operator inputs reach the firmware."""

import random
import shutil
import tempfile

from pumpfw import controller as ctl
from pumpfw import planner as planner_mod
from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, TestBoard, send

MIN = 60_000
WRAP = (1 << 30) - 1
HALF = 1 << 29
WORK_PER_STEP = planner_mod.WORK_PER_STEP


def cumulative_error(step_times, rates, spm):
    """Largest |ideal - made| just before and just after each step, in steps.

    step_times: absolute us of every step made; rates: (since_us, rate_ul_h) history of the
    commanded rate, in order. Shared by the exactness test and `make bench`."""
    worst = 0
    i = 0
    work = 0  # rate_ul_h * us * spm accumulated up to rates[i][0]
    for k, t in enumerate(step_times, 1):
        while i + 1 < len(rates) and rates[i + 1][0] <= t:
            work += rates[i][1] * (rates[i + 1][0] - rates[i][0]) * spm
            i += 1
        ideal = work + rates[i][1] * (t - rates[i][0]) * spm
        worst = max(worst, abs(ideal - (k - 1) * WORK_PER_STEP), abs(ideal - k * WORK_PER_STEP))
    return worst / WORK_PER_STEP


def unwrap(ticks, near_us):
    """Absolute us of a wrapped ticks_us value within 2^29 us of near_us."""
    return near_us + (((ticks - near_us + HALF) & WRAP) - HALF)


def board(steps_per_ml):
    return type("BenchBoard", (TestBoard,), {"STEPS_PER_ML": steps_per_ml})


class _RebaseSpy:
    """Records every Planner.rebase(rate > 0, at_us) as (absolute us, rate): the drive's idea of
    when a rate starts. Instrumentation of the host run only; the firmware is unchanged."""

    def __init__(self):
        self.hw = None
        self.calls = []
        self._orig = planner_mod.Planner.rebase

    def __enter__(self):
        spy, orig = self, self._orig

        def rebase(planner, rate_ul_h, at_us, steps_made):
            if rate_ul_h > 0 and spy.hw is not None:
                spy.calls.append((unwrap(at_us, spy.hw.us), rate_ul_h))
            return orig(planner, rate_ul_h, at_us, steps_made)

        planner_mod.Planner.rebase = rebase
        return self

    def __exit__(self, *exc):
        planner_mod.Planner.rebase = self._orig


def run(infusion, script, seed, steps_per_ml=1_600, late_ms=30, input_delay_us=2_000,
        max_min=400):
    """Run one infusion; script: [(minutes from start, command, *args)].

    Ticks come when the app asks, plus 0..late_ms of random lateness. An input arrives at its
    minute plus a random sub-ms phase, while the loop sleeps; the loop sees it input_delay_us
    later (the board loop sleeps on its serial port, and an input wakes it).
    Returns a dict: steps (absolute us), rates [(since_us, rate_ul_h)], ticks (us of each
    step()), drive_changes [(us, rate)], inputs [(arrival_us, (command, *args))], state, spm.
    """
    fs_root = tempfile.mkdtemp(prefix="bench_journal_")  # fresh: no latch from an older run
    try:
        return _run(infusion, script, seed, steps_per_ml, late_ms, input_delay_us, max_min,
                    fs_root)
    finally:
        shutil.rmtree(fs_root, ignore_errors=True)


def _run(infusion, script, seed, steps_per_ml, late_ms, input_delay_us, max_min, fs_root):
    rng = random.Random(seed)
    hw = FakeHw(start_us=(1 << 30) - 2_000_000, board=board(steps_per_ml), fs_root=fs_root)
    hw.stepper.times_us = []
    steps, ticks, rates, inputs = [], [], [], []
    with _RebaseSpy() as spy:
        spy.hw = hw
        app = App(hw)
        c = app.controller
        send(hw, "interval", 60_000)
        send(hw, "start", infusion)
        pending = sorted(script)
        seen = -1
        start_us = None
        while c.state not in (ctl.COMPLETE, ctl.DISCONTINUED) and app.clock.ms < max_min * MIN:

            app.step()
            ticks.append(hw.us)
            if c.changes != seen:
                seen = c.changes
                # The instant the controller reports (a start from rest: after its journal
                # write), from the clock's last read.
                read_us = hw.us + (((app.clock.last_us - hw.us + (1 << 29)) & 0x3FFFFFFF)
                                   - (1 << 29))
                base_us = read_us - (app.clock.ms - c.rate_since_ms) * 1000 - app.clock.rem_us
                rates.append((base_us, c.rate_ul_h))
                if start_us is None and c.state == ctl.RUNNING:
                    start_us = base_us
            wake = app.next_wake_ms()
            next_us = hw.us + max(1, wake - app.clock.ms + rng.randint(0, late_ms)) * 1000
            arrival_us = None
            if pending and start_us is not None:
                arrival_us = start_us + int(pending[0][0] * MIN) * 1000 + rng.randrange(1000)
            if arrival_us is not None and arrival_us <= next_us:
                hw.us = max(hw.us + 1, arrival_us)
                item = pending.pop(0)
                send(hw, *item[1:])
                inputs.append((hw.us, item[1:]))
                hw.us += input_delay_us
            else:
                hw.us = next_us
            recorded = hw.stepper.times_us
            for i in range(len(steps), len(recorded)):
                steps.append(unwrap(recorded[i], hw.us))
        changes = spy.calls
    return {"steps": steps, "rates": rates, "ticks": ticks, "drive_changes": changes,
            "inputs": inputs, "state": ctl.STATE_NAMES[c.state], "spm": steps_per_ml}

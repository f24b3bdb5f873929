# The whole control tick allocates nothing in steady state: App.step() and next_wake_ms() over
# 10 000 ticks, measured with gc.mem_alloc() on MicroPython (on CPython this only runs the loop).
import gc
import sys

from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, TestBoard, run_for, send

MPY = sys.implementation.name == "micropython"


class QuietApp(App):
    journal_interval_ms = 10**8  # no journal write falls inside the window: a control tick only


def test_app_step_allocates_nothing_per_tick():
    hw = FakeHw()
    app = QuietApp(hw)
    send(hw, "interval", 60_000)
    send(hw, "start", 2)  # 50 mL/h at 400 steps/mL: a step every 180 ms, refills every 50 ms
    run_for(app, hw, 2_000)  # the start, its events and the first journal write are behind us
    hw.port.tx = bytearray()
    step = app.step
    wake = app.next_wake_ms  # the loop asks it after every tick
    ticks = 10_000
    gc.collect()
    before = gc.mem_alloc() if MPY else 0
    for _ in range(ticks):
        hw.us += 500  # 5 s of virtual time: steps, refills, no record and no journal due
        step()
        wake()
    after = gc.mem_alloc() if MPY else 0
    assert app.controller.rate_ul_h == 50_000 and hw.stepper.steps() > 30
    if MPY:
        per_tick = (after - before) / ticks
        print("alloc per App.step() + next_wake_ms(): %.2f bytes" % per_tick)
        assert after - before == 0, per_tick


class FineBoard(TestBoard):
    STEPS_PER_ML = 16_000  # the real boards' calibration


def test_app_step_allocates_nothing_late_in_an_infusion_at_the_boards_calibration():
    # Past 1 073 742 steps (67 mL at 16 000 steps/mL) steps x 1000 is beyond a small int: the
    # volume must be computed without that product, or every tick allocates a big int.
    hw = FakeHw(board=FineBoard)
    app = QuietApp(hw)
    send(hw, "interval", 60_000)
    send(hw, "start", 2)
    run_for(app, hw, 2_000)
    app.steps_prior = 2_000_000  # as after a recovery at 125 mL
    run_for(app, hw, 10)
    hw.port.tx = bytearray()
    step = app.step
    wake = app.next_wake_ms
    gc.collect()
    before = gc.mem_alloc() if MPY else 0
    for _ in range(5_000):
        hw.us += 500
        step()
        wake()
    after = gc.mem_alloc() if MPY else 0
    assert app.controller.delivered_ul > 125_000 and app.controller.state == 1
    if MPY:
        assert after - before == 0, (after - before) / 5_000

# Power cuts at a few instants (the host lane cuts at 100): recover paused, end at 250 mL; the
# fake flash takes 50 ms a write, so counting before the motor stops shows.
from powercut import MIN, check, cut_and_recover

from pumpfw import controller as ctl
from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, TestBoard, events, run_for, send
from pumpfw.journal import Journal
from pumpfw.schedule import ISATUXIMAB_250 as REG


def test_cut_while_running_recovers_paused_and_finishes_exactly():
    for infusion, cut_ms in ((3, 31 * MIN + 2_345), (2, 95 * MIN + 17)):
        check(cut_and_recover(infusion, cut_ms), REG.program(infusion).max_rate_ul_h)


def test_cut_right_after_start_and_near_the_end():
    check(cut_and_recover(3, 1_500), 200_000)
    check(cut_and_recover(3, 74 * MIN + 55_000), 200_000)


class FineBoard(TestBoard):
    STEPS_PER_ML = 16_000  # the real boards' calibration: 889 steps/s at 200 mL/h


def test_a_cut_after_a_pause_never_counts_fewer_steps_than_the_motor_made():
    # The pause is journaled with no allowance (nothing more may be made): the motor must be
    # stopped before the steps are counted, or the steps made while the flash is written are
    # missing from the record and would be delivered again after a cut.
    hw = FakeHw(board=FineBoard)
    app = App(hw)
    send(hw, "start", 3)
    run_for(app, hw, 2 * MIN)
    send(hw, "pause")
    run_for(app, hw, 10)
    assert hw.flash_writes > 2 and app.controller.state == ctl.PAUSED
    true_steps = hw.stepper.steps()  # the cut: the App is just gone
    record = Journal(hw.fs_root).load()
    assert record["allow"] >= true_steps, (record["allow"], true_steps)
    hw2 = FakeHw(board=FineBoard, fs_root=hw.fs_root, start_us=hw.us + 10**9)
    app2 = App(hw2)
    app2.step()
    assert app2.steps_made() >= true_steps  # what recovery counts as delivered
    assert events(hw2, "recovery")[0].fields["uncertain_ul"] == 0  # paused: nothing unsure
    hw.cleanup()


def test_a_watchdog_reset_during_an_infusion_comes_back_paused_with_the_fault_alarm():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 3)
    run_for(app, hw, 5_000)
    assert app.controller.state == ctl.RUNNING
    for cause, alarmed in (("watchdog", True), ("power_on", False)):
        hw2 = FakeHw(fs_root=hw.fs_root, start_us=hw.us + 10**9, reset_cause=cause)
        app2 = App(hw2)
        run_for(app2, hw2, 100)  # the boot's lines out
        assert app2.controller.state == ctl.PAUSED
        faults = [e.fields["what"] for e in events(hw2, "fault")]
        alarms = [e.fields["what"] for e in events(hw2, "alarm")]
        assert (faults == ["watchdog"] and alarms == ["fault"]) == alarmed, (cause, faults)
    hw.cleanup()

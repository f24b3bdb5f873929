# A pump that says running while its motor makes no step is paused with a fault, an alarm and an
# event, within the bound docs/safety.md states; a healthy pump at its slowest rate never is.
from pumpfw import controller as ctl
from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, TestBoard, events, run_for, send
from pumpfw.hw.stepper_sim import SimStepper

MIN = 60_000


class DeadStepper(SimStepper):
    """Takes segments and never steps: a state machine that was never clocked, a broken wire."""

    def _run(self):
        pass


def kinds(hw):
    out = []
    for m in events(hw):
        if m.name in ("fault", "alarm"):
            out.append((m.name, m.fields["what"], m.fields["detail"]))
        elif m.name == "pause":
            out.append(("pause",))
    return out


def test_running_without_a_step_pauses_with_a_fault_and_an_alarm():
    hw = FakeHw()
    hw.stepper = DeadStepper(hw.ticks_us, 500, record=False)
    app = App(hw)
    send(hw, "start", 3)  # 200 mL/h at 400 steps/mL: a step every 45 ms
    run_for(app, hw, MIN)
    assert app.controller.state == ctl.PAUSED and app.controller.rate_ul_h == 0
    fault = events(hw, "fault")[0].fields
    assert fault["what"] == "no_delivery"
    # Detail: whole seconds without a step; the bound is one step interval + the margin.
    start_ms = events(hw, "start")[0].fields["t_ms"]
    bound_ms = 45 + app.no_delivery_margin_ms
    assert bound_ms < fault["t_ms"] - start_ms <= bound_ms + 100, fault
    assert fault["detail"] == (fault["t_ms"] - start_ms) // 1000
    assert kinds(hw) == [("fault", "no_delivery", fault["detail"]),
                         ("alarm", "fault", fault["code"]), ("pause",)]
    assert not hw.stepper.enabled()
    # A resume tries again, and the fault comes again if nothing moves.
    send(hw, "resume")
    run_for(app, hw, MIN)
    assert [k[0] for k in kinds(hw)].count("pause") == 2


def test_a_journal_that_cannot_be_written_holds_the_drive_then_faults():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 3)
    run_for(app, hw, 10_000)

    def broken(record):
        raise OSError(28)  # ENOSPC

    app.journal.save = broken
    steps = hw.stepper.steps()
    run_for(app, hw, MIN)
    assert app.controller.state == ctl.PAUSED
    held = hw.stepper.steps() - steps
    assert 0 < held <= 200_000 * 5_000 * 400 // 3_600_000_000 + 2  # the cap: 5 s of steps
    got = kinds(hw)
    assert ("fault", "journal", 2) in got and ("alarm", "fault", 2) in got  # each write
    i = [k[:2] for k in got].index(("fault", "no_delivery"))
    assert got[i + 1:i + 3] == [("alarm", "fault", 4), ("pause",)]


class CoarseBoard(TestBoard):
    STEPS_PER_ML = 10  # the coarsest calibration setcal and the self-check accept


def test_the_slowest_legal_rate_at_the_coarsest_calibration_never_faults():
    # 12.5 mL/h (half of infusion 1's first rate, after a grade-2 IR) at 10 steps/mL: one step
    # every 28.8 s, with journal writes of 50 ms and ticks as late as the loop allows.
    hw = FakeHw(board=CoarseBoard)
    app = App(hw)
    send(hw, "start", 1)
    run_for(app, hw, MIN)
    send(hw, "ir", 2)
    run_for(app, hw, MIN)
    send(hw, "resolved")
    run_for(app, hw, 25 * MIN, max_step_ms=3_000)
    assert app.controller.state == ctl.RUNNING and app.controller.rate_ul_h == 12_500
    assert events(hw, "fault") == []
    assert hw.stepper.steps() >= 25 * 60 * 12_500 * 10 // 3_600_000

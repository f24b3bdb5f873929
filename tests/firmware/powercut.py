# Power cuts on a fake board: drop the App mid-infusion with no warning, boot a new one on the
# same files, resume, and account for every step (both lanes).
from pumpfw import controller as ctl
from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, TestBoard, events, run_for, send

MIN = 60_000


class QuickBoard(TestBoard):
    PLAN_AHEAD_US = 5_000_000  # few wake-ups: many cut runs stay quick


def cut_and_recover(infusion, cut_ms):
    """Run `infusion`, cut the power cut_ms after its start, reboot, resume, run to the end.

    Returns a dict of what each side knew: the true steps (the motor's own count) before the
    cut and after the resume, what the journal restored, and the recovery event.
    """
    hw = FakeHw(board=QuickBoard)
    app = App(hw)
    send(hw, "interval", 60_000)
    send(hw, "start", infusion)
    run_for(app, hw, cut_ms, max_step_ms=7_000)
    true_before = hw.stepper.steps()  # the cut: no save, no shutdown, the App is just gone
    state_before = app.controller.state
    hw2 = FakeHw(board=QuickBoard, fs_root=hw.fs_root, start_us=hw.us + 3_000_000_000)
    app2 = App(hw2)
    app2.step()
    c = app2.controller
    out = {"state_before": state_before, "true_before": true_before,
           "state_after_boot": c.state, "restored_steps": app2.steps_made()}
    recovery = events(hw2, "recovery")
    out["recovery"] = recovery[0].fields if recovery else None
    if c.state == ctl.PAUSED:
        send(hw2, "resume")
    run_for(app2, hw2, 260 * MIN, max_step_ms=7_000)
    out["final_state"] = c.state
    out["firmware_steps"] = app2.steps_made()
    out["true_after"] = hw2.stepper.steps()
    out["steps_per_ml"] = QuickBoard.STEPS_PER_ML
    out["journal_interval_ms"] = app2.journal_interval_ms
    hw2.cleanup()
    return out


def check(result, max_rate_ul_h):
    """The promises of docs/safety.md for one cut."""
    spm = result["steps_per_ml"]
    target = 250 * spm
    assert result["state_after_boot"] == ctl.PAUSED, result  # never running by itself
    assert result["final_state"] == ctl.COMPLETE, result
    assert result["firmware_steps"] == target  # the record ends at exactly 250 mL
    true_total = result["true_before"] + result["true_after"]
    assert true_total <= target, result  # never more than 250 mL
    # Short by at most one journal interval at the fastest rate (+2 steps of rounding).
    bound = max_rate_ul_h * result["journal_interval_ms"] * spm // 3_600_000_000 + 2
    assert target - true_total <= bound, (target - true_total, bound)
    unsure = result["recovery"]["uncertain_ul"]
    assert (target - true_total) * 1000 // spm <= unsure + 1000 // spm

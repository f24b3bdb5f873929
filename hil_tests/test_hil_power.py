"""HIL: a power cut mid-infusion: the pump comes back paused, and never over-infuses."""

import pytest

from hil_tests.hilkit import (
    MIN_MS,
    VOLUME_UL,
    at_minute,
    balance_digit_steps,
    balance_steps,
    run_to_completion,
    start,
)


def cut_and_finish(rig, pump, record):
    """Infusion 3, power cut at 30 min for 1 min, resume, run out. Returns (balance - 250 mL
    in steps, what the firmware's recovery said it cannot vouch for, in steps)."""
    spm = pump.hello["steps_per_ml"]
    grams = rig.balance_grams()
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 30.04)  # between two of the journal's periodic writes
    pump.backlog.clear()  # what came before the cut is history: wait for the new boot
    rig.power_cut()
    rig.wait_ms(MIN_MS)
    rig.power_restore()
    reboot = rig.until(pump, "reboot", 10_000)
    record.within("reboot recovered", reboot.fields["recovered"], "flag", 1, 0)
    recovery = pump.events_seen("recovery")
    uncertain_ul = recovery[-1].fields.get("uncertain_ul", 0) if recovery else 0
    record.measure("recovery uncertain", uncertain_ul, "uL")
    back = pump.status()
    record.within("paused after the reboot", back["st"] == "paused", "bool", 1, 0)
    record.within("rate after the reboot", back["rate_ul_h"], "uL/h", 0, 0)
    record.within("infusion after the reboot", back["inf"], "infusion", 3, 0)
    rig.wait_ms(MIN_MS)
    record.within("steps while recovered and paused", pump.status()["steps"] - back["steps"],
                  "steps", 0, 0)
    pump.run("resume")
    run_to_completion(rig, pump, 60)
    rig.wait_ms(MIN_MS)
    error = round(balance_steps(rig, grams, spm) - VOLUME_UL * spm // 1000, 3)
    return error, uncertain_ul * spm / 1000


@pytest.mark.device_min(78)
@pytest.mark.needs("power", "time_warp", "balance")
def test_power_cut_recovers_paused_and_never_over_infuses(rig, pump, hil_record):
    error, uncertain = cut_and_finish(rig, pump, hil_record)
    digit = balance_digit_steps(rig, pump.hello["steps_per_ml"])
    hil_record.measure("balance - 250 mL", error, "steps", -uncertain - 1 - digit, 1 + digit)


@pytest.mark.device_min(78)
@pytest.mark.needs("power", "time_warp", "balance")
def test_power_cut_record_ends_at_250_ml_and_the_unsure_part_is_one_journal_interval(
        rig, pump, hil_record):
    """The design (docs/safety.md): recovery counts the journal's write-ahead allowance as
    delivered, so the record ends at exactly 250 mL and the balance may be short by no more
    than what the recovery event said it could not vouch for: one journal interval's worth."""
    error, uncertain_steps = cut_and_finish(rig, pump, hil_record)
    final = pump.status()
    hil_record.within("record at the end", final["vol_ul"], "uL", VOLUME_UL, 0)
    spm = pump.hello["steps_per_ml"]
    # 200 mL/h for the 5 s journal interval, rounded up, plus one step.
    bound = -(-200_000 * 5_000 * spm // 3_600_000_000) + 1
    hil_record.measure("recovery uncertain", uncertain_steps, "steps", 0, bound)
    digit = balance_digit_steps(rig, spm)
    hil_record.measure("balance - 250 mL", error, "steps", -uncertain_steps - 1 - digit,
                       1 + digit)


@pytest.mark.pico_lane
@pytest.mark.needs("hang", "time_warp")
def test_a_hung_loop_is_reset_by_the_watchdog_and_comes_back_paused(rig, pump, hil_record):
    start_ev = start(pump, 2)
    at_minute(rig, pump, start_ev, 2)
    before = pump.status()
    pump.backlog.clear()
    rig.hang()
    rig.wait_ms(10_000)  # longer than the 4 s watchdog: a reset must have happened
    reboot = rig.until(pump, "reboot", 10_000)
    hil_record.within("reset cause is the watchdog", reboot.fields["cause"] == "watchdog",
                      "bool", 1, 0)
    hil_record.within("reboot recovered", reboot.fields["recovered"], "flag", 1, 0)
    back = pump.status()
    hil_record.within("paused after the reset", back["st"] == "paused", "bool", 1, 0)
    hil_record.within("rate after the reset", back["rate_ul_h"], "uL/h", 0, 0)
    hil_record.within("infusion after the reset", back["inf"], "infusion", 2, 0)
    hil_record.measure("volume kept", back["vol_ul"], "uL", before["vol_ul"], None)
    rig.wait_ms(60_000)
    hil_record.within("steps while recovered and paused", pump.status()["steps"] - back["steps"],
                      "steps", 0, 0)


@pytest.mark.device_min(10)
@pytest.mark.needs("power", "time_warp", "balance")
def test_a_cut_right_after_a_pause_restores_every_step_the_motor_made(rig, pump, hil_record):
    """A paused pump's record carries no allowance: it must count every step made, including
    those the motor made while the record was being written (docs/safety.md, order in a tick).
    A record that counted fewer would have the pump deliver them again after the cut."""
    spm = pump.hello["steps_per_ml"]
    grams = rig.balance_grams()
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 10)
    pump.run("pause")  # answered in the tick that journals it
    pump.backlog.clear()
    rig.power_cut()
    pumped = balance_steps(rig, grams, spm)
    rig.power_restore()
    rig.until(pump, "reboot", 10_000)
    recovery = pump.events_seen("recovery")
    hil_record.within("recovery uncertain (paused)",
                      recovery[-1].fields["uncertain_ul"] if recovery else -1, "uL", 0, 0)
    restored = pump.status()["steps"]
    digit = balance_digit_steps(rig, spm)
    hil_record.measure("restored - pumped", round(restored - pumped, 3), "steps", -0.5 - digit,
                       0.5 + digit)


@pytest.mark.pico_lane
@pytest.mark.needs("power_in_write", "balance")
def test_a_cut_inside_a_journal_write_comes_back_paused_and_never_over_infuses(
        rig, pump, hil_record):
    """The power fails half way into a flash program or erase while infusion 3 runs (the
    journal's periodic rewrite): the file system keeps a whole record, and the recovery counts
    at least every step the pin made (fewer would be delivered twice) and no more than it said
    it cannot vouch for (in whole uL, plus one step)."""
    spm = pump.hello["steps_per_ml"]
    grams = rig.balance_grams()
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 0.5)
    pump.backlog.clear()
    mark = len(pump.seen)
    rig.power_cut_in_flash_write(0.5)
    pumped = balance_steps(rig, grams, spm)
    rig.wait_ms(1000)
    rig.power_restore()
    reboot = rig.until(pump, "reboot", 10_000)
    hil_record.within("reboot recovered", reboot.fields["recovered"], "flag", 1, 0)
    after_cut = [m for m in pump.seen[mark:] if m.kind == "ev"]  # recovery comes before reboot
    recovery = [e for e in after_cut if e.name == "recovery"]
    uncertain_ul = recovery[-1].fields["uncertain_ul"] if recovery else -1
    hil_record.measure("recovery uncertain", uncertain_ul, "uL", 0, None)
    back = pump.status()
    hil_record.within("paused after the reboot", back["st"] == "paused", "bool", 1, 0)
    hil_record.within("rate after the reboot", back["rate_ul_h"], "uL/h", 0, 0)
    faults = [e for e in after_cut if e.name == "fault"]
    hil_record.within("faults after the cut (a whole record kept)", len(faults), "events", 0, 0)
    digit = balance_digit_steps(rig, spm)
    hil_record.measure("restored - pumped", round(back["steps"] - pumped, 3), "steps",
                       -0.5 - digit, uncertain_ul * spm / 1000 + spm // 1000 + 1 + digit)
    rig.wait_ms(10_000)
    hil_record.within("steps while recovered and paused", pump.status()["steps"] - back["steps"],
                      "steps", 0, 0)

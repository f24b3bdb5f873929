"""HIL: infusion reactions: grade 1 holds escalation, grade 2 interrupts, grade 3 latches."""

import pytest

from hil_tests.hilkit import (
    MIN_MS,
    at_minute,
    balance_digit_steps,
    balance_steps,
    measure_completion,
    minutes_since,
    rate_changes,
    run_began,
    run_to_completion,
    start,
)
from host_tools.link.errors import CommandError


def measure_steps_after(record, changes, anchor_min, expected, from_rest=True):
    """Rate changes after the command at anchor_min: each expected (minutes after the instant the
    run began again, mL/h) exactly; from rest, it began within RUN_BEGINS_WITHIN_MIN of the
    command (a run that never stopped counts from the command itself)."""
    began = run_began(record, changes, anchor_min, "resolved") if from_rest else anchor_min
    after = [(m - began, rate) for m, rate in changes if m >= began]
    record.within("rate changes after resolved", len(after), "count", len(expected), 0)
    for i, ((minute, rate), (want_min, want_rate)) in enumerate(zip(after, expected)):
        record.within("step %d rate" % i, rate, "mL/h", want_rate, 0)
        record.within("step %d from resolved" % i, minute, "min", want_min, 1 / MIN_MS)


@pytest.mark.device_min(255)
@pytest.mark.needs("time_warp")
def test_grade1_holds_escalation_until_a_full_hold_after_resolved(rig, pump, hil_record):
    # Infusion 1, grade-1 IR at 45 min resolved at 65 min: 25 mL/h until 60 min after the
    # resolution (the hold restarts in full), then the ladder: 254.17 min in all.
    start_ev = start(pump, 1)
    at_minute(rig, pump, start_ev, 45)
    pump.run("ir", 1)
    at_minute(rig, pump, start_ev, 64)  # past the 60 min step-up the ladder would have made
    held = pump.status()
    hil_record.within("rate at 64 min (held)", held["rate_ul_h"] / 1000, "mL/h", 25, 0)
    hil_record.within("state at 64 min (running=1)", held["st"] == "running", "bool", 1, 0)
    at_minute(rig, pump, start_ev, 65)
    pump.run("resolved")
    resolved = pump.last_event("ir_resolved")
    hil_record.within("resolved grade", resolved.fields["grade"], "grade", 1, 0)
    done, status = run_to_completion(rig, pump, 300)
    anchor = minutes_since(start_ev, resolved.fields["t_ms"])
    changes = rate_changes(pump, start_ev)
    held_changes = [c for c in changes[1:] if c[0] < anchor]
    hil_record.within("rate changes while the IR was active", len(held_changes), "count", 0, 0)
    measure_steps_after(hil_record, changes, anchor,
                        [(60, 50), (90, 75), (120, 100), (150, 125), (180, 150)], from_rest=False)
    measure_completion(hil_record, pump, start_ev, done, status, 254 + 1 / 6, 254 + 1 / 6)


@pytest.mark.device_min(248)
@pytest.mark.needs("time_warp")
def test_grade2_interrupts_then_resumes_at_half_rate_and_steps_up(rig, pump, hil_record):
    # Infusion 1, grade-2 IR at 45 min resolved 20 min later (docs/infusion-schedule.md):
    # 12.5 mL/h, +25 every 30 min to 150: 227.5 min infusing, 247.5 min in total.
    start_ev = start(pump, 1)
    _, resolved = interrupt_then_resolve(rig, pump, hil_record, start_ev, 45, 65)
    done, status = run_to_completion(rig, pump, 300)
    anchor = minutes_since(start_ev, resolved.fields["t_ms"])
    measure_steps_after(hil_record, rate_changes(pump, start_ev), anchor,
                        [(0, 12.5), (30, 37.5), (60, 62.5), (90, 87.5), (120, 112.5),
                         (150, 137.5), (180, 150)])
    measure_completion(hil_record, pump, start_ev, done, status, 247.5, 227.5)


@pytest.mark.pico_lane
@pytest.mark.needs("balance")
def test_grade2_interrupts_at_once_and_resolved_resumes_at_half_the_initial_rate(
        rig, pump, hil_record):
    # Infusion 2 (50 mL/h), grade-2 IR at 1 min resolved at 2 min: no step while interrupted,
    # resume refused, then 25 mL/h (half the initial rate) from the resolved instant; the
    # balance agrees with the steps logged at the next pause.
    spm = pump.hello["steps_per_ml"]
    grams = rig.balance_grams()
    start_ev = start(pump, 2)
    frozen, resolved = interrupt_then_resolve(rig, pump, hil_record, start_ev, 1, 2)
    at_minute(rig, pump, start_ev, 3)
    anchor = minutes_since(start_ev, resolved.fields["t_ms"])
    measure_steps_after(hil_record, rate_changes(pump, start_ev), anchor, [(0, 25)])
    pump.run("pause")
    paused = pump.status()
    hil_record.within("log volume vs steps", paused["vol_ul"] - paused["steps"] * 1000 // spm,
                      "uL", 0, 0)
    hil_record.measure("steps in the minute after resolved", paused["steps"] - frozen["steps"],
                       "steps", 1, None)
    error = balance_steps(rig, grams, spm) - paused["steps"]
    hil_record.within("balance - log", round(error, 3), "steps", 0,
                      1 + balance_digit_steps(rig, spm))


def test_grade3_discontinues_and_latches_until_the_two_step_clear(rig, pump, hil_record):
    start_ev = start(pump, 2)
    at_minute(rig, pump, start_ev, 1)
    pump.run("ir", 3)
    hil_record.within("discontinue grade", pump.last_event("discontinue").fields["grade"],
                      "grade", 3, 0)
    latched = pump.status()
    hil_record.within("rate when discontinued", latched["rate_ul_h"], "uL/h", 0, 0)
    at_minute(rig, pump, start_ev, 2)
    later = pump.status()
    hil_record.within("steps after the discontinue", later["steps"] - latched["steps"],
                      "steps", 0, 0)
    refusals = 0
    for command, args in (("start", (2,)), ("start", (1,)), ("resume", ()), ("resolved", ())):
        with pytest.raises(CommandError) as refused:
            pump.run(command, *args)
        refusals += refused.value.reason in ("latched", "state")
    hil_record.within("start/resume/resolved refused", refusals, "count", 4, 0)
    ask = pump.command("clear")  # step one: always an ask, even from a checked line
    with pytest.raises(CommandError):
        pump.command("confirm", (ask.fields["token"] + 1) % 0x10000)  # a wrong token
    hil_record.within("still latched after a wrong token", pump.status()["st"] == "discontinued",
                      "bool", 1, 0)
    pump.clear_latch()
    pump.last_event("latch_cleared")
    hil_record.within("idle after the clear", pump.status()["st"] == "idle", "bool", 1, 0)
    restart = start(pump, 2)
    hil_record.within("a new start after the clear", restart.fields["inf"], "infusion", 2, 0)
    pump.run("stop")


def interrupt_then_resolve(rig, pump, hil_record, start_ev, ir_min, resolved_min):
    """A grade-2 IR at ir_min, resolved at resolved_min (minutes from the start): interrupted,
    no step meanwhile, an operator's resume refused (only "IR resolved" ends a grade-2
    interruption). Returns (the status just before "resolved", the ir_resolved event)."""
    at_minute(rig, pump, start_ev, ir_min)
    pump.run("ir", 2)
    interrupt = pump.last_event("interrupt")
    stopped = pump.status()
    hil_record.within("state interrupted", stopped["st"] == "interrupted", "bool", 1, 0)
    hil_record.within("rate while interrupted", stopped["rate_ul_h"], "uL/h", 0, 0)
    with pytest.raises(CommandError) as refused:
        pump.run("resume")
    hil_record.within("operator resume refused (state=1)", refused.value.reason == "state",
                      "bool", 1, 0)
    at_minute(rig, pump, start_ev, resolved_min)
    frozen = pump.status()
    hil_record.within("steps during the interruption", frozen["steps"] - stopped["steps"],
                      "steps", 0, 0)
    pump.run("resolved")
    resolved = pump.last_event("ir_resolved")
    hil_record.within("interrupted for", (resolved.fields["t_ms"] - interrupt.fields["t_ms"])
                      / MIN_MS, "min", resolved_min - ir_min, 0.05)
    return frozen, resolved

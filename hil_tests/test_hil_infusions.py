"""HIL: infusions 1, 2 and 3 run their ladders to completion; pause freezes motor and clock."""

import pytest

from hil_tests.hilkit import (
    DURATION_TOL_MIN,
    MIN_MS,
    at_minute,
    measure_completion,
    measure_ladder,
    rate_changes,
    run_began,
    run_to_completion,
    start,
)

# docs/infusion-schedule.md: (minute the rate takes effect, mL/h) and the total duration.
LADDERS = {
    1: ([(0, 25), (60, 50), (90, 75), (120, 100), (150, 125), (180, 150)], 200),
    2: ([(0, 50), (30, 100), (60, 200), (90, 300)], 105),
    3: ([(0, 200)], 75),
}


@pytest.mark.needs("time_warp")
@pytest.mark.parametrize("infusion", [
    pytest.param(n, marks=pytest.mark.device_min(LADDERS[n][1] + 1)) for n in sorted(LADDERS)])
def test_infusion_runs_its_ladder_to_completion(rig, pump, hil_record, infusion):
    ladder, duration_min = LADDERS[infusion]
    start_ev = start(pump, infusion)
    done, status = run_to_completion(rig, pump, duration_min + 30)
    measure_completion(hil_record, pump, start_ev, done, status, duration_min, duration_min)
    measure_ladder(hil_record, pump, start_ev, ladder)
    assert not pump.events_seen("fault"), "the drive reported a fault"
    pump.raise_on_integrity()


def ideal_steps(rate_ul_h, duration_ms, spm):
    return rate_ul_h * duration_ms * spm / 3_600_000_000


def test_pause_freezes_the_motor_and_resume_continues_the_same_rate(rig, pump, hil_record):
    spm = pump.hello["steps_per_ml"]
    start_ev = start(pump, 2)
    at_minute(rig, pump, start_ev, 1)
    pump.run("pause")
    paused = pump.status()
    hil_record.within("rate while paused", paused["rate_ul_h"], "uL/h", 0, 0)
    rig.wait_ms(MIN_MS)
    still = pump.status()
    hil_record.within("steps while paused 1 min", still["steps"] - paused["steps"], "steps", 0, 0)
    hil_record.within("infusing time while paused", still["infusing_ms"] - paused["infusing_ms"],
                      "ms", 0, 0)
    pump.run("resume")
    resume = pump.last_event("resume")
    hil_record.within("rate on resume", resume.fields["rate_ul_h"] / 1000, "mL/h", 50, 0)
    rig.wait_ms(MIN_MS)
    pump.run("pause")
    pause = pump.last_event("pause")
    made = pump.status()["steps"] - still["steps"]
    # A resume begins once the journal vouches for it, at its since_ms (after its t_ms).
    ran_ms = pause.fields["t_ms"] - resume.fields["since_ms"]
    # The planner carries the fraction of a step through a pause: within one step of ideal.
    hil_record.within("steps while running vs ideal", made - ideal_steps(50_000, ran_ms, spm),
                      "steps", 0, 1)


@pytest.mark.device_min(121)
@pytest.mark.needs("time_warp")
def test_a_pause_extends_the_duration_but_not_the_infusing_time(rig, pump, hil_record):
    # Infusion 2 paused at 20 min for 15 min: the 30 min hold at 50 mL/h has 10 min left on
    # resume, so the ladder moves by exactly the pause: 120 min in total, 105 min infusing.
    start_ev = start(pump, 2)
    at_minute(rig, pump, start_ev, 20)
    pump.run("pause")
    at_minute(rig, pump, start_ev, 35)
    pump.run("resume")
    resume = pump.last_event("resume")
    pause = pump.last_event("pause")
    # Stepping stopped at the pause and began again at the instant the resume reports.
    paused_min = (resume.fields["since_ms"] - pause.fields["t_ms"]) / MIN_MS
    hil_record.within("paused for", paused_min, "min", 15, DURATION_TOL_MIN)
    done, status = run_to_completion(rig, pump, 150)
    # Each later step comes exactly its ladder time plus the time spent paused after the run
    # began (the first rate's reported instant).
    changes = rate_changes(pump, start_ev)
    began = run_began(hil_record, changes, 0, "start")
    changes = [(m - began, rate) for m, rate in changes[1:]]
    expected = [(30 + paused_min, 100), (60 + paused_min, 200), (90 + paused_min, 300)]
    hil_record.within("rate changes after the first", len(changes), "count", len(expected), 0)
    for i, ((minute, rate), (want_min, want_rate)) in enumerate(zip(changes, expected)):
        hil_record.within("step %d rate" % i, rate, "mL/h", want_rate, 0)
        hil_record.within("step %d from start" % i, minute, "min", want_min, 1 / MIN_MS)
    measure_completion(hil_record, pump, start_ev, done, status, 105 + paused_min, 105)

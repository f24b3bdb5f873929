"""HIL: infusions 1, 2 and 3 run to completion on the schedule's ladders and durations."""

import pytest

from hilkit import measure_completion, measure_ladder, run_to_completion, start

# docs/infusion-schedule.md: (minute the rate takes effect, mL/h) and the total duration.
LADDERS = {
    1: ([(0, 25), (60, 50), (90, 75), (120, 100), (150, 125), (180, 150)], 200),
    2: ([(0, 50), (30, 100), (60, 200), (90, 300)], 105),
    3: ([(0, 200)], 75),
}


@pytest.mark.needs("time_warp")
@pytest.mark.parametrize("infusion", sorted(LADDERS))
def test_infusion_runs_its_ladder_to_completion(rig, pump, hil_record, infusion):
    ladder, duration_min = LADDERS[infusion]
    start_ev = start(pump, infusion)
    done, status = run_to_completion(rig, pump, duration_min + 30)
    measure_completion(hil_record, pump, start_ev, done, status, duration_min, duration_min)
    measure_ladder(hil_record, pump, start_ev, ladder)
    assert not pump.events_seen("fault"), "the drive reported a fault"
    pump.raise_on_integrity()

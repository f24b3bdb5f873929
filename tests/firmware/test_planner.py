# Planner exactness: step k is due at the first whole us where the rate's integral reaches k.
from drivetest import NEAR_WRAP_US

from pumpfw.planner import MAX_INTERVAL_US, WORK_PER_STEP, Planner
from pumpfw.ticks import TICKS_PERIOD, ticks_diff


def exact_due(k, rate_ul_h, steps_per_ml, start_us):
    """Unwrapped due time of step k at a constant rate from start_us: ceil(k * N / D)."""
    work = rate_ul_h * steps_per_ml
    return start_us + -(-k * WORK_PER_STEP // work)


def drain(planner, start_us, max_count=64, tol_us=0, limit=100_000):
    """Every step time the segments describe, unwrapped from start_us."""
    times = []
    t = start_us
    while len(times) < limit and planner.next_segment(min(max_count, limit - len(times)), tol_us):
        for _ in range(planner.seg_count):
            t += planner.seg_interval_us
            times.append(t)
    return times


def test_constant_slow_rate_is_exact_12_5_ml_h():
    p = Planner(3200, 500)
    p.rebase(12_500, 0, 0)
    times = drain(p, 0)
    assert len(times) == 500  # never past the target
    assert times[0] == 90_000 and times[-1] == 500 * 90_000


def test_awkward_fraction_matches_ceil_formula_across_the_wrap():
    rate, spm = 399_989, 19_997  # rate * spm > 2**30: the mixed-radix path
    start = NEAR_WRAP_US + 2_999_000
    p = Planner(spm, 3000)
    p.rebase(rate, start % TICKS_PERIOD, 0)
    times = drain(p, start)
    assert len(times) == 3000
    for k in (1, 2, 3, 17, 1000, 2999, 3000):
        assert times[k - 1] == exact_due(k, rate, spm, start), k
    assert times[-1] > TICKS_PERIOD  # the run crossed the wrap


def test_merged_segments_run_early_by_at_most_the_tolerance_and_catch_up():
    rate, spm = 123_457, 4_001
    p = Planner(spm, 4000)
    p.rebase(rate, 0, 0)
    times = []
    t = 0
    while p.next_segment(40, 5):
        t += p.seg_interval_us
        assert t == exact_due(len(times) + 1, rate, spm, 0)  # each segment starts exact
        times.append(t)
        for _ in range(p.seg_count - 1):
            t += p.seg_interval_us
            times.append(t)
    merged = 0
    for k in range(1, len(times) + 1):
        exact = exact_due(k, rate, spm, 0)
        assert 0 <= exact - times[k - 1] <= 5, k
        merged += exact != times[k - 1]
    assert merged > 0  # the tolerance was really used
    assert len(times) == 4000


def test_segments_group_equal_intervals():
    p = Planner(1000, 1000)
    p.rebase(360_000, 0, 0)  # 100 steps/s: 10 000 us exactly
    assert p.next_segment(50, 0) == 1  # the first after a rebase is alone
    assert p.next_segment(50, 0) == 50 and p.seg_interval_us == 10_000


def test_pause_carries_the_fraction_and_resume_continues_the_integral():
    spm, rate = 777, 50_003
    p = Planner(spm, 10_000)
    p.rebase(rate, 0, 0)
    before = drain(p, 0, limit=10)
    pause_us = before[-1] + 1234
    # Steps handed out after the pause were not made: the driver made 10.
    p.rebase(0, pause_us, 10)
    resume_us = pause_us + 7_000_000
    p.rebase(rate, resume_us, 10)
    after = drain(p, resume_us, limit=20)
    work_per_us = rate * spm
    for i, t in enumerate(after):
        k = 11 + i
        run_us = pause_us + (t - resume_us)  # running time, the pause cut out
        assert run_us * work_per_us >= k * WORK_PER_STEP  # not early
        assert (run_us - 1) * work_per_us < k * WORK_PER_STEP  # and at the first whole us


def test_cancelled_steps_are_planned_again():
    p = Planner(1000, 1000)
    p.rebase(360_000, 0, 0)  # a step every 10 ms
    drain(p, 0, limit=50)
    assert p.emitted == 50
    p.rebase(720_000, 205_000, 20)  # at 205 ms the driver had made 20 steps
    assert p.emitted == 20
    times = drain(p, 205_000, limit=5)
    # 20.5 steps were due at 205 ms; at 200 steps/s the 21st is due 2.5 ms later.
    assert times == [207_500, 212_500, 217_500, 222_500, 227_500]


def test_overdue_steps_are_due_at_once():
    p = Planner(1000, 100)
    p.rebase(360_000, 0, 0)
    drain(p, 0, limit=10)
    p.rebase(360_000, 150_000, 5)  # the driver lagged: step 6 was due at 60 ms
    assert ticks_diff(p.due_us, 150_000) < 0


def test_rate_too_low_is_refused_and_changes_nothing():
    p = Planner(50, 100)
    slowest = -(-WORK_PER_STEP // (50 * MAX_INTERVAL_US))
    try:
        p.rebase(slowest - 100, 0, 0)
    except ValueError:
        pass
    else:
        raise AssertionError("accepted")
    assert p.rate_ul_h == 0 and p.emitted == 0


def test_full_250_ml_ends_exactly_at_target():
    spm = 60
    p = Planner(spm, 250 * spm)
    p.rebase(400_000, 0, 0)
    times = drain(p, 0, max_count=200, tol_us=50, limit=10**6)
    assert len(times) == 250 * spm
    assert times[-1] == exact_due(250 * spm, 400_000, spm, 0)
    assert p.next_segment(10, 0) == 0

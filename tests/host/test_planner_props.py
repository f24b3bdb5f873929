# Property tests: random rate programs with pauses/IRs keep every step within one of the ideal.
from drivetest import check_exact, make_drive, run_program, unwrap
from hypothesis import given, settings
from hypothesis import strategies as st

from pumpfw.ticks import TICKS_PERIOD

S = 1_000_000


@st.composite
def programs(draw):
    """(steps_per_ml, target_steps, start_us, [(t_us, rate_ul_h)]): rates 1-400 mL/h with
    pauses and IR stops (rate 0), starting within a minute of the 2**30 ticks_us wrap."""
    spm = draw(st.integers(50, 20_000))
    start = TICKS_PERIOD * draw(st.integers(1, 3)) - draw(st.integers(0, 60 * S))
    n = draw(st.integers(1, 8))
    t = start + draw(st.integers(0, S))
    program = []
    for _ in range(n):
        if program and program[-1][1] and draw(st.booleans()):
            rate = 0  # pause or IR interrupt
        else:
            rate = draw(st.integers(1_000, 400_000))
        program.append((t, rate))
        t += draw(st.integers(1_000, 4 * S))
    # Keep the step count test-sized: a volume (up to 250 mL) at this calibration.
    target = min(250 * spm, draw(st.integers(1, 2_500)))
    return spm, target, start, program


@settings(max_examples=150, deadline=None)
@given(programs())
def test_every_step_within_one_of_the_ideal_and_never_past_the_target(case):
    spm, target, start, program = case
    drive, stepper, clock = make_drive(spm, target, max_step_hz=10_000, start_us=start)
    end = program[-1][0] + 3 * S
    run_program(drive, clock, program, end, period_us=5_000)
    times = unwrap(stepper.times_us, start)
    assert len(times) <= target
    check_exact(program, times, spm)
    assert drive.fault is None
    # Run the last rate on to the end: exactly the target, then the motor is off.
    if program[-1][1] and len(times) < target:
        left = target - len(times)
        run_on = left * 3_600_000_000_000 // (program[-1][1] * spm) + S
        if run_on < 600 * S:
            run_program(drive, clock, [], clock.now + run_on, period_us=50_000)
            assert stepper.steps() == target and not stepper.enabled()


@settings(max_examples=12, deadline=None)
@given(st.integers(50, 200), st.integers(12_500, 400_000))
def test_whole_250_ml_ends_exactly_at_target(spm, rate):
    drive, stepper, clock = make_drive(spm, 250 * spm, start_us=TICKS_PERIOD - 5 * S, record=False)
    t0 = clock.now
    hours_us = 250 * 3_600_000_000 // rate * 1000  # 250 mL at rate, in us
    run_program(drive, clock, [(t0, rate)], t0 + hours_us + 2 * S, period_us=100_000)
    assert drive.steps_made() == 250 * spm and drive.delivered_ul() == 250_000
    assert not stepper.enabled()

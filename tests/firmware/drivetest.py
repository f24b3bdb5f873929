# Helpers for the drive tests (both lanes): a virtual clock, a scripted run, an exact error check.
from pumpfw.drive import Drive
from pumpfw.hw.stepper_sim import SimStepper
from pumpfw.planner import WORK_PER_STEP
from pumpfw.ticks import TICKS_PERIOD, ticks_diff

NEAR_WRAP_US = TICKS_PERIOD - 3_000_000  # start 3 s before ticks_us wraps


class Clock:
    """Virtual time: `now` is unwrapped (for the test), clock() gives wrapped ticks_us."""

    def __init__(self, start_us=NEAR_WRAP_US):
        self.now = start_us

    def __call__(self):
        return self.now % TICKS_PERIOD

    def ticks(self, t_us):
        return t_us % TICKS_PERIOD


def make_drive(steps_per_ml, target_steps, max_step_hz=5000, start_us=NEAR_WRAP_US, **kw):
    clock = Clock(start_us)
    stepper = SimStepper(clock, 20, **kw)
    return Drive(stepper, steps_per_ml, target_steps, max_step_hz), stepper, clock


def unwrap(times_us, origin_us):
    """Wrapped step times -> unwrapped, given an unwrapped time before the first step."""
    out = []
    ref = origin_us
    for t in times_us:
        ref += ticks_diff(t, ref % TICKS_PERIOD)
        out.append(ref)
    return out


def run_program(drive, clock, program, end_us, period_us=1000, late_us=0):
    """program: sorted [(t_us unwrapped, rate_ul_h)]; each change is applied late_us late,
    dated at its exact time (as the controller does). service() runs every period_us, and the
    loop wakes at each change (as an app sleeping until next_change_ms() would)."""
    i = 0
    while clock.now < end_us:
        while i < len(program) and program[i][0] + late_us <= clock.now:
            t, rate = program[i]
            drive.set_rate(rate, clock.ticks(t))
            i += 1
        drive.service(clock())
        step_us = period_us
        if i < len(program) and program[i][0] + late_us - clock.now < step_us:
            step_us = program[i][0] + late_us - clock.now
        clock.now += step_us
    drive.service(clock())


def ideal_work(program, t_us, steps_per_ml):
    """Exact accrued work (steps * WORK_PER_STEP) of a rate program at unwrapped t_us."""
    work = 0
    for j in range(len(program)):
        t0, rate = program[j]
        if t0 >= t_us:
            break
        t1 = program[j + 1][0] if j + 1 < len(program) else t_us
        if t1 > t_us:
            t1 = t_us
        work += rate * steps_per_ml * (t1 - t0)
    return work


def check_exact(program, step_times_us, steps_per_ml, early_frac=32):
    """Every step k at time tau: ideal in [k-1, k+1] just after, and never 1/early_frac of a
    step early (made - ideal < 1/early_frac). Returns the worst |error| in 1/1000 steps."""
    worst = 0
    for k in range(1, len(step_times_us) + 1):
        work = ideal_work(program, step_times_us[k - 1], steps_per_ml)
        assert (k - 1) * WORK_PER_STEP <= work, (k, work)  # never a whole step behind
        assert work <= (k + 1) * WORK_PER_STEP, (k, work)  # never a whole step ahead
        assert k * WORK_PER_STEP - work < WORK_PER_STEP // early_frac, (k, work)
        err = abs(k * WORK_PER_STEP - work) * 1000 // WORK_PER_STEP
        if err > worst:
            worst = err
    return worst

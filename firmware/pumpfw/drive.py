# Drive facade: the controller's rate in, exact step segments out to a hardware-timed driver.
# The app calls set_rate() when the controller's rate changes, service() every loop, halt() in
# finally/except. Volume is counted from the steps the driver really made, never rate x time.
from pumpfw.compat import const
from pumpfw.planner import MAX_INTERVAL_US, WORK_PER_STEP, Planner
from pumpfw.ticks import ticks_diff

HORIZON_US = const(100_000)  # plan this far ahead: covers GC pauses and flash writes
_TOL_SHIFT = const(6)  # steps inside a segment run at most 1/64 of an interval early
# After a (re)start, segments grow from this many steps, x4 each: the next one is planned while
# the driver runs the last, so it never waits for a long segment to be planned (the per-step
# planner took ~12 us a step on the rp2 port, 256 steps longer than a step interval; a segment
# now costs O(1), and the ramp stays as the safe start).
_RAMP_FIRST = const(8)

# Drive faults (`fault`, for a driver too): the detail of `ev fault what=drive`.
FAULT_RATE_CLAMPED = const(1)  # asked for more than the board's maximum step rate
FAULT_RATE_LOW = const(2)  # slower than the driver can time: refused, motor stopped
FAULT_UNDERRUN = const(3)  # the driver ran dry: re-planned on the exact integral
FAULT_COUNT = const(4)  # the driver's step count disagreed with its own record: the larger kept


class Drive:
    """One pump motor: Drive(driver, steps_per_ml, target_steps, max_step_hz).

    ticks_us (the board's clock, optional): read just before a (re)start's first step is handed
    to the driver, whose timeline starts then; without it the tick's now_us stands in.
    """

    def __init__(self, driver, steps_per_ml, target_steps, max_step_hz, horizon_us=HORIZON_US,
                 ticks_us=None):
        self.driver = driver
        self._ticks_us = ticks_us
        self._lone_us = -1  # due time of a (re)start's first step not yet handed out
        self._ramp = 0  # longest segment allowed next while ramping up after a start (0: none)
        self.steps_per_ml = steps_per_ml
        self.target_steps = target_steps
        self.horizon_us = horizon_us
        # The hard ceiling, as an interval: no step may come sooner than this after another.
        min_interval_us = -(-1_000_000 // max_step_hz)
        if driver.min_interval_us > min_interval_us:
            min_interval_us = driver.min_interval_us
        self.min_interval_us = min_interval_us
        self.max_rate_ul_h = WORK_PER_STEP // (min_interval_us * steps_per_ml)
        max_interval_us = driver.max_interval_us
        if max_interval_us > MAX_INTERVAL_US:
            max_interval_us = MAX_INTERVAL_US
        self.min_rate_ul_h = -(-WORK_PER_STEP // ((max_interval_us - 1) * steps_per_ml))
        self.planner = Planner(steps_per_ml, target_steps)
        # The driver counts steps since boot; this drive counts from its own start.
        self.base_steps = driver.steps()
        self.fault = None
        self.switch_us = -1  # when service() last switched rates by itself (-1: none pending)
        self._starting = False
        self.active = False
        driver.halt()

    # ---- reading ---------------------------------------------------------------------------
    def steps_made(self):
        return self.driver.steps() - self.base_steps

    def delivered_ul(self):
        return self.steps_made() * 1000 // self.steps_per_ml

    def running(self):
        return self.active

    def complete(self):
        return self.steps_made() >= self.target_steps

    def set_cap(self, cap_steps):
        """Make no more than cap_steps (counted from this drive's start) until raised again.

        The journal's write-ahead allowance: the app raises it only after the journal vouches
        for it, so after a power cut the journal never under-counts (docs/safety.md).
        """
        if cap_steps > self.target_steps:
            cap_steps = self.target_steps
        self.planner.target_steps = cap_steps

    def refill_in_us(self, now_us):
        """When service() should next top the driver up: half of what is queued ahead of now_us
        (the FIFO, not the horizon, bounds it at high rates), else half the horizon."""
        ahead_us = ticks_diff(self.planner.last_us, now_us)
        if ahead_us <= 0 or ahead_us > self.horizon_us:
            ahead_us = self.horizon_us
        return ahead_us >> 1

    def finish_us(self):
        """ticks_us of the last step once the whole target is planned (maybe made), else -1."""
        if self.planner.emitted >= self.target_steps:
            return self.planner.last_us
        return -1

    # ---- commands --------------------------------------------------------------------------
    def _limit(self, rate_ul_h):
        if rate_ul_h > self.max_rate_ul_h:
            self.fault = FAULT_RATE_CLAMPED
            return self.max_rate_ul_h
        if 0 < rate_ul_h < self.min_rate_ul_h:
            self.fault = FAULT_RATE_LOW
            return 0
        return rate_ul_h

    def set_rate(self, rate_ul_h, since_us):
        """Run at rate_ul_h from since_us (a ticks_us value, may be in the recent past).

        0 stops stepping and disables the motor; the fractional step is carried to the resume.
        A change the drive already made by itself (service's next_rate_ul_h) is not redone.
        """
        if since_us == self.switch_us and self._limit(rate_ul_h) == self.planner.rate_ul_h:
            return
        self.switch_us = -1
        self.driver.stop()  # queued steps beyond since_us are re-planned, not executed
        rate_ul_h = self._limit(rate_ul_h)
        self.planner.rebase(rate_ul_h, since_us, self.steps_made())
        self.active = rate_ul_h > 0
        self._starting = self.active
        if not self.active:
            self.driver.disable()

    def service(self, now_us, until_us=-1, next_rate_ul_h=0):
        """Keep the driver fed up to horizon_us ahead. Non-blocking; no allocation when steady.

        until_us (a ticks_us value, or -1): the next scheduled rate change, to next_rate_ul_h.
        Steps are planned at the current rate up to until_us and at the next rate after it,
        in one queue, as if the change had been applied exactly on time; the app's later
        set_rate() for that change is then a no-op. With next_rate_ul_h 0 the plan stops at
        until_us. Either way exactness does not depend on when the loop gets round to it.
        """
        planner = self.planner
        driver = self.driver
        if not self.active:
            return
        if until_us == self.switch_us:
            until_us = -1  # that change is in the plan already
        if self._starting:
            self._start(now_us, until_us)
        elif driver.idle():
            if planner.done():
                if self.steps_made() >= self.target_steps:
                    self.halt()  # the whole target is made: motor off
                return  # else held at the cap until the journal catches up
            if until_us >= 0 and ticks_diff(planner.due_us, until_us) > 0:
                return  # not an underrun: the next step belongs to the coming rate change
            # The driver ran dry (the loop stalled past the horizon). Treat the stall like a pause
            # from the last step made: never catch up with a burst faster than the rate.
            self.fault = FAULT_UNDERRUN
            rate_ul_h = planner.rate_ul_h
            made = self.steps_made()
            planner.rebase(0, planner.last_us, made)
            planner.rebase(rate_ul_h, now_us, made)
            self._start(now_us, until_us)
        tol_us = planner.q_us >> _TOL_SHIFT
        while True:
            ahead_us = ticks_diff(planner.last_us, now_us)
            if ahead_us >= self.horizon_us or not driver.room():
                break
            max_count = (self.horizon_us - ahead_us) // planner.q_us + 1  # up to the horizon
            if max_count > driver.max_count:
                max_count = driver.max_count
            if self._ramp:
                if max_count > self._ramp:
                    max_count = self._ramp
                self._ramp = self._ramp * 4 if self._ramp < driver.max_count else 0
            if until_us >= 0:
                gap_us = ticks_diff(until_us, planner.due_us)
                if gap_us < 0:
                    if not self._switch(next_rate_ul_h, until_us):
                        break
                    until_us = -1
                    continue
                # Intervals are q or q + 1 us: this many steps are surely due by until_us.
                fit = gap_us // (planner.q_us + 1) + 1
                if fit < max_count:
                    max_count = fit
            if not planner.next_segment(max_count, tol_us):
                break
            if self._lone_us >= 0:
                self._push_lone(now_us)  # the segment after it is planned: now the driver goes
            driver.push(planner.seg_interval_us, planner.seg_count)
        if self._lone_us >= 0:
            self._push_lone(now_us)

    def _switch(self, rate_ul_h, at_us):
        # Rebase at the change with every handed-out step counted as made (none is cancelled),
        # keeping the reference of the last step handed out: the queue flows on seamlessly.
        # A stop or a rate the driver cannot time is left to the app's set_rate().
        if rate_ul_h <= 0 or self._limit(rate_ul_h) == 0:
            return False
        rate_ul_h = self._limit(rate_ul_h)
        last_us = self.planner.last_us
        self.planner.rebase(rate_ul_h, at_us, self.planner.emitted)
        self.planner.last_us = last_us
        self.switch_us = at_us
        return True

    def _start(self, now_us, until_us=-1):
        # The first step after a (re)start is a lone segment planned from the rebase time. It is
        # handed out (and the driver started) only once the short segment after it is planned
        # too, and segments then grow (_RAMP_FIRST): a driver left waiting for its next segment
        # would shift every later step (seen on the rp2 port, where planning 256 steps takes
        # longer than a step interval).
        self._starting = False
        self.driver.enable()
        if until_us >= 0 and ticks_diff(self.planner.due_us, until_us) > 0:
            self.driver.start(now_us)
            return
        if self.planner.next_segment(1, 0):
            self._lone_us = self.planner.last_us
            self._ramp = _RAMP_FIRST
        else:
            self.driver.start(now_us)

    def _push_lone(self, now_us):
        # The driver's timeline starts at this push: the interval is what is left until the
        # step is due (at least the hard minimum, if the start came late).
        if self._ticks_us is not None:
            now_us = self._ticks_us()
        self.driver.start(now_us)
        interval_us = ticks_diff(self._lone_us, now_us)
        if interval_us < self.min_interval_us:
            interval_us = self.min_interval_us
        self._lone_us = -1
        self.driver.push(interval_us, 1)

    def halt(self):
        """Stop stepping and disable the motor now. Safe from finally/except.

        The plan is kept: a later set_rate(rate, since_us) resumes on the exact integral.
        """
        self.active = False
        self._starting = False
        self._lone_us = -1
        self.driver.halt()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.halt()
        return False

# Rate -> step segments: exact integer planning of step times from a rate in uL/h (Klipper-style).
# Work units: a step costs N = 3.6e12 units (us per hour x uL per mL); a rate accrues
# D = rate_ul_h * steps_per_ml units per us. Step k is due at the first whole us where the
# accrued work reaches k * N, so steps made == floor(ideal steps) on the us grid, never re-based
# on "now". The per-step path runs in small ints only (no heap): the remainder of N / D and the
# slack of the next due time are kept in mixed radix (high * steps_per_ml + low), since D itself
# may exceed 2**30. Big ints appear only in rebase(), i.e. once per rate change.
from pumpfw.compat import const
from pumpfw.ticks import ticks_add, ticks_diff

WORK_PER_STEP = 3_600_000_000_000  # us per hour * uL per mL: N, the work of one step
MAX_INTERVAL_US = const(1 << 27)  # ~134 s: intervals stay far inside ticks_diff's +/- 2**29


class Planner:
    """Turns (rate_ul_h, since_us) into segments (interval_us, count) of exact step times.

    Times are wrapped ticks_us values. seg_interval_us / seg_count hold the last segment
    (attributes, so the hot path returns no tuple). emitted counts steps handed out.
    """

    def __init__(self, steps_per_ml, target_steps):
        if steps_per_ml < 1 or steps_per_ml >= 1 << 20 or target_steps < 0:
            raise ValueError("steps_per_ml")
        self.spm = steps_per_ml
        self.target_steps = target_steps
        self.rate_ul_h = 0
        self.emitted = 0
        self.work_left = WORK_PER_STEP  # work still needed for step emitted+1, while stopped
        self.last_us = 0  # reference time of the next interval (the previous step's time)
        self.due_us = 0  # exact (ceil) due time of step emitted+1, while running
        self.fresh = True  # next segment is the first after a rebase: a lone step
        self.seg_interval_us = 0
        self.seg_count = 0
        self.q_us = 0  # floor(N / D): steps come q_us or q_us + 1 us apart (read by the drive)
        self._r1 = 0  # N % D == r1 * spm + r0
        self._r0 = 0
        self._s1 = 0  # slack == (due_us - exact due) * D == s1 * spm + s0, in [0, D)
        self._s0 = 0

    def running(self):
        return self.rate_ul_h > 0

    def done(self):
        return self.emitted >= self.target_steps

    # ---- rate changes (big ints allowed: once per change) -------------------------------
    def _work_to_next(self, at_us):
        """Work still needed at at_us for step emitted+1 (may be <= 0 if already overdue)."""
        if self.rate_ul_h == 0:
            return self.work_left
        rate_work = self.rate_ul_h * self.spm
        slack = self._s1 * self.spm + self._s0
        return ticks_diff(self.due_us, at_us) * rate_work - slack

    def rebase(self, rate_ul_h, at_us, steps_made):
        """From at_us on, run at rate_ul_h; the driver really made steps_made steps.

        Steps handed out but not made (cancelled) are planned again on the exact integral.
        """
        if steps_made > self.emitted or steps_made < 0:
            raise ValueError("steps_made")
        if rate_ul_h > 0 and WORK_PER_STEP // (rate_ul_h * self.spm) >= MAX_INTERVAL_US:
            raise ValueError("rate too low")
        work = self._work_to_next(at_us) - (self.emitted - steps_made) * WORK_PER_STEP
        self.emitted = steps_made
        self.rate_ul_h = rate_ul_h
        self.last_us = at_us
        self.fresh = True
        if rate_ul_h <= 0:
            self.rate_ul_h = 0
            self.work_left = work
            return
        rate_work = rate_ul_h * self.spm
        offset_us = -(-work // rate_work)  # ceil: the first whole us the work is reached
        slack = offset_us * rate_work - work
        self.due_us = ticks_add(at_us, offset_us)
        self.q_us = WORK_PER_STEP // rate_work
        r = WORK_PER_STEP - self.q_us * rate_work
        self._r1 = r // self.spm
        self._r0 = r - self._r1 * self.spm
        self._s1 = slack // self.spm
        self._s0 = slack - self._s1 * self.spm

    # ---- hot path (small ints only) -------------------------------------------------------
    def next_segment(self, max_count, tol_us):
        """Hand out up to max_count steps as seg_count steps seg_interval_us apart; 0 = none.

        The first interval counts from last_us (the previous step as the driver makes it).
        Inside a segment a step may run up to tol_us early: an exact interval one us longer is
        absorbed, and the next segment's first interval pays the lag back. tol_us = 0 gives
        exact runs only. The first segment after a rebase is a lone step.
        """
        self.seg_count = 0
        left = self.target_steps - self.emitted
        if self.rate_ul_h == 0 or left <= 0:
            return 0
        if max_count > left:
            max_count = left
        if self.fresh:
            self.fresh = False
            max_count = 1
        interval_us = ticks_diff(self.due_us, self.last_us)
        # Handing out a step moves the slack on by N % D (mixed radix); when it goes below 0 the
        # exact due time crossed one more whole us, so that interval is q + 1. The loop runs
        # once per step, so it works in locals (on MicroPython an attribute access costs as
        # much as the arithmetic), with due times as offsets from the first step's (< horizon
        # + one interval: small ints).
        q = self.q_us
        r0 = self._r0
        r1 = self._r1
        spm = self.spm
        rate = self.rate_ul_h
        s0 = self._s0
        s1 = self._s1
        due_off = 0  # the next step's due time, from the first step's
        count = 0
        early_us = 0
        while True:
            last_off = due_off  # hand out the step due at due_off
            count += 1
            nxt_us = q  # ... and the interval to the one after it
            s0 -= r0
            s1 -= r1
            if s0 < 0:
                s0 += spm
                s1 -= 1
            if s1 < 0:
                s1 += rate
                nxt_us += 1
            due_off += nxt_us
            if count >= max_count:
                break
            if nxt_us != interval_us:
                if nxt_us != interval_us + 1 or early_us >= tol_us:
                    break
                early_us += 1
        first_us = self.due_us
        self._s0 = s0
        self._s1 = s1
        self.emitted += count
        self.due_us = ticks_add(first_us, due_off)
        self.last_us = ticks_add(first_us, last_off - early_us)
        self.seg_interval_us = interval_us
        self.seg_count = count
        return count

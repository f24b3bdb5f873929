# Rate -> step segments: exact integer planning of step times from a rate in uL/h (Klipper-style).
# Work units: a step costs N = 3.6e12 units (us per hour x uL per mL); a rate accrues
# D = rate_ul_h * steps_per_ml units per us. Step k is due at the first whole us where the
# accrued work reaches k * N, so steps made == floor(ideal steps) on the us grid, never re-based
# on "now". The per-step path runs in small ints only (no heap): the remainder of N / D and the
# slack of the next due time are kept in mixed radix (high * steps_per_ml + low), since D itself
# may exceed 2**30. Big ints appear only in rebase(), i.e. once per rate change. A segment costs
# O(1) small-int work (next_segment): the carries of n steps come from the slack in closed form.
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

        Work per segment, not per step: the intervals after the first are q or q + 1 (a carry),
        and the carries K(n) among the next n steps follow from the slack in a few small-int
        operations. The segment ends at the first n where a monotone condition on K(n) and
        n - K(n) holds: checked at max_count, then bisected (<= 8 probes for a driver's 256
        steps), never a loop over steps. docs/drive.md, "Planner math".
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
        q = self.q_us
        r0 = self._r0
        r1 = self._r1
        spm = self.spm
        rate = self.rate_ul_h
        s0 = self._s0
        s1 = self._s1
        if tol_us < 0:
            tol_us = 0
        if tol_us > max_count:
            tol_us = max_count  # (a bound the count reaches first: keeps it a small int)
        # The segment takes the next interval while it equals interval_us, or is one us longer
        # and the lag (early_us) is still under tol_us. As conditions on the carries: it ends
        # at the first n (steps handed out) with K(n) >= need_k or n - K(n) >= need_n.
        never = max_count + 1
        count = max_count
        lag = 0  # which steps run early: 1 the carries, 2 all but the first, 0 none
        if interval_us == q:  # a carry (q + 1) costs one us of lag
            need_k = tol_us + 1
            need_n = never
            lag = 1
        elif interval_us == q + 1:  # a step without a carry (q) ends it
            need_k = never
            need_n = 1
        elif interval_us == q - 1:  # a carry ends it; a plain q costs one us of lag
            need_k = 1
            need_n = tol_us + 1
            lag = 2
        else:
            count = 1  # no later interval matches: a lone step
        if count > 1:
            # K(n) = the carries while handing out n steps: the slack s - n * N%D, taken below 0
            # by whole D = rate * spm (mixed radix: (s1 - n * r1) * spm + (s0 - n * r0)).
            lo = s0 - count * r0
            k = -((s1 - count * r1 + lo // spm) // rate)
            if k >= need_k or count - k >= need_n:
                low = 1  # the condition holds at count: bisect for the first n it holds at
                while low < count:
                    mid = (low + count) >> 1
                    lo = s0 - mid * r0
                    k = -((s1 - mid * r1 + lo // spm) // rate)
                    if k >= need_k or mid - k >= need_n:
                        count = mid
                    else:
                        low = mid + 1
        if count < 1:
            count = 1
        # The slack after count steps, and the carries before the last step and after it.
        lo = s0 - (count - 1) * r0
        k_before = -((s1 - (count - 1) * r1 + lo // spm) // rate)
        lo = s0 - count * r0
        hi = s1 - count * r1 + lo // spm
        k = -(hi // rate)
        self._s0 = lo % spm
        self._s1 = hi + k * rate
        early_us = 0
        if lag == 1:
            early_us = k_before  # every carry inside the segment ran one us early
        elif lag == 2:
            early_us = count - 1  # every step after the first: a q taken as q - 1
        first_us = self.due_us
        self.emitted += count
        self.due_us = ticks_add(first_us, count * q + k)
        self.last_us = ticks_add(first_us, (count - 1) * q + k_before - early_us)
        self.seg_interval_us = interval_us
        self.seg_count = count
        return count

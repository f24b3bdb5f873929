# The per-segment planner against a straightforward per-step reference: the same segments, the
# same state after each, on random rates, tolerances, segment lengths and rebases.
from hypothesis import given, settings
from hypothesis import strategies as st

from pumpfw.planner import WORK_PER_STEP, Planner
from pumpfw.ticks import TICKS_PERIOD, ticks_add, ticks_diff


class StepPlanner(Planner):
    """Hands out a segment one step at a time: each step moves the slack on by N % D (mixed
    radix), a step whose slack goes below 0 is one us later (q + 1); the segment takes a step
    while its interval equals the first one, or is one us longer with the lag under tol_us."""

    def next_segment(self, max_count, tol_us):
        self.seg_count = 0
        left = self.target_steps - self.emitted
        if self.rate_ul_h == 0 or left <= 0:
            return 0
        max_count = min(max_count, left)
        if self.fresh:
            self.fresh = False
            max_count = 1
        interval_us = ticks_diff(self.due_us, self.last_us)
        s1, s0 = self._s1, self._s0
        due_off = last_off = count = early_us = 0
        while True:
            last_off = due_off
            count += 1
            nxt_us = self.q_us
            s0 -= self._r0
            s1 -= self._r1
            if s0 < 0:
                s0 += self.spm
                s1 -= 1
            if s1 < 0:
                s1 += self.rate_ul_h
                nxt_us += 1
            due_off += nxt_us
            if count >= max_count:
                break
            if nxt_us != interval_us:
                if nxt_us != interval_us + 1 or early_us >= tol_us:
                    break
                early_us += 1
        first_us = self.due_us
        self._s1, self._s0 = s1, s0
        self.emitted += count
        self.due_us = ticks_add(first_us, due_off)
        self.last_us = ticks_add(first_us, last_off - early_us)
        self.seg_interval_us = interval_us
        self.seg_count = count
        return count


def state(p):
    return (p.seg_interval_us, p.seg_count, p.emitted, p.due_us, p.last_us, p._s1, p._s0,
            p.fresh, p.rate_ul_h)


@st.composite
def runs(draw):
    spm = draw(st.integers(1, (1 << 20) - 1))
    slowest = WORK_PER_STEP // (spm * ((1 << 27) - 2)) + 1
    rate = st.integers(max(slowest, 1), 400_000)
    target = draw(st.integers(1, 5_000))
    start = draw(st.integers(0, TICKS_PERIOD - 1))
    ops = draw(st.lists(st.one_of(
        st.tuples(st.just("seg"), st.integers(-2, 300), st.integers(-2, 400)),
        st.tuples(st.just("rate"), st.one_of(st.just(0), rate), st.integers(0, 3_000_000),
                  st.integers(0, 1_000)),
        st.tuples(st.just("ref"), st.integers(-3, 3)),
    ), min_size=1, max_size=60))
    return spm, target, start, draw(rate), ops


@settings(max_examples=400, deadline=None)
@given(runs())
def test_segments_equal_the_per_step_reference(case):
    spm, target, start, rate, ops = case
    fast, slow = Planner(spm, target), StepPlanner(spm, target)
    for p in (fast, slow):
        p.rebase(rate, start, 0)
    now = start
    for op in ops:
        if op[0] == "seg":
            _, max_count, tol_us = op
            assert fast.next_segment(max_count, tol_us) == slow.next_segment(max_count, tol_us)
            assert state(fast) == state(slow), op
        elif op[0] == "ref":  # the previous step moved (as Drive._switch does): q - 1 .. q + 1
            if slow.rate_ul_h:
                for p in (fast, slow):
                    p.last_us = ticks_add(p.due_us, -(p.q_us + op[1]))
        else:
            _, new_rate, after_us, cancel = op
            now = ticks_add(now, after_us)
            made = max(0, slow.emitted - cancel)
            try:
                slow.rebase(new_rate, now, made)
            except ValueError:
                continue  # (below the slowest rate: refused, nothing changed)
            fast.rebase(new_rate, now, made)
            assert state(fast) == state(slow)


@settings(max_examples=200, deadline=None)
@given(st.integers(50, 20_000), st.integers(1_000, 400_000), st.integers(0, 64),
       st.integers(1, 256))
def test_a_whole_run_hands_out_the_same_segments(spm, rate, tol_us, max_count):
    fast, slow = Planner(spm, 3_000), StepPlanner(spm, 3_000)
    for p in (fast, slow):
        p.rebase(rate, TICKS_PERIOD - 1_000_000, 0)
    segments = 0
    while slow.next_segment(max_count, tol_us):
        assert fast.next_segment(max_count, tol_us) == slow.seg_count
        assert state(fast) == state(slow)
        segments += 1
    assert fast.next_segment(max_count, tol_us) == 0
    assert fast.emitted == 3_000 and segments >= 3_000 // max_count

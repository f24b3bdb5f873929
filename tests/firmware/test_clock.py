# MonoClock: monotonic ms from a wrapping 2^30 ticks_us (runs on CPython and on MicroPython).
from pumpfw.clock import MonoClock

PERIOD = 1 << 30


class FakeTicks:
    def __init__(self, start):
        self.us = start

    def __call__(self):
        return self.us % PERIOD


def test_counts_ms_across_the_wrap():
    ticks = FakeTicks(PERIOD - 2_500)
    clock = MonoClock(ticks)
    assert clock.read() == 0
    for step_us in (1_000, 1_499, 1, 1, 999, 123_456, 500_000_000):
        ticks.us += step_us
        clock.read()
    total = 1_000 + 1_499 + 1 + 1 + 999 + 123_456 + 500_000_000
    assert clock.ms == total // 1000 and clock.rem_us == total % 1000


def test_many_small_steps_never_drift():
    ticks = FakeTicks(PERIOD - 10_000)
    clock = MonoClock(ticks)
    for i in range(20_000):
        ticks.us += 37 + (i % 5)
    # Only the last read matters when reads are rare...
    clock.read()
    rare = clock.ms
    ticks2 = FakeTicks(PERIOD - 10_000)
    clock2 = MonoClock(ticks2)
    for i in range(20_000):
        ticks2.us += 37 + (i % 5)
        clock2.read()
    # ...and frequent reads give the same answer: the sub-ms remainder is carried.
    assert clock2.ms == rare == sum(37 + (i % 5) for i in range(20_000)) // 1000


def test_ticks_us_at_maps_ms_back_to_raw_ticks():
    ticks = FakeTicks(PERIOD - 1_700)
    clock = MonoClock(ticks)
    ticks.us += 5_250
    clock.read()  # 5 ms and 250 us since boot, raw ticks wrapped
    assert clock.ticks_us_at(5) == (PERIOD - 1_700 + 5_000) % PERIOD
    assert clock.ticks_us_at(3) == (PERIOD - 1_700 + 3_000) % PERIOD
    assert clock.ticks_us_at(9) == (PERIOD - 1_700 + 9_000) % PERIOD


def test_a_backwards_tick_is_ignored():
    ticks = FakeTicks(1_000_000)
    clock = MonoClock(ticks)
    ticks.us += 10_000
    assert clock.read() == 10
    ticks.us -= 3_000
    assert clock.read() == 10

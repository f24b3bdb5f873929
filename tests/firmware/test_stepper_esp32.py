# ESP32 RMT driver logic on fakes: edge times from the written pulses, gap compensation, counting.
from pumpfw.drive import FAULT_RATE_CLAMPED
from pumpfw.hw.stepper_esp32 import Esp32Stepper
from pumpfw.hw.stepper_sim import FakePin


class FakeRmt:
    """Records transmissions; the line's rising edges are derived from durations and levels."""

    def __init__(self, clock):
        self.clock = clock
        self.edges = []  # absolute us of every rising edge ever transmitted
        self.end_us = 0
        self.aborted_at = None

    def write_pulses(self, durations, levels):
        assert len(durations) == len(levels) and max(durations) <= 32767
        self.aborted_at = None
        t = self.clock.now
        prev = 0
        for d, level in zip(durations, levels):
            if level and not prev:
                self.edges.append(t)
            prev = level
            t += d
        self.end_us = t

    def wait_done(self, timeout=0):
        return self.clock.now >= self.end_us

    def made(self):
        stop = self.clock.now if self.aborted_at is None else self.aborted_at
        return len([e for e in self.edges if e <= stop])


class Clock:
    def __init__(self):
        self.now = 1000

    def __call__(self):
        return self.now


def make():
    clock = Clock()
    rmt = FakeRmt(clock)

    class Counter:
        def value(self):
            return rmt.made()

    def stop_rmt():
        rmt.aborted_at = clock.now

    enable = FakePin()
    drv = Esp32Stepper(rmt, Counter(), enable, True, 2, stop_rmt, clock)
    return drv, rmt, clock, enable


def test_segments_become_exact_edges_and_a_late_join_is_paid_back():
    drv, rmt, clock, enable = make()
    assert enable.value() == 1  # built disabled
    drv.enable()
    drv.start(clock())
    drv.push(500, 1)
    drv.push(300, 4)
    assert rmt.edges == [1500]
    clock.now = 1500 + 170  # the loop polls 170 us after the last edge
    drv.room()
    assert rmt.edges[1:] == [1800, 2100, 2400, 2700]  # 300 us after 1500, not after 1670
    clock.now = 3000
    assert drv.steps() == 5 and drv.idle()
    drv.push(300, 2)  # 300 us after the last edge: already due, so it comes at once
    clock.now = 3300
    drv.room()
    assert rmt.edges[5:] == [3000 + 4, 3000 + 4 + 300]


def test_long_interval_is_split_into_15_bit_items():
    drv, rmt, clock, _ = make()
    drv.start(clock())
    drv.push(100_000, 2)
    assert rmt.edges == [101_000, 201_000]


def test_halt_stops_and_the_count_is_what_was_really_sent():
    drv, rmt, clock, enable = make()
    drv.enable()
    drv.start(clock())
    drv.push(1000, 10)
    clock.now += 4500
    drv.halt()
    clock.now += 10**6
    assert drv.steps() == 4 and enable.value() == 1 and not drv.stepping
    drv.push(1, 1)
    assert drv.fault == FAULT_RATE_CLAMPED

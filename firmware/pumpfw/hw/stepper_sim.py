# Virtual stepper driver: runs step segments on an injected clock and records every step's time.
# It mimics the PIO driver: segments wait in a bounded queue, a step fires after its interval
# from the previous one, and an empty queue stalls the timeline until the next push.
from pumpfw.compat import const
from pumpfw.drive import FAULT_RATE_CLAMPED
from pumpfw.hw.motor_enable import MotorEnable
from pumpfw.ticks import ticks_add, ticks_diff

MAX_COUNT = const(256)  # steps per segment (the PIO word has 8 bits for count - 1)


class FakePin:
    """A machine.Pin stand-in that remembers its level (and how often it was written)."""

    def __init__(self, level=0):
        self.level = level
        self.writes = 0

    def value(self, level=None):
        if level is None:
            return self.level
        self.level = 1 if level else 0
        self.writes += 1


class SimStepper(MotorEnable):
    """Driver API shared with stepper_rp2 / stepper_esp32:

    enable(), disable(), start(now_us), push(interval_us, count) -> bool, room(), idle(),
    stop(), halt(), steps(), fault, min_interval_us, max_interval_us, max_count.
    """

    max_count = MAX_COUNT
    max_interval_us = const(1 << 27)

    def __init__(self, clock, min_interval_us, enable_pin=None, enable_active_low=True,
                 queue_len=8, record=True):
        self.clock = clock  # callable returning wrapped ticks_us
        self.min_interval_us = min_interval_us
        self._init_enable(enable_pin if enable_pin is not None else FakePin(), enable_active_low)
        self.times_us = [] if record else None
        self._iv = [0] * queue_len
        self._n = [0] * queue_len
        self._head = 0
        self._size = 0
        self._ref_us = 0  # time of the previous step (or of start / the end of a stall)
        self._made = 0
        self.stepping = False
        self.fault = None
        self.disable()

    # ---- stepping -----------------------------------------------------------------------
    def start(self, now_us):
        self._ref_us = now_us
        self.stepping = not self.frozen

    def _freeze(self):
        self._run()
        self.stepping = False  # the queue is kept: stop() drops it, as on the chip

    def _run(self):
        if not self.stepping:
            return
        now_us = self.clock()
        while self._size:
            i = self._head
            at_us = ticks_add(self._ref_us, self._iv[i])
            if ticks_diff(now_us, at_us) < 0:
                return
            self._ref_us = at_us
            self._made += 1
            if self.times_us is not None:
                self.times_us.append(self._ref_us)
            self._n[i] -= 1
            if self._n[i] == 0:
                self._head = (i + 1) % len(self._iv)
                self._size -= 1
        # Queue empty: like a PIO state machine stalled on pull, the timeline waits here.
        if ticks_diff(now_us, self._ref_us) > 0:
            self._ref_us = now_us

    def push(self, interval_us, count):
        """Queue count steps interval_us apart; False if the queue is full."""
        self._run()
        if self._size == len(self._iv):
            return False
        if interval_us < self.min_interval_us:  # hard ceiling on the step frequency
            interval_us = self.min_interval_us
            self.fault = FAULT_RATE_CLAMPED
        if count < 1 or count > MAX_COUNT or interval_us > self.max_interval_us:
            raise ValueError("segment")
        i = (self._head + self._size) % len(self._iv)
        self._iv[i] = interval_us
        self._n[i] = count
        self._size += 1
        return True

    def room(self):
        self._run()
        return len(self._iv) - self._size

    def idle(self):
        self._run()
        return self._size == 0 and not self.frozen

    def stop(self):
        """Stop stepping now and drop the queue; steps() is exact afterwards."""
        self._run()
        self.stepping = False
        self._size = 0


    def steps(self):
        self._run()
        return self._made

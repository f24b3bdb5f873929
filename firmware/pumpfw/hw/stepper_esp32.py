# ESP32 stepper driver: the RMT peripheral times STEP pulses; a PCNT unit (machine.Counter) on
# the same pin counts every rising edge, so steps made are exact at any moment, not estimated.
# One RMT transmission per segment; the software gap between two transmissions is measured with
# ticks_us and taken off the next segment's first interval, so gaps never accumulate.
from pumpfw.compat import const
from pumpfw.drive import FAULT_RATE_CLAMPED
from pumpfw.hw.motor_enable import MotorEnable
from pumpfw.ticks import ticks_add, ticks_diff

_RING = const(8)
_MAX_ITEM = const(32767)  # RMT item duration field: 15 bits of ticks
MAX_COUNT = const(32)  # steps per transmission (2 items each, plus splits of long lows)


class Esp32Stepper(MotorEnable):
    """Driver API as SimStepper. rmt: esp32.RMT at 1 tick/us, idle low; counter: a
    rising-edge machine.Counter on the STEP pin; stop_rmt(): aborts a transmission; ticks_us:
    the clock. All hardware is passed in (see make())."""

    max_count = MAX_COUNT
    max_interval_us = const(1 << 27)

    def __init__(self, rmt, counter, enable_pin, enable_active_low, pulse_us, stop_rmt,
                 ticks_us):
        self.rmt = rmt
        self.counter = counter
        self._init_enable(enable_pin, enable_active_low)
        self.pulse_us = pulse_us
        self.min_interval_us = 2 * pulse_us
        self.stop_rmt = stop_rmt
        self.ticks_us = ticks_us
        self._iv = [0] * _RING
        self._n = [0] * _RING
        self._head = 0
        self._size = 0
        self._busy = False
        self._end_us = 0  # when the running transmission's last pulse rises
        self._base = 0  # counter value at the last stop (the counter is never reset)
        self.stepping = False
        self.fault = None
        self.halt()

    def start(self, now_us):
        self._end_us = now_us
        self.stepping = True
        self._pump()

    def _freeze(self):
        self.stop_rmt()  # the line idles low at once; the PCNT keeps the exact count

    def _pump(self):
        # Start the next segment once the RMT is done with the previous one.
        if not self.stepping or self.frozen or not self._size:
            return
        if self._busy and not self.rmt.wait_done(timeout=0):
            return
        now_us = self.ticks_us()
        late_us = ticks_diff(now_us, self._end_us)  # software gap since the last rising edge
        i = self._head
        first_us = self._iv[i] - late_us
        if first_us < self.min_interval_us:
            first_us = self.min_interval_us
        durations = []
        levels = []
        self._items(durations, levels, first_us)
        for _ in range(self._n[i] - 1):
            self._items(durations, levels, self._iv[i])
        durations.append(self.pulse_us)
        levels.append(0)
        self.rmt.write_pulses(durations, levels)
        if self.frozen:  # a press froze it while this was built: it must not run on
            self.stop_rmt()
        self._busy = True
        self._end_us = ticks_add(now_us, first_us + (self._n[i] - 1) * self._iv[i])
        self._head = (i + 1) % _RING
        self._size -= 1

    def _items(self, durations, levels, interval_us):
        # Low until the step is due (split in 15-bit items), then the rising edge.
        if durations:
            low_us = interval_us - self.pulse_us
        else:
            low_us = interval_us
        while low_us > _MAX_ITEM:
            durations.append(_MAX_ITEM)
            levels.append(0)
            low_us -= _MAX_ITEM
        durations.append(low_us)
        levels.append(0)
        durations.append(self.pulse_us)
        levels.append(1)

    def push(self, interval_us, count):
        self._pump()
        if self._size == _RING:
            return False
        if interval_us < self.min_interval_us:
            interval_us = self.min_interval_us
            self.fault = FAULT_RATE_CLAMPED
        if count < 1 or count > MAX_COUNT or interval_us > self.max_interval_us:
            raise ValueError("segment")
        i = (self._head + self._size) % _RING
        self._iv[i] = interval_us
        self._n[i] = count
        self._size += 1
        self._pump()
        return True

    def room(self):
        self._pump()
        return _RING - self._size

    def idle(self):
        self._pump()
        if self.frozen:
            return False  # frozen by a press: the app stops it, this is no underrun
        return self._size == 0 and (not self._busy or self.rmt.wait_done(timeout=0))

    def stop(self):
        self.stop_rmt()
        self.stepping = False
        self._busy = False
        self._size = 0

    def steps(self):
        return self.counter.value() - self._base


def make(board):
    """Build the driver for boards/esp32.py. Imports esp32/machine only here."""
    import time

    import esp32
    from machine import Counter, Pin

    step = Pin(board.STEP_PIN, Pin.OUT, value=0)
    enable = Pin(board.ENABLE_PIN, Pin.OUT, value=1 if board.ENABLE_ACTIVE_LOW else 0)
    Pin(board.DIR_PIN, Pin.OUT, value=board.DIR_FORWARD)
    rmt = esp32.RMT(board.RMT_CHANNEL, pin=step, resolution_hz=board.RMT_RESOLUTION_HZ,
                    idle_level=False)
    counter = Counter(board.COUNTER_ID, Pin(board.STEP_PIN), edge=Counter.RISING)

    def stop_rmt():
        rmt.active(False)  # aborts the transmission in progress; the line idles low

    return Esp32Stepper(rmt, counter, enable, board.ENABLE_ACTIVE_LOW, board.MIN_PULSE_US,
                        stop_rmt, time.ticks_us)

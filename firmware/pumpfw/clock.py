# Monotonic ms for the controller, derived from a wrapping ticks_us without big integers.
# read() must run at least every 2^29 us (about 9 minutes); the main loop calls it every tick.
from pumpfw.compat import const

# 2^30 itself is a big int on MicroPython: only the mask and the half period appear here.
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def _diff(new, old):
    # time.ticks_diff semantics for a 2^30 period, in small-int arithmetic.
    return ((new - old + _HALF) & _MASK) - _HALF


class MonoClock:
    """ms since boot on one monotonic line, plus the matching raw ticks_us value.

    ms stays a small int for 12 days; the sub-ms remainder is carried, so ms never drifts
    from the ticks it was built from.
    """

    def __init__(self, ticks_us):
        self._ticks_us = ticks_us
        self.last_us = ticks_us()
        self.t0_us = self.last_us  # the raw ticks_us of ms 0 (the hello's t0_us)
        self.ms = 0
        self.rem_us = 0  # us past self.ms at self.last_us, 0..999

    def read(self):
        now = self._ticks_us()
        d = _diff(now, self.last_us)
        if d > 0:
            self.last_us = now
            self.rem_us += d
            if self.rem_us >= 1000:
                self.ms += self.rem_us // 1000
                self.rem_us %= 1000
        return self.ms

    def ticks_us_at(self, ms):
        """The raw ticks_us value of monotonic time `ms` (within +-2^29 us of the last read)."""
        delta = (ms - self.ms) * 1000 - self.rem_us
        return (self.last_us + delta) & _MASK

# The no-delivery watch: a pump that says running while its motor makes no step is a fault.
# poll() runs every tick and allocates nothing; the bound is computed at rate changes only.
from pumpfw.compat import const

_MS_UL_PER_H_ML = const(3_600_000_000)  # ms/h x uL/mL: a step interval = this / (r x spm)


class DeliveryWatch:
    """Running at an unchanged rate with the step count standing still for longer than one step
    interval at that rate plus margin_ms is a fault (docs/safety.md, "Running but delivering
    nothing"). The watch restarts at every rate change and whenever the count moves."""

    def __init__(self, margin_ms):
        self.margin_ms = margin_ms
        self.steps = -1  # the count last seen...
        self.since_ms = 0  # ...since when (or since the rate last changed)
        self.limit_ms = 0

    def rate_changed(self, now_ms, rate_ul_h, steps_per_ml, steps):
        self.steps = steps
        self.since_ms = now_ms
        if rate_ul_h <= 0:
            self.limit_ms = 0
        else:  # a big int on MicroPython, once per change: rounded up, then the margin
            self.limit_ms = -(-_MS_UL_PER_H_ML // (rate_ul_h * steps_per_ml)) + self.margin_ms

    def poll(self, now_ms, steps, running):
        """Whole seconds without a step once past the bound (a fault), else -1."""
        if steps != self.steps or not running:
            self.steps = steps
            self.since_ms = now_ms
            return -1
        if now_ms - self.since_ms > self.limit_ms:
            return (now_ms - self.since_ms) // 1000
        return -1

    def deadline_ms(self):
        """When poll() would report a fault if no step comes first."""
        return self.since_ms + self.limit_ms + 1

# Helpers for tests that run on both lanes (pytest on CPython, tests/mpy/runner.py on MicroPython).
import random

from pumpfw import controller as ctl
from pumpfw import preview

MIN = 60_000


def raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type:
        return
    raise AssertionError("%s not raised" % exc_type.__name__)


class ButtonPin:
    """A button's input pin: pulled up (1) until pressed; set() calls its IRQ handler as the
    pin's edge would."""

    def __init__(self):
        self.level = 1  # pulled up: released
        self.handler = None

    def value(self):
        return self.level

    def irq(self, handler=None, trigger=None):
        self.handler = handler

    def set(self, level):
        self.level = level
        self.handler(self)


class Irq:
    """A pin's irq object: flags() says which edges the hardware latched."""

    def __init__(self):
        self.latched = 0

    def flags(self):
        return self.latched


class Sampler:
    """The board's sampling timer, as ButtonPanel drives it: start() from a pin edge, stop()
    from the timer's own callback once all is quiet."""

    def __init__(self, panel):
        self.runs = 0
        self.on = False
        panel.start_sampler = self.start
        panel.stop_sampler = self.stop

    def start(self):
        assert not self.on, "started twice"
        self.on = True
        self.runs += 1

    def stop(self):
        self.on = False


class Recorder:
    """Collects controller events as (now_ms, name, a, b)."""

    def __init__(self):
        self.events = []

    def __call__(self, code, now_ms, a, b):
        self.events.append((now_ms, ctl.EVENT_NAMES[code], a, b))

    def names(self):
        return [e[1] for e in self.events]


class InvariantChecker:
    """observe() callback for preview.run: checks what must hold at every instant."""

    def __init__(self, regimen, infusion):
        self.volume_ul = regimen.volume_ul
        self.max_rate_ul_h = regimen.program(infusion).max_rate_ul_h
        self.last_delivered = 0
        self.steps = 0

    def __call__(self, c, now_ms):
        self.steps += 1
        assert 0 <= c.delivered_ul <= self.volume_ul, c.delivered_ul
        assert c.delivered_ul >= self.last_delivered, "volume decreased"
        self.last_delivered = c.delivered_ul
        assert 0 <= c.rate_ul_h <= self.max_rate_ul_h, c.rate_ul_h
        if c.state != ctl.RUNNING:
            assert c.rate_ul_h == 0
        t = c.time_in_state_ms
        assert t[ctl.RUNNING] + t[ctl.PAUSED] + t[ctl.INTERRUPTED] == c.elapsed_ms()


def random_inputs(rng, max_events=8, horizon_min=300):
    """A random script of operator inputs (t_ms, kind, arg) for preview.run."""
    inputs = []
    for _ in range(rng.randint(0, max_events)):
        t = rng.randint(0, horizon_min * MIN)
        kind = preview.INPUT_KINDS[rng.randint(0, len(preview.INPUT_KINDS) - 1)]
        arg = rng.randint(1, 3) if kind == preview.IR else 0
        if kind == preview.STOP and rng.randint(0, 3):
            kind = preview.RESOLVED  # stops end the run; keep them rare
        inputs.append((t, kind, arg))
    return inputs


def check_random_script(regimen, infusion, inputs):
    checker = InvariantChecker(regimen, infusion)
    result = preview.run(regimen, infusion, inputs, observe=checker)
    assert checker.steps > 0
    if result["outcome"] == "complete":
        assert result["delivered_ul"] == regimen.volume_ul
    t = result["time_in_state_ms"]
    assert t[ctl.RUNNING] + t[ctl.PAUSED] + t[ctl.INTERRUPTED] == result["elapsed_ms"]
    assert result["infusing_ms"] == t[ctl.RUNNING]
    return result


def seeded_rng(seed):
    rng = random.Random(seed) if hasattr(random, "Random") else random
    if rng is random:
        random.seed(seed)
    return rng

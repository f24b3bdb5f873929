# Runs inside MicroPython (bench/mpy_run.mjs): the real App on a fake board that allocates
# nothing itself, for heap, allocation-per-tick/IRQ and tick-time figures. Timing is done by
# the Node side: the WebAssembly port's own ticks_us is only millisecond-grained.
import gc

from pumpfw import controller as ctl
from pumpfw import protocol as P
from pumpfw.app import App
from pumpfw.hw.stepper_sim import FakePin, SimStepper
from pumpfw.ticks import ticks_add, ticks_diff

_MASK = (1 << 30) - 1
TICK_US = 1000  # the fake clock moves 1 ms per control tick


class Board:
    NAME = "bench"
    STEPS_PER_ML = 1600
    MAX_RATE_UL_H = 400_000
    MAX_STEP_HZ = 2_000
    MIN_PULSE_US = 2
    BUTTON_ACTIVE_LOW = True


class Pin(FakePin):
    def irq(self, handler=None, trigger=12, hard=False):
        self.handler = handler


class Port:
    """Serial with a preallocated RX buffer; writes are accepted and only counted."""

    def __init__(self):
        self.rx = bytearray(256)
        self.rx_len = 0
        self.rx_pos = 0
        self.tx_bytes = 0

    def feed(self, data):
        self.rx[: len(data)] = data
        self.rx_len = len(data)
        self.rx_pos = 0

    def read_into(self, buf):
        n = self.rx_len - self.rx_pos
        if n > len(buf):
            n = len(buf)
        for i in range(n):
            buf[i] = self.rx[self.rx_pos + i]
        self.rx_pos += n
        return n

    def write(self, buf):
        n = len(buf)
        self.tx_bytes += n
        return n


class Hw:
    def __init__(self):
        self.board = Board
        self.us = _MASK - 5_000_000  # the ticks wrap 5 s into the run
        self.port = Port()
        self.stepper = SimStepper(self.ticks_us, 500, record=False)
        self.buttons = {"pause": Pin(1), "ir": Pin(1), "ok": Pin(1)}
        self.fs_root = "/benchfs"
        self.reset_cause = "power_on"

    def ticks_us(self):
        return self.us

    def advance(self, us):
        self.us = ticks_add(self.us, us)  # no big int on the wrap

    def wdt_start(self, ms):
        pass

    def wdt_feed(self):
        pass

    def idle(self, ms):
        pass


class Bench:
    def __init__(self, infusion):
        gc.collect()
        base = gc.mem_alloc()
        self.hw = hw = Hw()
        self.app = app = App(hw)
        app.journal_interval_ms = 1 << 28  # steady state: no journal write due in the window
        for seq, name, args in ((1, "interval", (60_000,)), (2, "start", (infusion,))):
            hw.port.feed(P.encode_command(seq, name, args))
            self.ticks(20)
        assert app.controller.state == ctl.RUNNING, app.controller.state
        gc.collect()
        self.heap_bytes = gc.mem_alloc()
        self.app_bytes = self.heap_bytes - base
        self.ticks(200)  # warm up: first segments, first record

    def ticks(self, n):
        hw, app = self.hw, self.app
        for _ in range(n):
            hw.advance(TICK_US)
            app.step()

    def empty(self, n):
        hw = self.hw
        for _ in range(n):
            hw.advance(TICK_US)

    def ref(self, n):
        # Reference work: one ticks_diff call and four small-int adds per iteration.
        hw = self.hw
        a = 0
        for i in range(n):
            hw.advance(TICK_US)
            d = ticks_diff(hw.us, a)
            a = a + d + i + 3 - d


def allocated(fn, n):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    fn(n)
    used = gc.mem_alloc() - before
    gc.enable()
    return used


def parts(bench, n):
    """Bytes per call of each part of App.step's body, each called alone n times in steady
    state (the clock moves between calls; arguments are computed outside the measured call)."""
    hw, app = bench.hw, bench.app
    c = app.controller
    now = app.clock.ms
    write = hw.port.write

    def each(fn):
        def loop(k):
            for _ in range(k):
                hw.advance(TICK_US)
                fn()

        return allocated(loop, n) / n

    return {
        "step() total": each(app.step),
        "clock.read()": each(app.clock.read),
        "clock.ticks_us_at()": each(lambda: app.clock.ticks_us_at(now)),
        "port.read_into()": each(lambda: hw.port.read_into(app.rx)),
        "panel.poll()": each(lambda: app.panel.poll(now)),
        "controller.tick()": each(lambda: c.tick(now, 0)),
        "controller.next_change_ms/next_rate_ul_h()": each(
            lambda: c.next_change_ms() + c.next_rate_ul_h()),
        "drive.service()": each(lambda: app.drive.service(hw.us, -1, 0)),
        "alarms.poll()": each(lambda: app.alarms.poll(now, c)),
        "records.due()": each(lambda: app.records.due(now)),
        "out.drain(write), write bound once": each(lambda: app.out.drain(write)),
        "hw.port.write (bound method made)": each(lambda: hw.port.write),
        "next_wake_ms()": each(app.next_wake_ms),
    }


def irq_bytes(bench, n):
    pin = bench.hw.buttons["pause"]
    handler = pin.handler

    def loop(k):
        for _ in range(k):
            handler(pin)

    return allocated(loop, n)

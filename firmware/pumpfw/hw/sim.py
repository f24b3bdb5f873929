# The `hw` object of the virtual board (docs/board-layer.md), running inside MicroPython: clock,
# serial, button levels, watchdog and power belong to the harness (host_tools/sim/simserve.mjs),
# reached through the JS module `simhw`. Also the Runner the harness drives, one tick per call.
#
# Costs measured on the WebAssembly build under Node (docs/virtual-board.md): a Python -> JS call
# with int arguments is ~0.1-0.3 us; bytes cross as (address, length) of a buffer in the VM's
# memory, which the harness reads and writes directly (~0.3 us per call, any length), because
# converting a Uint8Array element by element costs ~20 us per 64 bytes.
import gc
import io
import os
import sys

from uctypes import addressof

from pumpfw import framing, runner
from pumpfw.ticks import ticks_diff

BUTTON_NAMES = ("pause", "ir", "ok")  # as pumpfw.hw.mcu names them
FS_ROOT = "/flash"  # kept across power cycles by the harness, like littlefs on a board


class SimPort:
    """The USB serial: bytes the host sent, and a bounded device-side TX buffer (never blocks)."""

    def __init__(self, vb):
        self._rx_into = vb.rx_into
        self._tx = vb.tx
        self.fail_next = False  # fault injection (Runner.inject)

    def read_into(self, buf):
        if self.fail_next:
            self.fail_next = False
            raise OSError(5, "injected by the harness")  # EIO, as a failing USB stack might
        n = len(buf)
        return self._rx_into(addressof(buf), n) if n else 0

    def write(self, buf):
        n = len(buf)
        return self._tx(addressof(buf), n) if n else 0

    def write_from(self, buf, start, end):
        return self._tx(addressof(buf) + start, end - start) if end > start else 0


class SimPin:
    """An input pin whose level the harness sets; an edge calls the handler, as an IRQ would."""

    IRQ_FALLING = 4  # rp2 values
    IRQ_RISING = 8

    def __init__(self, name, level):
        self.name = name
        self.level = level
        self._handler = None
        self._trigger = 0

    def value(self, level=None):
        if level is None:
            return self.level
        # An input: writing does nothing, as on a board.

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        self._handler = handler
        self._trigger = trigger
        return self

    def set_level(self, level):
        level = 1 if level else 0
        if level == self.level:
            return
        self.level = level
        edge = self.IRQ_RISING if level else self.IRQ_FALLING
        if self._handler is not None and self._trigger & edge:
            self._handler(self)


def make_stepper(hw, board):
    """The virtual stepper (hw.stepper_sim) on the harness clock; replaceable in tests."""
    from pumpfw.hw.stepper_sim import SimStepper

    min_interval_us = -(-1_000_000 // board.MAX_STEP_HZ)
    return SimStepper(hw.ticks_us, min_interval_us, record=False)


class HwSim:
    """hw for boards/sim.py. `vb` is the harness's `simhw` JS module."""

    fs_root = FS_ROOT

    def __init__(self, vb, board, stepper_factory=make_stepper):
        self.board = board
        self._vb = vb
        # JS functions as attributes: hw.ticks_us() is one call into the harness, no wrapper.
        self.ticks_us = vb.ticks_us
        self.ticks_ms = vb.ticks_ms
        self.wdt_feed = vb.wdt_feed
        self.flash_written = vb.flash_written  # a journal write takes the flash's time
        self.reset_cause = vb.reset_cause()
        self.port = SimPort(vb)
        released = 1 if getattr(board, "BUTTON_ACTIVE_LOW", True) else 0
        self.buttons = {}
        for name in BUTTON_NAMES:
            self.buttons[name] = SimPin(name, released)
        try:
            os.mkdir(FS_ROOT)
        except OSError:
            pass  # kept from the previous boot
        self._wdt_ms = 0
        self.stepper = stepper_factory(self, board)
        self.stepper.halt()
        # The harness is the board's CRC unit: every line's checksum in ~1 us, not ~150 us of
        # Python (framing checks it against the table first).
        crc = vb.crc16
        framing.use_crc_unit(lambda data, start: crc(addressof(data), len(data), start))

    def wdt_start(self, timeout_ms):
        # Like machine.WDT: cannot be stopped or changed once started.
        if not self._wdt_ms:
            self._wdt_ms = timeout_ms
            self._vb.wdt_start(timeout_ms)

    def wdt_armed(self):
        return self._wdt_ms != 0

    def reboot_to_repl(self):
        # A board resets into its REPL, which stops the watchdog; the harness does the same
        # when the loop reports it has ended (Runner.tick: exited("repl")).
        return

    def idle(self, max_ms=0):
        return  # the harness moves time between ticks


def _load(path):
    """'package.module:Name' -> the object."""
    mod_name, _, attr = path.partition(":")
    mod = __import__(mod_name, None, None, (attr,))
    return getattr(mod, attr)


class Runner:
    """What the harness calls: tick() once per loop pass; set_pin() on an edge; steps().

    Each tick is one pass of the boards' own loop body (pumpfw.runner.step): the same crash
    path (motor off, `ev fault`, journal with the motor off) and the same way out for `repl`.
    """

    def __init__(self, vb, entry, board_name="board"):
        self._vb = vb
        self.app = None
        self._clock = None  # pumpfw.app.App's monotonic clock, if the app has one
        self.dead = False
        board = __import__(board_name)
        self.hw = HwSim(vb, board)
        self.steps_per_ml = board.STEPS_PER_ML
        self.active_low = getattr(board, "BUTTON_ACTIVE_LOW", True)
        try:
            self.app = _load(entry)(self.hw)
        except Exception as exc:  # noqa: BLE001 - a boot failure is a crash like any other
            runner.crashed(self.hw, None)
            self._report(exc)
        clock = getattr(self.app, "clock", None)
        if clock is not None and hasattr(clock, "ms"):
            self._clock = clock

    def tick(self):
        """One loop pass; returns ms until the app wants the next one, or -1 once stopped."""
        if self.dead:
            return -1
        app = self.app
        try:
            if not runner.step(self.hw, app):
                self.dead = True
                self._vb.exited("repl")  # the harness stops its watchdog, as a reset would
                return -1
            wake = app.next_wake_ms()
        except Exception as exc:  # noqa: BLE001 - the crash path has run: report it
            self._report(exc)
            return -1
        if self._clock is not None:
            # pumpfw.app.App: next_wake_ms() is on its monotonic clock (app.clock.ms).
            return wake - self._clock.ms
        return ticks_diff(wake, self.hw.ticks_ms())

    def inject(self, what):
        """Fault injection from the harness: 'exception' makes the next serial read raise."""
        if what != "exception":
            raise ValueError("unknown fault %r" % what)
        self.hw.port.fail_next = True

    def set_pin(self, name, level):
        self.hw.buttons[name].set_level(level)

    def steps(self):
        return self.hw.stepper.steps()

    def motor_on(self):
        return 1 if self.hw.stepper.enabled() else 0

    def heap_used(self):
        return gc.mem_alloc()

    def _report(self, exc):
        self.dead = True
        text = io.StringIO()
        sys.print_exception(exc, text)
        sys.print_exception(exc)  # to the serial, as a board prints it on the USB console
        self._vb.crash(type(exc).__name__, str(exc), text.getvalue())

# The `hw` object on a real board (RP2040 or ESP32): builds pins, stepper, serial, watchdog from
# the board file. The only firmware module that imports machine; see docs/board-layer.md.
import io
import os
import time

import machine

from pumpfw.compat import const
from pumpfw.hw.usbserial import UsbSerial

_MP_STREAM_POLL = const(3)  # the stream ioctl poll() calls on each object it waits on
_POLLIN = const(1)

# machine.reset_cause() values -> protocol reset cause names.
_CAUSES = (
    ("PWRON_RESET", "power_on"),
    ("HARD_RESET", "hard"),
    ("WDT_RESET", "watchdog"),
    ("DEEPSLEEP_RESET", "deepsleep"),
    ("SOFT_RESET", "soft"),
    ("BROWNOUT_RESET", "brownout"),
)


def _reset_cause():
    cause = machine.reset_cause()
    for attr, name in _CAUSES:
        if getattr(machine, attr, None) == cause:
            return name
    return "unknown"


REPL_FLAG = "/repl_once"


def repl_requested():
    """True once after reboot_to_repl(): main.py then skips the pump loop for this boot."""
    try:
        os.remove(REPL_FLAG)
        return True
    except OSError:
        return False


class Hardware:
    """hw for boards/pico.py (DRIVER "rp2") and boards/esp32.py (DRIVER "esp32")."""

    fs_root = "/data"
    # littlefs (rp2 and esp32 MicroPython): a rewritten file's new contents are committed at
    # close, copy on write; a cut before that leaves the old file whole (the journal relies on it)
    fs_replaces_atomically = True
    button_sample_ms = 2  # the buttons' timer: a press is certain debounce_ms after its edge

    def __init__(self, board):
        self.board = board
        self.reset_cause = _reset_cause()
        # The board names its driver module; only that one is on the board (its manifest).
        stepper_mod = __import__("pumpfw.hw.stepper_" + board.DRIVER, None, None, ("make",))
        self.stepper = stepper_mod.make(board)
        self.stepper.halt()  # motor off before anything else can fail
        pull = machine.Pin.PULL_UP if board.BUTTON_ACTIVE_LOW else machine.Pin.PULL_DOWN
        self.buttons = {}
        for name, pin_no in (
            ("pause", board.BUTTON_PAUSE_PIN),
            ("ir", board.BUTTON_IR_PIN),
            ("ok", board.BUTTON_OK_PIN),
        ):
            if pin_no is not None:
                self.buttons[name] = machine.Pin(pin_no, machine.Pin.IN, pull)
        if len(self.buttons) != 3:
            self.buttons = {}  # the panel needs all three; serial still works without them
        self._panel = None
        self._timer = None
        self.led = self._out(board.LED_PIN)
        self.buzzer = self._out(board.BUZZER_PIN)
        self.port = UsbSerial()  # read_into, write, open, close: hw.port
        self.ticks_us = time.ticks_us
        self.ticks_ms = time.ticks_ms
        self._wdt = None

    @staticmethod
    def _out(pin_no):
        return None if pin_no is None else machine.Pin(pin_no, machine.Pin.OUT, value=0)

    def wdt_start(self, timeout_ms):
        # Cannot be stopped once started (rp2: at most ~8.3 s): only a healthy loop feeds it.
        if self._wdt is None:
            self._wdt = machine.WDT(timeout=timeout_ms)

    def wdt_armed(self):
        return self._wdt is not None

    def reboot_to_repl(self):
        """The armed watchdog would reset a board left at the REPL: reset now, into the REPL."""
        with open(REPL_FLAG, "w") as f:
            f.write("1")
        machine.reset()

    def wdt_feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def attach_buttons(self, panel):
        """The buttons act from interrupts (docs/buttons.md): a hard pin IRQ stamps and latches
        every edge (its flags show a press made while a flash write held interrupts off) and
        starts a periodic hard timer, which samples the panel while a button is down or
        unsettled and freezes the motor itself when a press calls for it, whatever the main
        loop is doing; it stops itself once all is quiet. Neither allocates."""
        pin_cls = machine.Pin
        both = pin_cls.IRQ_FALLING | pin_cls.IRQ_RISING
        for name, button in (("pause", panel.pause), ("ir", panel.ir), ("ok", panel.ok)):
            pin = self.buttons[name]
            irq = pin.irq(handler=_edge_handler(panel, button), trigger=both, hard=True)
            button.clocked(time.ticks_ms, self.button_sample_ms, irq, both)
        panel.stopper = self.stepper
        panel.sampled = True
        self._panel = panel
        sample = panel.sample
        ticks_ms = time.ticks_ms
        timer = machine.Timer(getattr(self.board, "BUTTON_TIMER_ID", -1))
        periodic = machine.Timer.PERIODIC
        period = self.button_sample_ms

        def on_timer(_timer):
            sample(ticks_ms())

        def start():
            timer.init(mode=periodic, period=period, callback=on_timer, hard=True)

        self._timer = timer
        panel.stop_sampler = timer.deinit
        panel.start_sampler = start
        panel.sampling = True
        start()  # once: it settles what the pins show now, then stops
        self.port.wake_on(_PanelWake(panel))

    def detach_buttons(self):
        """The loop is over: no timer may touch the motor from now on."""
        if self._timer is not None:
            self._timer.deinit()
            self._timer = None
        for pin in self.buttons.values():
            pin.irq(handler=None)

    def idle(self, max_ms):
        """Sleep up to max_ms; back at once when serial input arrives or a button event waits
        (the USB or the buttons' interrupt wakes the CPU, and the port's poll asks the panel:
        _PanelWake). A press that had to stop the motor has stopped it already."""
        panel = self._panel
        if panel is not None and panel.pending():
            return
        self.port.wait_readable(max_ms)


def _edge_handler(panel, button):
    """The pin IRQ of one button (made once, at attach: the IRQ itself allocates nothing)."""
    edge = panel.edge

    def handler(_pin):
        edge(button)

    return handler


class _PanelWake(io.IOBase):
    """Pollable beside the serial input: readable while a button event waits for the loop, so
    the loop's one poll() wakes for a press (the IRQ that queued it woke the CPU)."""

    def __init__(self, panel):
        self.panel = panel

    def ioctl(self, req, arg):
        if req == _MP_STREAM_POLL:
            return arg & _POLLIN if self.panel.pending() else 0
        return 0

# The `hw` object on a real board (RP2040 or ESP32): builds pins, stepper, serial, watchdog from
# the board file. The only firmware module that imports machine; see docs/board-layer.md.
import os
import time

import machine

from pumpfw.hw.usbserial import UsbSerial

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
    button_poll_ms = 20  # while idle, a pressed button is seen within this (debounce is 25 ms)

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
        self._button_pins = tuple(self.buttons.values())
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

    def idle(self, max_ms):
        """Sleep up to max_ms; back at once when serial input arrives (the USB interrupt wakes
        the CPU), or within button_poll_ms of a button changing (a pin IRQ cannot wake the
        poll: the levels are compared between slices, so a stuck button never makes it spin)."""
        if not self.buttons:
            self.port.wait_readable(max_ms)
            return
        levels = self._button_levels()
        deadline = time.ticks_add(time.ticks_ms(), max_ms)
        while True:
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left <= 0 or self._button_levels() != levels:
                return
            slice_ms = left if left < self.button_poll_ms else self.button_poll_ms
            if self.port.wait_readable(slice_ms):
                return

    def _button_levels(self):
        levels = 0  # a small int: no allocation
        for pin in self._button_pins:
            levels = levels * 2 + pin.value()
        return levels

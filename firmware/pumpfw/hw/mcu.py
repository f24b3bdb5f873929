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


class _Port:
    """hw.port over UsbSerial: read_into() takes only bytes that are already waiting."""

    def __init__(self, usb):
        self.usb = usb
        self.write = usb.write

    def read_into(self, buf):
        usb = self.usb
        n = 0
        while n < len(buf) and usb._rx.poll(0):
            if not usb.stdin.readinto(usb._one):
                break
            buf[n] = usb._one[0]
            n += 1
        return n

    def open(self):
        self.usb.open()

    def close(self):
        self.usb.close()


class Hardware:
    """hw for boards/pico.py (DRIVER "rp2") and boards/esp32.py (DRIVER "esp32")."""

    fs_root = "/data"

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
        self.led = self._out(board.LED_PIN)
        self.buzzer = self._out(board.BUZZER_PIN)
        self.port = _Port(UsbSerial())
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
        time.sleep_ms(max_ms)

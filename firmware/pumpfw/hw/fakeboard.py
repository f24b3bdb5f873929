# An in-process board for host harnesses (the firmware tests on both lanes, `make bench`): a
# virtual clock, the real SimStepper, a scripted serial port, flash writes that take time.
# Host only: no board's manifest installs it (boards/manifests/), like preview.py.
import os

from pumpfw import protocol as P
from pumpfw.hw.stepper_sim import SimStepper

_PERIOD_MASK = (1 << 30) - 1
_dirs = [0]


def _tmp_root():
    # The journal writes a file every few virtual seconds: keep it in RAM where the host has it.
    try:
        os.stat("/dev/shm")
        return "/dev/shm"
    except OSError:
        return "/tmp"


_TMP = _tmp_root()


class TestBoard:
    NAME = "testboard"
    STEPS_PER_ML = 400
    MAX_RATE_UL_H = 400_000
    MAX_STEP_HZ = 2_000
    MIN_PULSE_US = 2
    BUTTON_ACTIVE_LOW = True


class FakePort:
    """The host end: rx is what the host sent, tx what the device wrote. room caps tx when the
    host 'stops reading' (None: unlimited)."""

    def __init__(self):
        self.rx = bytearray()
        self.tx = bytearray()
        self.room = None
        self.opened = False

    def read_into(self, buf):
        if not self.rx:
            return 0  # nothing waiting: allocate nothing, like a real port
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n

    def write(self, data):
        n = len(data) if self.room is None else min(len(data), self.room)
        self.tx += bytes(data[:n])
        if self.room is not None:
            self.room -= n
        return n

    def open(self):
        self.opened = True

    def close(self):
        self.opened = False


class FakeHw:
    """A board whose flash takes flash_write_us per journal write: the motor runs on meanwhile,
    as the PIO does while an RP2040 writes its flash (its littlefs write with an erase takes
    tens of ms), so a test sees what the loop counted too early."""

    flash_write_us = 50_000

    def __init__(self, start_us=0, fs_root=None, board=TestBoard, reset_cause="power_on"):
        self.board = board
        self.us = start_us
        self.port = FakePort()
        self.stepper = SimStepper(self.ticks_us, 1_000_000 // board.MAX_STEP_HZ,
                                      record=False)
        self.buttons = {}
        fresh = fs_root is None
        if fresh:
            _dirs[0] += 1
            fs_root = "%s/fakeboard_%d_%d" % (_TMP, os.getpid() if hasattr(os, "getpid") else 0,
                                            _dirs[0])
        self.fs_root = fs_root
        if fresh:
            self.cleanup()  # a new board: no journal left by an earlier run with this name
        self.reset_cause = reset_cause
        self.fed = 0
        self.wdt_timeout_ms = None
        self.flash_writes = 0
        self.flash_end_us = -1  # when the last journal write ended (hw.us)

    def ticks_us(self):
        return self.us & _PERIOD_MASK

    def flash_written(self, nbytes):
        self.us += self.flash_write_us
        self.flash_writes += 1
        self.flash_end_us = self.us

    def cleanup(self):
        """Remove this board's files (its journal)."""
        try:
            for name in os.listdir(self.fs_root):
                os.remove(self.fs_root + "/" + name)
            os.rmdir(self.fs_root)
        except OSError:
            pass

    def wdt_start(self, timeout_ms):
        self.wdt_timeout_ms = timeout_ms

    def wdt_feed(self):
        self.fed += 1

    def idle(self, max_ms):
        pass


def run_for(app, hw, ms, max_step_ms=1000):
    """Step the app over ms of virtual time, waking when it asks (at most max_step_ms apart)."""
    end_ms = app.clock.ms + ms
    while app.clock.ms < end_ms:
        app.step()
        wake = app.next_wake_ms()
        now = app.clock.ms
        if wake <= now:
            wake = now + 1
        if wake > now + max_step_ms:
            wake = now + max_step_ms
        if wake > end_ms:
            wake = end_ms
        hw.us += (wake - now) * 1000
    app.step()


_seq = [0]


def send(hw, name, *args):
    """Queue a checked (sequence number + CRC) command, as host tools send them."""
    _seq[0] += 1
    hw.port.rx += P.encode_command(_seq[0], name, args)
    return _seq[0]


def lines(hw):
    """Every device line so far, decoded (raises on a corrupt one)."""
    out = []
    data = bytes(hw.port.tx)
    data = data[: data.rfind(b"\r\n") + 2]  # whole lines only: the rest is still in flight
    for raw in data.split(b"\r\n"):
        if raw:
            out.append(P.parse_line(raw))
    return out


def events(hw, name=None):
    return [m for m in lines(hw) if m.kind == "ev" and (name is None or m.name == name)]

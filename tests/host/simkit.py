"""Helpers for the virtual-board harness tests: start it on the harness test double, talk to it."""

import shutil
import time
from pathlib import Path

import pytest
import serial

from host_tools.harness.served import REPO_ROOT
from host_tools.sim.simboard import SimBoard

FIXTURE_ENTRY = "harness_fixture:FixtureApp"
FIXTURE_LIB = REPO_ROOT / "tests" / "sim_fixtures"
NODE_PKG = REPO_ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


def need_node():
    if shutil.which("node") is None or not NODE_PKG.is_dir():
        pytest.skip("needs node and the MicroPython WebAssembly package (make deps)")


def real_time_board():
    """The pump firmware on a virtual board at scale 1, no pty: a module fixture's body."""
    need_node()
    with SimBoard(scale=1, pty=False) as sim:
        yield sim


def line_on(sim):
    """A Line on sim's serial, closed afterwards: a fixture's body."""
    ln = Line(sim)
    yield ln
    ln.close()


def fixture_board(**kwargs):
    """The harness running the test double (tests/sim_fixtures), time held unless told."""
    need_node()
    kwargs.setdefault("hold", True)
    kwargs.setdefault("pty", False)
    return SimBoard(entry=FIXTURE_ENTRY, lib=[FIXTURE_LIB], **kwargs)


class Line:
    """The host end of the virtual USB serial, in held time: every wait advances the clock."""

    def __init__(self, sim, url=None):
        self.sim = sim
        self.ser = serial.serial_for_url(url or sim.serial_url, timeout=0.2)
        self.sync()

    def sync(self):
        """Skip whatever came before (e.g. a boot banner): xdist may run any subset of a module."""
        self.send("echo sync-mark")
        self.read_until("sync-mark")

    def send(self, text):
        """Send a line and wait until the harness has it: serial and control are two sockets,
        so an advance_ms() sent next could otherwise overtake the bytes."""
        data = text.encode() + b"\n"
        expected = self.sim.status()["rx_bytes"] + len(data)
        self.ser.write(data)
        deadline = time.monotonic() + 5
        while self.sim.status()["rx_bytes"] < expected:
            assert time.monotonic() < deadline, "the harness did not receive the line"
            time.sleep(0.001)

    def read_line(self, step_ms=5, tries=40, wall_s=5.0):
        """The next line (without CR LF), letting virtual time run step_ms between reads, at
        most `tries` times; then waiting (wall_s) for bytes still on their way through a pty."""
        got = b""
        deadline = time.monotonic() + wall_s
        while time.monotonic() < deadline:
            if self.ser.in_waiting:
                got += self.ser.readline()
            if got.endswith(b"\n"):
                return got.decode(errors="replace").rstrip("\r\n")
            if tries > 0:
                tries -= 1
                self.sim.advance_ms(step_ms)
            else:
                time.sleep(0.01)
        raise AssertionError(f"no line from the virtual board (partial {got!r})")

    def ask(self, text):
        self.send(text)
        return self.read_line()

    def read_until(self, prefix, tries=200):
        for _ in range(tries):
            line = self.read_line()
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting with {prefix!r}")

    def close(self):
        self.ser.close()


def stderr_file(tmp_path_factory, name):
    return Path(tmp_path_factory.mktemp(name)) / "vboard.stderr"

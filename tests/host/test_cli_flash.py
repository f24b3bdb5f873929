"""pumpctl flash: mpy-cross output, what a fake mpremote transport is asked to copy, the banner
check, and the refusal while the virtual board infuses."""

import pytest
from clikit import FakePump, garbage_device, one_error_line, run_cli
from simkit import need_node

from host_tools.commands import cli, flash, manifest
from host_tools.link.client import Client
from host_tools.link.errors import UserError
from host_tools.sim.board import SimBoard
from pumpfw import VERSION


class FakeTransport:
    """Records what flash would do through mpremote; the device's /lib/pumpfw holds `files`."""

    def __init__(self, url, files=("app.py", "old.mpy", "app.mpy")):
        self.url = url
        self.files = list(files)
        self.ops = []
        self.written = {}

    def enter_repl(self):
        self.ops.append(("enter_repl",))

    def mkdir(self, path):
        self.ops.append(("mkdir", path))

    def listdir(self, path):
        self.ops.append(("listdir", path))
        return list(self.files)

    def remove(self, path):
        self.ops.append(("remove", path))

    def write(self, path, data):
        self.ops.append(("write", path))
        self.written[path] = data

    def reset_and_run(self):
        self.ops.append(("reset_and_run",))

    def close(self):
        self.ops.append(("close",))


def flash_args(*extra):
    return cli.build_parser().parse_args(["flash", *map(str, extra)])


def test_compile_gives_one_mpy_per_manifest_module(tmp_path):
    out = dict(flash.compile_firmware("pico", tmp_path))
    assert "pumpfw/app.mpy" in out and "pumpfw/hw/stepper_rp2.mpy" in out
    # Only what a Pico runs: not the other chip's driver, the virtual board or the host preview.
    for other in ("hw/stepper_esp32", "hw/sim", "hw/stepper_virtual", "preview"):
        assert "pumpfw/%s.mpy" % other not in out
    for p in out.values():
        assert p.read_bytes()[:2] == b"M\x06"  # .mpy v6: what MicroPython 1.22+ loads
    esp = dict(flash.compile_firmware("esp32", tmp_path / "esp"))
    assert "pumpfw/hw/stepper_esp32.mpy" in esp and "pumpfw/hw/stepper_rp2.mpy" not in esp


def test_flash_copies_compiled_package_board_and_main():
    pump = FakePump(board="pico", fw=VERSION)
    made = []

    def factory(url):
        made.append(FakeTransport(url))
        return made[-1]

    try:
        assert flash.do_flash(flash_args("--board", "pico", "--port", pump.url), factory) == 0
    finally:
        pump.close()
    assert pump.app.repl == 1  # the idle pump was asked to leave its loop first
    (t,) = made
    assert t.ops[0] == ("enter_repl",) and t.ops[-2:] == [("reset_and_run",), ("close",)]
    assert ("mkdir", "/lib") in t.ops and ("mkdir", "/lib/pumpfw") in t.ops
    assert ("remove", "/lib/pumpfw/app.py") in t.ops  # a stale .py would shadow app.mpy
    assert ("remove", "/lib/pumpfw/old.mpy") in t.ops
    assert ("remove", "/lib/pumpfw/app.mpy") not in t.ops
    assert ("mkdir", "/lib/pumpfw/hw") in t.ops
    assert {p for p in t.written if p.startswith("/lib/")} == {
        "/lib/" + rel[:-3] + ".mpy" for rel, _ in manifest.files("pico")}
    assert t.written["/board.py"] == (flash.BOARDS / "pico.py").read_bytes()
    assert t.written["/main.py"] == (flash.FIRMWARE / "main.py").read_bytes()
    assert all(t.written[p][:1] == b"M" for p in t.written if p.endswith(".mpy"))


def test_banner_must_show_the_flashed_board(capsys):
    pump = FakePump(board="esp32", fw=VERSION)
    try:
        args = flash_args("--board", "pico", "--port", pump.url)
        with pytest.raises(UserError, match="board esp32, expected fw %s board pico" % VERSION):
            flash.do_flash(args, FakeTransport, verify_wait_s=0.5)
    finally:
        pump.close()


def test_a_board_without_this_firmware_is_flashed_then_must_answer(capsys):
    junk = garbage_device()  # e.g. a fresh MicroPython board: its REPL, not our protocol
    made = []
    try:
        args = flash_args("--board", "esp32", "--port", junk.url, "--timeout", 0.3)
        with pytest.raises(UserError, match="did not come back as this firmware"):
            flash.do_flash(args, lambda url: made.append(FakeTransport(url)) or made[-1],
                           verify_wait_s=0.5)
    finally:
        junk.close()
    assert "not running this firmware" in capsys.readouterr().out
    assert made and made[0].written["/board.py"] == (flash.BOARDS / "esp32.py").read_bytes()


def test_unknown_and_virtual_boards_are_refused(capsys):
    rc, _, err = run_cli(capsys, "flash", "--board", "nosuch", "--port", "socket://x:1")
    assert rc == 1 and "no board file boards/nosuch.py: choose one of" in one_error_line(err)
    rc, _, err = run_cli(capsys, "flash", "--board", "sim", "--port", "socket://x:1")
    assert rc == 1 and "virtual board's" in one_error_line(err)


def must_not_open(url):
    raise AssertionError("flash handed the port to mpremote")


def test_refused_while_an_infusion_runs(capsys):
    pump = FakePump(board="pico", fw=VERSION)
    try:
        with Client(pump.url) as c:
            c.command("start", 1)
        rc, _, err = run_cli(capsys, "flash", "--board", "pico", "--port", pump.url)
        assert rc == 1 and "an infusion is running on" in one_error_line(err)
        assert pump.app.repl == 0 and pump.app.controller.state == 1  # untouched, infusing
    finally:
        pump.close()


def test_a_board_reporting_itself_as_sim_is_refused_in_one_line(capsys):
    # Flashing the virtual board would send it `repl` and leave it without a pump loop.
    pump = FakePump(board="sim", fw=VERSION)
    try:
        rc, _, err = run_cli(capsys, "flash", "--board", "pico", "--port", pump.url)
        line = one_error_line(err)
        assert rc == 1 and "virtual board" in line and "nothing to flash" in line, line
        assert pump.app.repl == 0  # it was not asked to leave its loop
    finally:
        pump.close()


def test_the_virtual_board_itself_is_refused_idle_or_infusing():
    need_node()
    with SimBoard(scale=1, pty=False) as sim:
        args = flash_args("--board", "pico", "--port", sim.serial_url)
        with pytest.raises(UserError, match="virtual board"):
            flash.do_flash(args, must_not_open)
        with Client(sim.serial_url) as c:
            c.command("start", 1)
        with pytest.raises(UserError, match="virtual board"):
            flash.do_flash(args, must_not_open)
        with Client(sim.serial_url) as c:
            assert c.status()["st"] == "running"  # still infusing, loop untouched
        assert sim.status()["exited"] is None


class ResettingPort:
    """A board that resets after `repl`: its port fails to open `away` times (USB gone), then
    its REPL answers an empty line with the prompt."""

    def __init__(self, board):
        self.board = board
        self.out = b""

    def write(self, data):
        if data == b"\r\n":
            self.out += b"\r\n>>> "

    def read(self, n):
        data, self.out = self.out[:n], self.out[n:]
        return data

    def close(self):
        self.board.closed += 1


def test_flash_waits_for_the_repl_of_a_board_that_resets_after_repl():
    import serial

    class Board:
        away = 3
        opened = 0
        closed = 0

        def open(self, url, **kwargs):
            self.opened += 1
            if self.opened <= self.away:
                raise serial.SerialException("could not open port %s" % url)
            return ResettingPort(self)

    board = Board()
    flash.wait_for_repl("/dev/ttyACM0", 5.0, board.open)
    assert board.opened == board.away + 1 and board.closed == 1
    never = Board()
    never.away = 10**9
    with pytest.raises(UserError, match="did not reach its REPL within 0.6 s"):
        flash.wait_for_repl("/dev/ttyACM0", 0.6, never.open)

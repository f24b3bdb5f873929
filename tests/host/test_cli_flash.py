"""pumpctl flash: mpy-cross output, what a fake mpremote transport is asked to copy, the banner
check, and the refusal while the virtual board infuses."""

import hashlib
import json

import pytest
from clikit import FakePump, garbage_device, one_error_line, run_cli
from simkit import need_node

from host_tools.commands import cli, flash, manifest
from host_tools.link.client import Client
from host_tools.link.errors import UserError
from host_tools.sim.simboard import SimBoard
from pumpfw import VERSION


class FakeTransport:
    """Records what flash would do through mpremote; the device's /lib/pumpfw holds `files`,
    its chip is `platform` (sys.platform) and `held` are files it has (path -> bytes)."""

    def __init__(self, url, files=("app.py", "old.mpy", "app.mpy"), platform="rp2", held=None):
        self.url = url
        self.files = list(files)
        self.platform = platform
        self.held = dict(held or {})
        self.ops = []
        self.written = {}

    def exec(self, code):
        if "sys.platform" in code:
            return "%s RP2040\n" % self.platform
        paths = eval(code[code.rindex("for _p in ") + 10: code.rindex(":\n")])
        return "".join("%s %s\n" % (p, hashlib.sha256(self.held[p]).hexdigest()
                                      if p in self.held else "-") for p in paths)

    def enter_repl(self):
        self.ops.append(("enter_repl",))

    def mkdir(self, path):
        self.ops.append(("mkdir", path))

    def listdir(self, path):
        self.ops.append(("listdir", path))
        return list(self.files)

    def remove(self, path):
        self.ops.append(("remove", path))

    def write(self, path, data, progress=None):
        self.ops.append(("write", path))
        self.written[path] = self.held[path] = data
        if progress is not None:
            progress(len(data), len(data))

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
    for other in ("hw/stepper_esp32", "hw/sim", "hw/stepper_sim", "preview"):
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
    pump = FakePump(board="pico_w", fw=VERSION)  # a board file this checkout does not have
    try:
        args = flash_args("--board", "pico", "--port", pump.url)
        with pytest.raises(UserError, match="board pico_w, expected fw %s board pico" % VERSION):
            flash.do_flash(args, FakeTransport, verify_wait_s=0.5)
    finally:
        pump.close()


def test_a_board_without_this_firmware_is_flashed_then_must_answer(capsys):
    junk = garbage_device()  # e.g. a fresh MicroPython board: its REPL, not our protocol
    made = []
    try:
        args = flash_args("--board", "esp32", "--port", junk.url, "--timeout", 0.3)
        with pytest.raises(UserError, match="did not come back as this firmware"):
            flash.do_flash(args, lambda url: made.append(FakeTransport(url, platform="esp32"))
                           or made[-1],
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


# ---- issue 21: flash as a bench trusts it --------------------------------------------------


def fresh_board_flash(capsys, *extra, **transport):
    """Flash a fresh board (its REPL, not the pump firmware) through a fake mpremote; the
    banner check after it fails (nobody answers), so only what was copied is looked at."""
    junk = garbage_device()
    made = []
    try:
        args = flash_args("--port", junk.url, "--timeout", 0.3, *extra)
        try:
            flash.do_flash(args, lambda url: made.append(FakeTransport(url, **transport))
                           or made[-1], verify_wait_s=0.3)
        except UserError as exc:
            made.append(str(exc))
    finally:
        junk.close()
    out, err = capsys.readouterr()
    return made[0], (made[1] if len(made) > 1 else None), out, err


def test_an_esp32_board_file_onto_a_pico_is_refused_before_anything_is_copied(capsys):
    t, error, _, _ = fresh_board_flash(capsys, "--board", "esp32", platform="rp2")
    assert error == ("boards/esp32.py is for esp32, but %s is rp2 (its sys.platform;"
                     " os.uname().machine: RP2040): nothing copied; flash it with --board pico"
                     % t.url)
    assert t.written == {} and ("reset_and_run",) in t.ops  # back to what it ran


def test_an_esp32_board_file_onto_a_pico_running_the_firmware_is_refused_untouched(capsys):
    pump = FakePump(board="pico", fw=VERSION)
    try:
        rc, _, err = run_cli(capsys, "flash", "--board", "esp32", "--port", pump.url)
        assert rc == 1 and "boards/esp32.py is for esp32" in one_error_line(err)
        assert pump.app.repl == 0  # not even taken out of its loop
    finally:
        pump.close()


def test_only_changed_files_are_copied_with_a_bar_each_unless_all(capsys, tmp_path):
    copies = dict(flash.plan_copies("pico", flash.compile_firmware("pico", tmp_path)))
    held = dict(copies)
    held["/main.py"] = b"print('old main')\n"
    t, _, out, err = fresh_board_flash(capsys, "--board", "pico", held=held)
    assert list(t.written) == ["/main.py"]
    assert "copied 1 files (%d bytes)" % len(copies["/main.py"]) in out
    assert "%d unchanged" % (len(copies) - 1) in out
    assert "/main.py" in err and "100%" in err  # tqdm's bar, on stderr
    t, _, out, _ = fresh_board_flash(capsys, "--board", "pico", "--all", held=held)
    assert set(t.written) == set(copies)


def test_dry_run_lists_what_would_change_and_copies_nothing(capsys, tmp_path):
    copies = dict(flash.plan_copies("pico", flash.compile_firmware("pico", tmp_path)))
    held = {p: d for p, d in copies.items() if p != "/board.py"}
    t, error, out, _ = fresh_board_flash(capsys, "--board", "pico", "--dry-run", held=held)
    assert error is None and t.written == {}
    assert "would copy /board.py (%d bytes)" % len(copies["/board.py"]) in out
    assert "would remove /lib/pumpfw/old.mpy" in out
    # the fake lists app.py, old.mpy, app.mpy in each of its two folders: 5 are not wanted
    assert "dry run: 1 to copy, 5 to remove, %d unchanged" % (len(copies) - 1) in out
    assert not any(op[0] in ("write", "remove", "mkdir") for op in t.ops)


class ShortWrites(FakeTransport):
    """A board whose file system keeps one file short (a flash write that did not finish)."""

    def write(self, path, data, progress=None):
        FakeTransport.write(self, path, data[:-1] if path == "/main.py" else data, progress)


def test_verify_compares_each_file_on_the_board_with_the_source(capsys):
    junk = garbage_device()
    try:
        args = flash_args("--board", "pico", "--port", junk.url, "--timeout", 0.3, "--verify")
        with pytest.raises(UserError, match=r"--verify: 1 file\(s\) .* differ .*/main.py"):
            flash.do_flash(args, ShortWrites, verify_wait_s=0.3)
    finally:
        junk.close()


def test_json_is_one_object_on_stdout_naming_the_board_it_flashed(capsys):
    pump = FakePump(board="pico", fw=VERSION)
    try:
        args = flash_args("--board", "pico", "--port", pump.url, "--json")
        assert flash.do_flash(args, FakeTransport) == 0
    finally:
        pump.close()
    out, err = capsys.readouterr()
    (line,) = out.splitlines()  # the lines on the way went to stderr
    result = json.loads(line)
    assert result["ok"] and result["command"] == "flash" and not result["dry_run"]
    assert result["board"] == {"port": pump.url, "board": "pico", "fw": VERSION,
                               "serial": result["board"]["serial"]}
    assert "/main.py" in result["copied"] and "/lib/pumpfw/old.mpy" in result["removed"]
    assert "flashed: fw %s, board pico" % VERSION in err


def test_json_dry_run_says_what_would_change_and_names_no_flashed_board(capsys, tmp_path):
    copies = dict(flash.plan_copies("pico", flash.compile_firmware("pico", tmp_path)))
    held = {p: d for p, d in copies.items() if p != "/board.py"}
    t, error, out, _ = fresh_board_flash(capsys, "--board", "pico", "--dry-run", "--json",
                                         held=held)
    assert error is None and t.written == {}
    result = json.loads(out)
    assert result["dry_run"] and result["copied"] == ["/board.py"] and result["board"] is None
    assert result["unchanged"] == len(copies) - 1 and len(result["removed"]) == 5

"""Issue 21, a bench engineer's mistakes: the board always named and never guessed, the
connection first as mpremote takes it, a capture that says what it sees, a live view for a
narrow terminal, --json, a volume that never goes backwards, help and completion."""

import io
import json
import os
import re
import subprocess

import pytest
from clikit import FakePump, garbage_device, one_error_line, run_cli
from test_capture import Clock, FakePort, device_lines

from host_tools.commands import capture, cli, monitor, view
from host_tools.link import registry
from host_tools.logs import capfile
from pumpfw import VERSION


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    """A runtime folder of this test's own: the boards other tests and people run are not in it
    (USB serial ports: none on a test machine, see `pumpctl ports`)."""
    monkeypatch.setenv(registry.ENV_DIR, str(tmp_path / "run"))
    monkeypatch.setenv("ISAPUMP_SHARE", "0")
    monkeypatch.delenv("PUMPCTL_PORT", raising=False)
    return tmp_path / "run"


def serve(pump, kind="virtual board", pid=None):
    return registry.register({"serial": pump.url, "kind": kind}, pid=pid or os.getpid())


# ---- 1. the board named, never guessed ----------------------------------------------------


def test_two_boards_up_auto_lists_them_and_acts_on_neither(capsys, runtime):
    a, b = FakePump(board="pico", fw=VERSION), FakePump(board="esp32", fw=VERSION)
    try:
        serve(a, pid=os.getpid())
        serve(b, pid=os.getppid())
        rc, out, err = run_cli(capsys, "start", "--infusion", 3)
        line = one_error_line(err)
        assert rc == 1 and out == "" and "2 boards fit, choose one with --port" in line
        assert a.url in line and b.url in line and "pico" in line and "esp32" in line
        assert a.app.controller.state == b.app.controller.state == 0  # neither started
    finally:
        a.close()
        b.close()


def test_one_board_up_auto_acts_and_every_result_line_names_it(capsys, runtime):
    pump, junk = FakePump(board="pico", fw=VERSION), garbage_device()
    try:
        serve(pump)
        registry.register({"serial": junk.url}, pid=os.getppid())  # not this firmware
        rc, out, _ = run_cli(capsys, "start", "--infusion", 3)
        assert rc == 0 and out.startswith("start 3: ok - running")
        assert out.rstrip().endswith("(pico %s, serial virtual-%d, on %s)" % (
            VERSION, os.getpid(), pump.url))
        rc, out, _ = run_cli(capsys, "pause", "--json")
        data = json.loads(out)
        assert data["board"] == {"port": pump.url, "board": "pico", "fw": VERSION,
                                 "serial": "virtual-%d" % os.getpid()}
        assert data["status"]["st"] == "paused" and data["command"] == "pause"
    finally:
        pump.close()
        junk.close()


def test_flash_auto_never_reaches_the_only_board_running_pump_firmware_elsewhere(runtime):
    # A fresh board answers in another language (its REPL): flash may pick it, status may not.
    from host_tools.link import discovery

    junk = garbage_device()
    try:
        registry.register({"serial": junk.url}, pid=os.getpid())
        assert discovery.resolve("auto", 0.5, fits=discovery.flashable) == junk.url
        with pytest.raises(Exception, match="no board answers as this firmware"):
            discovery.resolve("auto", 0.5)
    finally:
        junk.close()


def test_the_connection_comes_first_as_in_mpremote_or_from_the_environment(capsys, runtime):
    pump = FakePump(board="pico", fw=VERSION)
    try:
        rc, out, _ = run_cli(capsys, "--port", pump.url, "status")
        assert rc == 0 and ("on %s)" % pump.url) in out
        rc, out, _ = run_cli(capsys, "--port", pump.url, "--timeout", 2, "ir", "--grade", 2)
        assert rc == 1  # reached the board: idle, nothing to report a reaction on
        assert cli.main(["status"], environ={"PUMPCTL_PORT": pump.url}) == 0
        assert ("on %s)" % pump.url) in capsys.readouterr().out
        # after the command wins over before it and over the environment
        rc, _, err = run_cli(capsys, "--port", pump.url, "status", "--port", "socket://x:1")
        assert rc == 1 and "socket://x:1" in one_error_line(err)
    finally:
        pump.close()
    with pytest.raises(SystemExit):
        cli.main(["--port", "a0", "plan", "--infusion", "1"])
    assert "plan talks to no board" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv, words", [
    (["ir", "--grade", "7"], "pumpctl ir: error: --grade must be 1..5, not 7"),
    (["ir", "7"], "pumpctl ir: error: GRADE must be 1..5, not 7"),
    (["premed", "--min-ago", "121"], "--min-ago must be 0..120, not 121"),
])
def test_grade_as_option_or_word_is_checked_alike(capsys, argv, words):
    with pytest.raises(SystemExit):
        cli.main(argv + ["--port", "/dev/ttyNOSUCH7"])
    assert words in one_error_line(capsys.readouterr().err)


def test_ir_grade_2_is_ir_2_and_startover_while_running_does_not_suggest_startover(capsys):
    pump = FakePump(board="pico", fw=VERSION)
    try:
        run_cli(capsys, "start", "--infusion", 1, "--port", pump.url)
        rc, out, err = run_cli(capsys, "ir", "--grade", 2, "--port", pump.url)
        assert rc == 0 and out.startswith("ir 2: ok - interrupted"), err
        rc, _, err = run_cli(capsys, "ir", "--port", pump.url)
        assert rc == 1 and "ir needs GRADE" in one_error_line(err)
        rc, _, err = run_cli(capsys, "startover", "--infusion", 1, "--yes", "--port", pump.url)
        line = one_error_line(err)
        assert rc == 1 and "pumpctl startover --infusion" not in line and "pumpctl stop" in line
    finally:
        pump.close()


# ---- 4. a capture says what it sees ------------------------------------------------------


def test_a_capture_says_board_gone_and_back_on_screen_and_in_the_file(tmp_path):
    lines = device_lines()
    ports = [FakePort(lines[:10] + [OSError("pumpctl pid 7 stopped serving v0")]),
             OSError("connection refused"), OSError("connection refused"),
             FakePort(lines[10:20] + [OSError("this process stopped serving v0")]),
             FakePort(lines[23:30])]

    def open_port():
        item = ports.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    said = []
    clock = Clock()
    stats = capture.CaptureStats()
    path = tmp_path / "s.cap"
    with capfile.CaptureWriter(path, port="fake", host_ns=0) as w:
        capture.run(open_port, w, stats, duration_s=30, clock_ns=clock.ns,
                    monotonic_s=clock.mono, sleep_s=clock.sleep, on_event=said.append)
    assert said[0].startswith("board gone: its port closed") and "waiting for it" in said[0]
    assert said[1].startswith("board back after")
    assert said[2].startswith("port handed over: the pumpctl serving it stopped")
    assert said[3] == "lines missing: 3 lines the board sent never arrived (sequence gap)"
    assert stats.reconnects == 2
    marks = [e[3][1] for e in capfile.read_capture(path) if e[1] == "marker"]
    for words in said:  # the same words in the file
        assert any(words in m for m in marks), (words, marks)


def test_a_capture_of_a_board_whose_process_is_killed_says_board_gone(tmp_path):
    from simkit import need_node

    from host_tools.sim.simboard import SimBoard

    need_node()
    out = io.StringIO()
    sim = SimBoard(scale=20, pty=False)

    class Args:
        output = str(tmp_path / "k.cap")
        port = sim.serial_url
        timeout = 3.0
        duration = 4.0
        csv = parquet = subject = None

    import threading
    import time

    def unplug():
        time.sleep(1.5)
        sim.close()  # the board's process ends

    t = threading.Thread(target=unplug)
    t.start()
    try:
        assert capture.do_capture(Args, progress_out=out) == 0
    finally:
        t.join()
        sim.close()
    text = out.getvalue()
    assert "capture: board gone: its port closed" in text, text
    assert "this process stopped serving" not in text.split("board gone")[0]


def test_capture_json_says_start_each_note_and_end_one_object_a_line(tmp_path, capsys):
    lines = device_lines()
    ports = [FakePort(lines[:10] + [OSError("pumpctl pid 7 stopped serving v0")]),
             FakePort(lines[13:20])]

    class Args:
        output = str(tmp_path / "j.cap")
        port = "v0"
        timeout = 3.0
        duration = 1.0
        json = True
        csv = parquet = subject = None

    screen = io.StringIO()
    assert capture.do_capture(Args, open_port=lambda: ports.pop(0), progress_out=screen) == 0
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["kind"] for o in objs] == ["start", "note", "note", "end"]
    assert objs[0]["board"]["port"] == "v0" and objs[0]["output"] == Args.output
    assert [o["what"] for o in objs[1:3]] == ["port handed over", "lines missing"]
    end = objs[-1]
    assert end["why"] == "duration reached" and end["reconnects"] == 1
    assert (end["lines"], end["gaps"], end["missing"]) == (17, 1, 3)


# ---- 5. a live view for a narrow terminal, --json ----------------------------------------

RUNNING = {"st": "running", "inf": 3, "rate_ul_h": 25_000, "vol_ul": 750, "remain_ul": 249_250,
           "elapsed_ms": 108_000, "t_ms": 200_000}


@pytest.mark.parametrize("width", [40, 60, 80, 99])
def test_at_80_columns_time_and_eta_are_on_screen(width):
    rows = view.live_lines(RUNNING, "program ETA 3:12:00", width)
    assert len(rows) == 2 and all(len(r) < width for r in rows)
    first = rows[0]
    assert first.startswith("running  25.0 mL/h  0.750 mL")
    if width >= 60:
        assert "time 0:01:48" in first and "ETA 3:12:00" in first


def test_from_100_columns_one_line_with_everything():
    (row,) = view.live_lines(RUNNING, "program ETA 3:12:00", 120)
    assert "inf 3" in row and "[" in row and row.endswith("program ETA 3:12:00")


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_the_terminal_view_redraws_its_two_lines_in_place():
    out = Tty()
    v = monitor.View(out, True, width=80)
    v.redraw_s = 0
    v.record(RUNNING)
    v.record(dict(RUNNING, vol_ul=800, t_ms=201_000))
    text = out.getvalue()
    assert "\x1b[1A\r\x1b[J" in text  # up one line, cleared: no wrapped leftovers
    assert text.count("time 0:01:48") == 2


def test_a_monitor_volume_never_goes_backwards():
    out = io.StringIO()
    v = monitor.View(out, False)
    v.record(dict(RUNNING, vol_ul=71, t_ms=1000))  # the status reply
    v.record(dict(RUNNING, vol_ul=57, t_ms=900))  # a record read before it, shown after it
    v.record(dict(RUNNING, vol_ul=60, t_ms=1100))  # the board says less, later: a defect
    v.record(dict(RUNNING, vol_ul=90, t_ms=1200))
    v.close()
    shown = [float(re.search(r"(\d+\.\d+)/", line).group(1))
             for line in out.getvalue().splitlines() if line.startswith("running")]
    assert shown == sorted(shown) and shown == [0.071, 0.071, 0.090]
    assert "reported less volume than before 1 time(s)" in out.getvalue()
    v.record(dict(RUNNING, inf=4, vol_ul=0, t_ms=1300))  # a new infusion starts from 0
    assert "0.000/" in out.getvalue().splitlines()[-1]


def test_monitor_json_is_one_object_per_line(capsys):
    pump = FakePump(board="pico", fw=VERSION)
    try:
        rc, out, _ = run_cli(capsys, "monitor", "--once", "--json", "--port", pump.url)
    finally:
        pump.close()
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and rows[0]["kind"] == "board" and rows[0]["board"] == "pico"
    assert rows[1]["kind"] == "rec" and "vol_ul" in rows[1]


# ---- 7. help and completion from the one table --------------------------------------------


def test_help_topics_and_every_command(capsys):
    rc, out, _ = run_cli(capsys, "help")
    assert rc == 0 and all(name in out for name in cli.COMMANDS)
    rc, out, _ = run_cli(capsys, "help", "ports")
    assert "PUMPCTL_PORT" in out
    rc, out, _ = run_cli(capsys, "help", "flash")
    assert "--dry-run" in out and "--verify" in out
    rc, _, err = run_cli(capsys, "help", "flsh")
    assert rc == 1 and "no command or topic 'flsh'" in one_error_line(err)


def test_bash_completion_completes_commands_after_the_connection_and_their_options(capsys,
                                                                                 tmp_path):
    script = tmp_path / "c.bash"
    assert cli.main(["completion", "bash"]) == 0
    script.write_text(capsys.readouterr().out)
    probe = ('source %s; COMP_WORDS=(pumpctl --port v0 sta); COMP_CWORD=3; _pumpctl;'
             ' echo "${COMPREPLY[@]}"; COMP_WORDS=(pumpctl flash --d); COMP_CWORD=2; _pumpctl;'
             ' echo "${COMPREPLY[@]}"' % script)
    got = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    commands, options = got.stdout.splitlines()
    assert set(commands.split()) == {"start", "startover", "status"} and options == "--dry-run"
    for shell in ("zsh", "fish"):
        assert cli.main(["completion", shell]) == 0
        assert "flash" in capsys.readouterr().out

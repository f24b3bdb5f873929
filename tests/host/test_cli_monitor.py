"""pumpctl monitor and the one formatter it shares with `make sim`: the view's pieces, the
program ETA, and the live view against the virtual board."""

import io
import threading
import time

import pytest
from clikit import run_cli
from simkit import need_node

from host_tools.commands import monitor, view
from host_tools.commands.plan import ProgramEta
from host_tools.link.client import Client
from host_tools.sim.simboard import SimBoard
from pumpfw import VERSION
from pumpfw import protocol as P


class Tty(io.StringIO):
    def isatty(self):
        return True


def event(line):
    return P.parse_line(P.frame(7, line))


def test_the_line_shows_mL_h_infusion_time_and_progress():
    assert view.progress_bar(0, 250_000) == "[" + "." * view.BAR_WIDTH + "]"
    assert view.progress_bar(125_000, 250_000).count("#") == view.BAR_WIDTH // 2
    line = view.live_line({"st": "running", "inf": 2, "rate_ul_h": 50_000, "vol_ul": 150_000,
                           "remain_ul": 100_000, "elapsed_ms": 3_723_000}, "program ETA 2:00:00")
    assert "50.0 mL/h" in line and "150.000/250 mL" in line and "60.0%" in line
    assert "time 1:02:03" in line and line.endswith("program ETA 2:00:00")
    assert view.status_text({"st": "paused", "inf": 1, "rate_ul_h": 0, "vol_ul": 1500,
                             "remain_ul": 248_500, "elapsed_ms": 61_000}) == (
        "paused, infusion 1, 0.0 mL/h, delivered 1.500 mL, remaining 248.500 mL,"
        " infusion time 0:01:01")


def test_events_read_as_words_at_their_infusion_time():
    timeline = view.Timeline()
    timeline.record({"st": "running", "t_ms": 3_700_000, "elapsed_ms": 3_600_000})
    assert timeline.event_line(event("ev rate t_ms=3700000 rate_ul_h=50000 since_ms=3700000")) \
        == "1:00:00  rate 50.0 mL/h"
    assert timeline.event_line(event("ev ir t_ms=6400000 grade=2")) == \
        "1:45:00  infusion reaction, grade 2"
    assert "waiting for `resolved`" in timeline.event_line(event("ev interrupt t_ms=6400000"))
    assert timeline.event_line(event("ev alarm t_ms=6700000 code=2 detail=300 what=ir_waiting")) \
        == "1:50:00  alarm: interrupted, waiting for `resolved` (300 s)"
    assert timeline.event_line(event("ev start t_ms=9000000 inf=2")) == \
        "0:00:00  infusion 2 started"
    timeline.event_line(event("ev reboot t_ms=5 cause=watchdog recovered=1"))
    assert timeline.clock(10) == "-:--:--"  # device time restarted: unknown until a record


def test_the_program_eta_follows_the_ladder_not_the_current_rate():
    """Infusion 1 at minute 48 (25 mL/h, 20 mL in): the ladder's steps end it at 200 min, so
    2:32:00 is left; remaining volume at the current rate would say 9:12:00."""
    status = {"t_ms": 50 * 60_000, "inf": 1, "st": "running", "rate_ul_h": 25_000,
              "vol_ul": 20_000, "elapsed_ms": 48 * 60_000, "infusing_ms": 48 * 60_000,
              "remain_ul": 230_000, "phase": "ladder", "step": 0, "prog_rate_ul_h": 25_000,
              "hold_ms": 12 * 60_000, "ir_grade": 0}
    eta = ProgramEta(400_000)
    eta.update(status)
    assert eta.left_ms(status) == 152 * 60_000
    assert eta.text(dict(status, t_ms=status["t_ms"] + 60_000)) == "program ETA 2:31:00"
    paused = dict(status, st="paused", rate_ul_h=0)
    eta.update(paused)
    assert eta.left_ms(paused) is None and eta.text(paused) == "paused: 2:32:00 once resumed" \
        " (program)"
    interrupted = dict(status, st="interrupted", rate_ul_h=0, hold_ms=-1, ir_grade=2)
    eta.update(interrupted)
    assert eta.text(interrupted) == "waits for `resolved`"
    eta.update({k: v for k, v in status.items() if k != "phase"})  # an older firmware
    assert eta.text(status) == ""


def test_events_are_coloured_on_a_terminal_only():
    tty, plain = Tty(), io.StringIO()
    for out in (tty, plain):
        v = monitor.View(out, out.isatty())
        v.record({"st": "running", "inf": 1, "rate_ul_h": 25_000, "vol_ul": 0,
                  "remain_ul": 250_000, "elapsed_ms": 0, "t_ms": 0})
        v.event(event("ev discontinue t_ms=61000 grade=3"))
        v.close()
    assert "\x1b[1;31m0:01:01  discontinued (grade 3 reaction): latched until cleared\x1b[0m" \
        in tty.getvalue()
    assert "\x1b" not in plain.getvalue()
    lines = plain.getvalue().splitlines()
    assert lines[0].startswith("running") and lines[1].startswith("0:01:01  discontinued")


@pytest.fixture(scope="module")
def board():
    need_node()
    with SimBoard(scale=10, pty=False) as sim:
        yield sim


def test_once_prints_the_board_then_one_view(capsys, board):
    rc, out, _ = run_cli(capsys, "monitor", "--once", "--port", board.serial_url)
    assert rc == 0 and len(out.splitlines()) == 2
    assert out.startswith("monitor: sim %s, serial -, on %s" % (VERSION, board.serial_url))
    assert "[" + "." * view.BAR_WIDTH + "]" in out or "#" in out


def test_live_view_shows_records_events_and_the_program_eta(capsys, board):
    with Client(board.serial_url) as c:
        if c.status()["st"] in ("running", "paused", "interrupted"):
            c.command("stop")
        c.command("start", 1)

    def pause_soon():
        time.sleep(0.8)
        with Client(board.serial_url) as c:
            c.command("pause")

    helper = threading.Thread(target=pause_soon)
    helper.start()
    rc, out, _ = run_cli(capsys, "monitor", "--duration", 2.5, "--port", board.serial_url)
    helper.join()
    assert rc == 0
    lines = out.splitlines()
    # 200 min by the program, minus the few virtual seconds gone: not 250 mL at 25 mL/h (10 h)
    running = [line for line in lines if line.startswith("running")]
    assert running and all(" program ETA 3:" in line for line in running), running
    assert any(line.endswith("  paused") for line in lines)
    assert lines[-1].startswith("paused") and lines[-1].endswith("once resumed (program)")
    with Client(board.serial_url) as c:
        c.command("stop")

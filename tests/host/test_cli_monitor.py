"""pumpctl monitor: the view's pieces, and the live view against the virtual board."""

import io
import threading
import time
from datetime import datetime

import pytest

from clikit import run_cli
from host_tools import monitor
from host_tools.client import Client
from host_tools.sim.board import SimBoard
from pumpfw import protocol as P
from simkit import need_node


class Tty(io.StringIO):
    def isatty(self):
        return True


def event(line):
    return P.parse_line(P.frame(7, line))


def test_progress_bar_and_eta():
    assert monitor.progress_bar(0) == "[" + "." * monitor.BAR_WIDTH + "]"
    assert monitor.progress_bar(125_000).count("#") == monitor.BAR_WIDTH // 2
    assert monitor.progress_bar(250_000).count("#") == monitor.BAR_WIDTH
    now = datetime(2026, 1, 1, 12, 0)
    left_s, end = monitor.eta({"st": "running", "rate_ul_h": 50_000, "remain_ul": 100_000}, now)
    assert left_s == pytest.approx(7200) and end == datetime(2026, 1, 1, 14, 0)
    assert monitor.eta({"st": "paused", "rate_ul_h": 0, "remain_ul": 100_000}) is None
    line = monitor.view_line({"st": "running", "inf": 2, "rate_ul_h": 50_000, "vol_ul": 150_000,
                              "remain_ul": 100_000, "elapsed_ms": 3_723_000}, now)
    assert "50.0 mL/h" in line and "150.000 mL" in line and "60.0%" in line
    assert "elapsed 1:02:03" in line and "ETA 2:00:00 (14:00)" in line


def test_events_are_coloured_on_a_terminal_only():
    tty, plain = Tty(), io.StringIO()
    for out in (tty, plain):
        view = monitor.View(out, out.isatty())
        view.record({"st": "running", "inf": 1, "rate_ul_h": 25_000, "vol_ul": 0,
                     "remain_ul": 250_000, "elapsed_ms": 0})
        view.event(event("ev discontinue t_ms=61000 grade=3"))
        view.event(event("ev rate t_ms=62000 rate_ul_h=50000 since_ms=62000"))
        view.close()
    assert "\x1b[1;31m[0:01:01] event discontinue grade=3\x1b[0m" in tty.getvalue()
    assert "\x1b[36m[0:01:02] event rate rate=50.0 mL/h since_ms=62000" in tty.getvalue()
    assert "\x1b" not in plain.getvalue()
    lines = plain.getvalue().splitlines()
    assert lines[1] == "[0:01:01] event discontinue grade=3" and lines[0].startswith("running")


@pytest.fixture(scope="module")
def board():
    need_node()
    with SimBoard(scale=10, pty=False) as sim:
        yield sim


def test_once_prints_one_view(capsys, board):
    rc, out, _ = run_cli(capsys, "monitor", "--once", "--port", board.serial_url)
    assert rc == 0 and len(out.splitlines()) == 1
    assert "[" + "." * monitor.BAR_WIDTH + "]" in out or "#" in out


def test_live_view_shows_records_and_events(capsys, board):
    with Client(board.serial_url) as c:
        if c.status()["st"] not in ("running", "paused", "interrupted"):
            c.command("start", 1)
        if c.status()["st"] == "paused":
            c.command("resume")

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
    assert any(line.startswith("running") and "ETA" in line for line in lines)
    assert any(" event pause" in line for line in lines)
    assert lines[-1].startswith("paused") and "ETA --" in lines[-1]
    with Client(board.serial_url) as c:
        c.command("stop")


def test_bad_duration_is_one_line(capsys, board):
    rc, _, err = run_cli(capsys, "monitor", "--duration", 0, "--port", board.serial_url)
    assert rc == 1 and "--duration must be > 0" in err

"""pumpctl start/pause/resume/ir/resolved/stop/status/clear against the virtual board."""

import json
import re

import pytest

from clikit import one_error_line, run_cli
from host_tools.client import Client
from host_tools.sim.board import SimBoard
from simkit import need_node


@pytest.fixture(scope="module")
def board():
    need_node()
    with SimBoard(scale=1, pty=False) as sim:
        yield sim


@pytest.fixture
def port(board):
    """The board's serial URL, with the pump idle whatever an earlier test left."""
    with Client(board.serial_url) as c:
        st = c.status()["st"]
        if st in ("running", "paused", "interrupted"):
            c.command("stop")
        elif st == "discontinued":
            c.clear_latch()
    return board.serial_url


def state(url):
    with Client(url) as c:
        return c.status()["st"]


def test_status_one_line_and_json(capsys, port):
    rc, out, _ = run_cli(capsys, "status", "--port", port)
    assert rc == 0 and len(out.splitlines()) == 1
    assert re.match(r"(idle|stopped|complete), infusion \d+, 0\.0 mL/h", out)
    assert "sim 0.1.0" in out
    rc, out, _ = run_cli(capsys, "status", "--port", port, "--json")
    data = json.loads(out)
    assert data["hello"]["board"] == "sim" and data["status"]["rate_ul_h"] == 0


def test_a_whole_session(capsys, port):
    rc, out, _ = run_cli(capsys, "start", "--infusion", 1, "--port", port)
    assert rc == 0 and out.startswith("start 1: ok - running, infusion 1, 25.0 mL/h")
    rc, out, _ = run_cli(capsys, "pause", "--port", port)
    assert rc == 0 and "paused" in out and state(port) == "paused"
    rc, out, _ = run_cli(capsys, "resume", "--port", port)
    assert rc == 0 and "running" in out
    rc, out, _ = run_cli(capsys, "ir", 2, "--no-interrupt", "--port", port)
    assert rc == 0 and "running, infusion 1, 25.0 mL/h" in out  # the operator's choice
    rc, _, err = run_cli(capsys, "ir", 1, "--no-interrupt", "--port", port)
    assert rc == 1 and "grade 2 only" in one_error_line(err)
    rc, out, _ = run_cli(capsys, "ir", 2, "--port", port)
    assert rc == 0 and "interrupted" in out
    rc, out, _ = run_cli(capsys, "resolved", "--port", port)
    assert rc == 0 and state(port) in ("running", "paused")
    rc, out, _ = run_cli(capsys, "stop", "--port", port)
    assert rc == 0 and out.startswith("stop: ok - stopped")


def test_device_refusals_are_its_human_message(capsys, port):
    rc, _, err = run_cli(capsys, "pause", "--port", port)
    assert rc == 1
    assert one_error_line(err).startswith("pumpctl pause: pause is not allowed while ")
    run_cli(capsys, "start", "--infusion", 2, "--port", port)
    rc, _, err = run_cli(capsys, "start", "--infusion", 2, "--port", port)
    assert rc == 1 and "start is not allowed while running" in one_error_line(err)
    rc, _, err = run_cli(capsys, "ir", 9, "--port", port)
    assert rc == 1 and "grade must be 1..5" in one_error_line(err)
    assert state(port) == "running"  # refused commands changed nothing


def test_clear_needs_the_token_typed_back(capsys, port):
    run_cli(capsys, "start", "--infusion", 1, "--port", port)
    rc, out, _ = run_cli(capsys, "ir", 3, "--port", port)
    assert "discontinued" in out
    rc, _, err = run_cli(capsys, "start", "--infusion", 1, "--port", port)
    assert rc == 1 and "clear the latch first (pumpctl clear)" in err
    rc, _, err = run_cli(capsys, "clear", "--port", port)  # stdin is not a terminal here
    assert rc == 1 and "nothing was cleared" in err and state(port) == "discontinued"

    from host_tools import cli, control

    args = cli.build_parser().parse_args(["clear", "--port", port])
    with pytest.raises(ValueError, match="wrong token"):
        control.do_clear(args, read_line=lambda prompt: "0000" if "0000" not in prompt
                         else "FFFF", interactive=True)
    assert state(port) == "discontinued"
    prompts = []

    def type_it_back(prompt):
        prompts.append(prompt)
        return re.search(r"Type ([0-9A-F]{4})", prompt).group(1).lower()

    assert control.do_clear(args, read_line=type_it_back, interactive=True) == 0
    assert len(prompts) == 1 and state(port) == "idle"


def test_clear_yes_for_scripts(capsys, port):
    run_cli(capsys, "start", "--infusion", 1, "--port", port)
    run_cli(capsys, "ir", 4, "--port", port)
    rc, out, _ = run_cli(capsys, "clear", "--yes", "--port", port)
    assert rc == 0 and out.startswith("clear: ok - latch cleared; idle")
    rc, _, err = run_cli(capsys, "clear", "--yes", "--port", port)  # nothing latched now
    assert rc == 1 and "clear is not allowed while idle" in err

"""pumpctl's pump commands (status, start, startover, premed, pause, resume, ir, resolved, stop,
clear) against the virtual board: one result line each, no dead ends, the user's option named."""

import json
import re

import pytest
from clikit import one_error_line, run_cli
from simkit import real_time_board

from host_tools.commands import cli, control
from host_tools.link.client import Client
from host_tools.link.errors import UserError
from pumpfw import protocol as P


@pytest.fixture(scope="module")
def board():
    yield from real_time_board()


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
    assert rc == 0 and out.startswith("resolved: ok - running, infusion 1, 12.5 mL/h")
    rc, out, _ = run_cli(capsys, "stop", "--port", port)
    assert rc == 0 and out.startswith("stop: ok - stopped")


def test_a_command_is_one_id_and_one_command_on_the_wire(port, monkeypatch):
    sent = []
    real = Client.send

    def spy(self, name, *args):
        sent.append(name)
        return real(self, name, *args)

    monkeypatch.setattr(Client, "send", spy)
    assert cli.main(["start", "--infusion", "3", "--port", port]) == 0
    assert cli.main(["pause", "--port", port]) == 0
    # pause's ok carries the state: no `status` after it (start's does not: commands.py)
    assert sent == ["id", "start", "status", "id", "pause"]


def test_device_refusals_are_its_human_message(capsys, port):
    rc, _, err = run_cli(capsys, "pause", "--port", port)
    assert rc == 1
    assert one_error_line(err).startswith("pumpctl pause: pause is not allowed while ")
    run_cli(capsys, "start", "--infusion", 2, "--port", port)
    rc, _, err = run_cli(capsys, "start", "--infusion", 2, "--port", port)
    assert rc == 1 and "start is not allowed while running" in one_error_line(err)
    rc, _, err = run_cli(capsys, "resolved", "--port", port)  # no reaction to resolve
    assert rc == 1 and one_error_line(err) == (
        "pumpctl resolved: no infusion reaction is active: there is nothing to resolve")
    assert state(port) == "running"  # refused commands changed nothing


@pytest.mark.parametrize("argv, words", [
    (["start", "--infusion", "1000"], "pumpctl start: error: --infusion must be 1..999, not 1000"),
    (["start", "--infusion", "x"], "--infusion must be a whole number 1..999, not 'x'"),
    (["ir", "9"], "pumpctl ir: error: GRADE must be 1..5, not 9"),
    (["premed", "121"], "MIN_AGO must be 0..120, not 121"),
    (["status", "--timeout", "0"], "pumpctl status: error: --timeout must be > 0 seconds, not 0"),
    (["monitor", "--duration", "-1"], "--duration must be > 0 seconds, not -1"),
    (["calibrate", "--seconds", "0"], "--seconds must be > 0 seconds, not 0"),
])
def test_a_bad_option_is_named_and_nothing_is_sent(capsys, argv, words):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv + ["--port", "/dev/ttyNOSUCH7"])  # never opened: refused before
    assert stop.value.code == 2
    assert words in one_error_line(capsys.readouterr().err)


def test_version_and_bare_pumpctl(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == "pumpctl 0.1.0 (protocol %d)" % P.PROTO_VERSION
    assert cli.main([]) == 0
    listing = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in listing
    assert cli.COMMANDS.keys() >= {"startover", "premed"}


def test_every_operator_command_of_the_protocol_has_a_pumpctl_command():
    tools = {"help", "id", "status", "interval", "cal", "setcal", "confirm", "repl"}
    by_option = {"ircontinue": "ir 2 --no-interrupt"}
    for name in P.COMMAND_NAMES:
        assert name in cli.COMMANDS or name in tools or name in by_option, name
    assert {"calibrate", "flash"} <= cli.COMMANDS.keys()  # cal/setcal, repl: their users


def test_premed_then_startover_overrides_the_window(capsys, port, board):
    run_cli(capsys, "start", "--infusion", 1, "--port", port)
    run_cli(capsys, "stop", "--port", port)
    rc, out, _ = run_cli(capsys, "premed", 100, "--port", port)
    assert rc == 0 and out.startswith("premed 100: ok - premedication recorded; stopped")
    rc, _, err = run_cli(capsys, "start", "--infusion", 2, "--port", port)
    line = one_error_line(err)  # 100 min ago: outside 15..60, the pump says so
    assert rc == 1 and "premedication was 100 min ago" in line
    assert "pumpctl startover --infusion N" in line
    rc, _, err = run_cli(capsys, "startover", "--infusion", 2, "--port", port)
    assert rc == 1 and "nothing was started" in err and state(port) == "stopped"
    rc, out, _ = run_cli(capsys, "startover", "--infusion", 2, "--yes", "--port", port)
    assert rc == 0 and out.startswith("startover 2: ok - running, infusion 2, 50.0 mL/h")


def test_clear_needs_the_token_typed_back(capsys, port):
    run_cli(capsys, "start", "--infusion", 1, "--port", port)
    rc, out, _ = run_cli(capsys, "ir", 3, "--port", port)
    assert "discontinued" in out
    rc, _, err = run_cli(capsys, "start", "--infusion", 1, "--port", port)
    assert rc == 1 and "clear the latch first (pumpctl clear)" in err
    rc, _, err = run_cli(capsys, "clear", "--port", port)  # stdin is not a terminal here
    assert rc == 1 and "nothing was cleared" in err and state(port) == "discontinued"

    args = cli.build_parser().parse_args(["clear", "--port", port])
    with pytest.raises(UserError, match="wrong token"):
        control.do_action(args, read_line=lambda prompt: "0000" if "0000" not in prompt
                          else "FFFF", interactive=True)
    assert state(port) == "discontinued"

    def end_of_input(prompt):
        raise EOFError

    with pytest.raises(UserError, match="cancelled: nothing was cleared"):
        control.do_action(args, read_line=end_of_input, interactive=True)
    prompts = []

    def type_it_back(prompt):
        prompts.append(prompt)
        return re.search(r"Type ([0-9A-F]{4})", prompt).group(1).lower()

    assert control.do_action(args, read_line=type_it_back, interactive=True) == 0
    assert len(prompts) == 1 and state(port) == "idle"


def test_clear_yes_for_scripts(capsys, port):
    run_cli(capsys, "start", "--infusion", 1, "--port", port)
    run_cli(capsys, "ir", 4, "--port", port)
    rc, out, _ = run_cli(capsys, "clear", "--yes", "--port", port)
    assert rc == 0 and out.startswith("clear: ok - latch cleared; idle")
    rc, _, err = run_cli(capsys, "clear", "--yes", "--port", port)  # nothing latched now
    assert rc == 1 and "clear is not allowed while idle" in err

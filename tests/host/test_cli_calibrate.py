"""pumpctl calibrate against the virtual board and its balance (an independent witness)."""

import json
import re

import pytest
from clikit import garbage_device, one_error_line, run_cli
from simkit import need_node

from host_tools.commands import calibrate, cli
from host_tools.link.client import Client
from host_tools.link.errors import UserError
from host_tools.sim.simboard import SimBoard
from pumpfw import protocol as P


@pytest.fixture(scope="module")
def board():
    need_node()
    # 300x real time: infusion 2 (50 mL/h, 80 steps/mL) makes ~330 steps per wall second, so
    # a run stays over calibrate.MIN_STEPS even when a loaded machine lets virtual time slip.
    with SimBoard(scale=300, pty=False) as sim:
        yield sim


def cal(url):
    with Client(url) as c:
        return c.command("cal").fields["steps_per_ml"]


def test_steps_per_ml_arithmetic():
    assert calibrate.steps_per_ml(16_000, 1.0) == 16_000
    assert calibrate.steps_per_ml(1_000, 3.0) == 333
    with pytest.raises(UserError, match="run longer"):
        calibrate.steps_per_ml(calibrate.MIN_STEPS - 1, 1.0)
    with pytest.raises(UserError, match="nothing reached"):
        calibrate.steps_per_ml(5_000, 0.0)


def test_balance_finds_the_pumps_true_calibration(capsys, board):
    truth = board.status()["steps_per_ml"]  # what the balance weighs by: boards/sim.py
    rc, out, _ = run_cli(capsys, "calibrate", "--port", board.serial_url, "--balance",
                         board.balance_url, "--seconds", 1.5, "--settle", 0, "--dry-run",
                         "--infusion", 2)
    assert rc == 0, out
    m = re.search(r"steps_per_ml: (\d+) -> (\d+) .* from (\d+) steps, ([\d.]+) g", out)
    assert m and int(m.group(2)) == truth and int(m.group(3)) >= calibrate.MIN_STEPS
    assert float(m.group(4)) == pytest.approx(int(m.group(3)) / truth, abs=0.002)
    assert cal(board.serial_url) == int(m.group(1))  # a dry run writes nothing


def test_written_and_read_back_or_refused_by_the_device(capsys, board):
    truth = board.status()["steps_per_ml"]
    before = cal(board.serial_url)
    rc, out, err = run_cli(capsys, "calibrate", "--port", board.serial_url, "--balance",
                           board.balance_url, "--seconds", 1.5, "--settle", 0,
                           "--infusion", 2)
    lo, hi = P.command_spec("setcal")[1][0][1:3]
    if lo <= truth <= hi:
        assert rc == 0 and re.search(r"-> %d " % truth, out) and cal(board.serial_url) == truth
    else:  # a board file outside setcal's range: the device's own message, nothing written
        assert rc == 1
        assert one_error_line(err.split("\n", 1)[1]).endswith(
            "steps_per_ml must be %d..%d" % (lo, hi))
        assert cal(board.serial_url) == before


def test_typed_volume_is_written_and_read_back(capsys, board):
    args = cli.build_parser().parse_args(["calibrate", "--port", board.serial_url,
                                          "--seconds", "1.5", "--infusion", "2"])
    seen = []

    def user_types(prompt):
        steps = int(re.match(r"(\d+) steps made", prompt).group(1))
        seen.append(steps)
        return "%.6f" % (steps / 250)  # as if the head moved 1 mL per 250 steps

    assert calibrate.do_calibrate(args, read_line=user_types) == 0
    out = capsys.readouterr().out
    assert re.search(r"-> 250 \(.*\) from %d steps" % seen[0], out)
    assert cal(board.serial_url) == 250
    with Client(board.serial_url) as c:
        assert c.status()["st"] == "stopped"  # the run was stopped, not left running


def test_refused_while_infusing_and_bad_balance(capsys, board):
    with Client(board.serial_url) as c:
        c.command("start", 1)
    try:
        rc, _, err = run_cli(capsys, "calibrate", "--port", board.serial_url,
                             "--volume-ml", 1)
        assert rc == 1 and "an infusion is running: calibrate an idle pump" in err
    finally:
        with Client(board.serial_url) as c:
            c.command("stop")
    junk = garbage_device()
    try:
        rc, _, err = run_cli(capsys, "calibrate", "--port", board.serial_url, "--balance",
                             junk.url, "--seconds", 1)
        assert rc == 1 and "unexpected balance reply" in one_error_line(err)
    finally:
        junk.close()
    rc, _, err = run_cli(capsys, "calibrate", "--port", board.serial_url, "--balance",
                         "socket://127.0.0.1:1", "--seconds", 1)
    assert rc == 1 and "cannot open the balance" in one_error_line(err)


def test_json_is_one_object_with_the_board_and_what_was_measured(capsys, board):
    truth = board.status()["steps_per_ml"]
    before = cal(board.serial_url)
    rc, out, err = run_cli(capsys, "calibrate", "--port", board.serial_url, "--balance",
                           board.balance_url, "--seconds", 1.5, "--settle", 0, "--dry-run",
                           "--infusion", 2, "--json")
    assert rc == 0, err
    (line,) = out.splitlines()  # "calibration run on ..." went to stderr
    result = json.loads(line)
    assert result["ok"] and result["command"] == "calibrate" and not result["written"]
    assert result["board"]["port"] == board.serial_url and result["board"]["board"] == "sim"
    assert result["before"] == before and result["after"] == truth
    assert result["steps"] >= calibrate.MIN_STEPS
    assert result["volume_ml"] == pytest.approx(result["steps"] / truth, abs=0.002)
    assert cal(board.serial_url) == before  # a dry run writes nothing

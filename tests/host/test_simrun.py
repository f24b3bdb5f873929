"""`make sim`'s runner: a whole infusion on the virtual board, checked against the balance; its
options refused in one line."""

import re

import pytest
from simkit import need_node

from host_tools.sim import run as simrun


def test_make_sim_runs_an_infusion_to_exactly_250_ml(capsys):
    need_node()
    assert simrun.main(["--infusion", "3", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "outcome: complete in 1:15:00, log intact" in out
    witness = re.search(r"balance ([\d.]+) g, log ([\d.]+) mL, steps (\d+)", out)
    assert witness, out
    assert float(witness.group(1)) == float(witness.group(2)) == 250.0
    # Events in words at their infusion time, not raw fields at the board's boot time.
    assert "0:00:00  infusion 3 started" in out
    assert "1:15:00  complete: 250.000 mL delivered" in out
    assert "_ul" not in out and "since_ms" not in out


@pytest.mark.parametrize("argv, words", [
    (["--infusion", "1000"], "--infusion must be 1..999, not 1000"),
    (["--scale", "0"], "--scale must be > 0, not 0"),
    (["--scale", "-5"], "--scale must be > 0, not -5"),
    (["--hold"], "--hold only goes with --serve"),
])
def test_bad_options_are_one_line(capsys, argv, words):
    with pytest.raises(SystemExit) as stop:
        simrun.main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == "make sim: error: " + words

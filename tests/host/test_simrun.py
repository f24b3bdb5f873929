"""`make sim`'s runner: a whole infusion on the virtual board, checked against the balance."""

import re

from simkit import need_node

from host_tools.sim import run as simrun


def test_status_line_shows_progress_and_eta():
    rec = {"st": "running", "rate_ul_h": 200_000, "vol_ul": 125_000, "remain_ul": 125_000,
           "elapsed_ms": 37 * 60_000 + 30_000}
    line = simrun.status_line(rec, 250_000)
    assert "200.0 mL/h" in line and "125.00/250 mL" in line and "50.0%" in line
    assert "[" + "#" * 10 + "." * 10 + "]" in line and len(line) < 100
    assert "elapsed 0:37:30" in line and "ETA 0:37:30" in line


def test_make_sim_runs_an_infusion_to_exactly_250_ml(capsys):
    need_node()
    assert simrun.main(["--infusion", "3", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "outcome: complete in 1:15:00, log intact" in out
    witness = re.search(r"balance ([\d.]+) g, log ([\d.]+) mL, steps (\d+)", out)
    assert witness, out
    assert float(witness.group(1)) == float(witness.group(2)) == 250.0
    events = re.findall(r"event (\w+)", out)
    assert events[-1] == "complete" and "start" in events

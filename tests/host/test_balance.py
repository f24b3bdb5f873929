"""Virtual balance (MT-SICS): replies, mass = steps / steps_per_ml, tare, noise, evaporation."""

import re
import statistics

import pytest
from simkit import Line, fixture_board

WEIGHT = re.compile(r"S S +(-?\d+\.\d{3}) g")


@pytest.fixture(scope="module")
def sim():
    with fixture_board() as board:
        line = Line(board)
        line.send("spin 800")
        line.read_until("spin ok")
        board.advance_ms(2500)
        line.send("stop")
        line.read_until("stop ok")
        line.close()
        yield board


def true_grams(sim):
    status = sim.status()
    return status["steps"] / status["steps_per_ml"]


def test_si_reports_what_the_motor_pumped(sim):
    reply = sim.balance_command("SI")
    m = WEIGHT.fullmatch(reply)
    assert m, reply
    assert len(reply) == len("S S ") + 10 + len(" g")  # weight right-aligned in 10 characters
    assert sim.status()["steps"] > 1900  # 800 steps/s for 2.5 s
    assert float(m.group(1)) == pytest.approx(true_grams(sim), abs=0.0005)
    assert sim.balance_grams() == pytest.approx(true_grams(sim), abs=0.0005)


def test_s_zero_tare_and_reset(sim):
    assert WEIGHT.fullmatch(sim.balance_command("S"))
    assert sim.balance_command("Z") == "Z A"
    assert sim.balance_grams() == 0.0
    assert sim.balance_command("@") == 'I4 A "VB0000001"'  # reset: zero forgotten
    assert sim.balance_grams() == pytest.approx(true_grams(sim), abs=0.0005)
    tare = sim.balance_command("T")
    assert re.fullmatch(r"T S +\d+\.\d{3} g", tare)
    assert sim.balance_grams() == 0.0
    assert sim.balance_command("TAC") == "TAC A"
    assert sim.balance_grams() == pytest.approx(true_grams(sim), abs=0.0005)


def test_unknown_commands_get_es(sim):
    assert sim.balance_command("XYZ") == "ES"
    assert sim.balance_command("si") == "ES"  # MT-SICS commands are upper case


def test_noise_is_off_by_default_and_settable(sim):
    quiet = {sim.balance_grams() for _ in range(5)}
    assert len(quiet) == 1
    sim.set_balance(noise_g=0.01)
    try:
        noisy = [sim.balance_grams() for _ in range(60)]
    finally:
        sim.set_balance(noise_g=0)
    assert len(set(noisy)) > 10
    assert statistics.mean(noisy) == pytest.approx(true_grams(sim), abs=0.01)
    assert 0.005 < statistics.stdev(noisy) < 0.02


def test_evaporation_takes_mass_away_in_virtual_time(sim):
    before = sim.balance_grams()
    sim.set_balance(evap_g_per_h=3.6)  # 1 mg per virtual second
    try:
        sim.advance_ms(10_000)
        after = sim.balance_grams()
    finally:
        sim.set_balance(evap_g_per_h=0)
    assert before - after == pytest.approx(0.010, abs=0.0015)


def test_the_client_knows_the_balance_readability_from_its_reply(sim):
    from host_tools.link.balance import Balance

    with Balance(sim.balance_url) as balance:
        assert balance.readability_g is None  # nothing read yet
        balance.grams()
        assert balance.readability_g == pytest.approx(0.001)  # '12.345 g': a 1 mg digit

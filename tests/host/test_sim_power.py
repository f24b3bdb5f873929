"""Virtual-board harness: power cut and restore keep /flash, watchdog resets, firmware crashes."""

import pytest
from simkit import fixture_board, line_on, stderr_file


@pytest.fixture(scope="module")
def stderr_path(tmp_path_factory):
    return stderr_file(tmp_path_factory, "power")


@pytest.fixture(scope="module")
def sim(stderr_path):
    with open(stderr_path, "wb") as err, fixture_board(stderr=err) as board:
        yield board


@pytest.fixture(scope="module")
def line(sim):
    yield from line_on(sim)


def test_power_cut_and_restore_keep_flash_and_report_a_new_boot(sim, line):
    assert line.ask("put journal.txt infusion-42") == "put ok"
    line.ask("spin 400")
    sim.advance_ms(1000)
    cut = sim.power_cut()
    assert cut["powered"] is False
    assert cut["motor_on"] is False
    steps = cut["steps"]
    assert steps > 0
    line.send("echo lost")  # nobody is listening while the board is off
    off = sim.advance_ms(500)
    assert off["vtime_ms"] == cut["vtime_ms"] + 500  # the world's clock runs on
    up = sim.power_restore()
    assert (up["powered"], up["boots"], up["reset_cause"]) == (True, 2, "power_on")
    assert up["steps"] == steps and up["steps_boot"] == 0  # the beaker keeps what was pumped
    assert line.read_line() == "fixture boot cause=power_on"
    assert line.ask("get journal.txt") == "get infusion-42"
    assert line.ask("ls") == "ls journal.txt"
    assert any(e["event"] == "boot" and e["boot"] == 2 for e in sim.events)


def test_watchdog_resets_the_board_in_virtual_time(sim, line):
    boots = sim.status()["boots"]
    assert line.ask("put wd.txt kept") == "put ok"
    assert line.ask("wdt 500") == "wdt ok"
    sim.advance_ms(2000)  # fed every tick: no reset
    assert sim.status()["boots"] == boots
    assert line.ask("starve") == "starve ok"
    status = sim.advance_ms(2000)
    assert status["boots"] == boots + 1
    assert status["reset_cause"] == "watchdog"
    assert line.read_line() == "fixture boot cause=watchdog"
    assert line.ask("cause") == "cause watchdog"
    assert line.ask("get wd.txt") == "get kept"
    reset = [e for e in sim.events if e["event"] == "reset"]
    assert reset and reset[-1]["cause"] == "watchdog"


def test_a_firmware_exception_is_reported_and_the_motor_is_off(sim, line, stderr_path):
    line.ask("spin 400")
    assert sim.status()["motor_on"] is True
    line.send("raise")
    assert line.read_until("Traceback") == "Traceback (most recent call last):"
    assert line.read_until("ValueError") == "ValueError: fixture asked to fail"
    status = sim.advance_ms(100)
    assert status["crashed"] == {"type": "ValueError", "message": "fixture asked to fail"}
    assert status["motor_on"] is False
    steps = status["steps"]
    assert sim.advance_ms(1000)["steps"] == steps  # the motor stays stopped
    crash = [e for e in sim.events if e["event"] == "crash"]
    assert crash and crash[-1]["type"] == "ValueError"
    assert "harness_fixture.py" in crash[-1]["traceback"]
    text = stderr_path.read_text()
    assert "firmware crashed: ValueError: fixture asked to fail" in text
    assert "function(" not in text and "micropython.mjs" not in text  # no minified VM source


def test_power_cycle_recovers_from_a_crash(sim, line):
    sim.power_cut()
    status = sim.power_restore()
    assert status["crashed"] is None
    assert line.read_line() == "fixture boot cause=power_on"
    assert line.ask("echo alive") == "alive"

"""HIL: the operator buttons: a short PAUSE pauses, a long one resumes, a stuck one never moves;
where the rig sees the STEP pin, a PAUSE or IR press stops it within the debounce window plus
one step interval (docs/buttons.md)."""

import pytest

from hil_tests.hilkit import MIN_MS, RUN_BEGINS_WITHIN_MIN, at_minute, start
from pumpfw.buttons import Button

pytestmark = pytest.mark.needs("buttons")

STUCK_MS = 10_000  # past the 8 s after which a held button counts as stuck


@pytest.mark.needs("pin_edges")
@pytest.mark.parametrize("button, state", [("pause", "paused"), ("ir", "interrupted")])
def test_a_press_stops_the_pin_within_the_debounce_and_one_step(rig, pump, hil_record, button,
                                                                 state):
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 1)
    rig.press(button, 200)
    t_us = rig.last_press_us
    edges = rig.step_edges_since(t_us - 100_000)
    before = [t for t in edges if t < t_us]
    step_us = before[-1] - before[-2]  # the interval at the rate it ran
    hil_record.measure("last STEP edge after the %s press" % button, (edges[-1] - t_us) / 1000,
                       "ms", None, (Button.debounce_ms * 1000 + step_us) / 1000)
    hil_record.within("state after the press is %s" % state, pump.status()["st"] == state,
                      "bool", 1, 0)


@pytest.mark.pico_lane
def test_short_pause_press_pauses_and_a_long_press_resumes(rig, pump, hil_record):
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 1)
    rig.press("pause", 200)
    pump.status()
    hil_record.within("pause events from a short press", len(pump.events_seen("pause")),
                      "events", 1, 0)
    paused = pump.status()
    hil_record.within("rate after a short press", paused["rate_ul_h"], "uL/h", 0, 0)
    rig.wait_ms(MIN_MS)
    hil_record.within("steps while paused", pump.status()["steps"] - paused["steps"],
                      "steps", 0, 0)
    rig.press("pause", 2500)  # long (1.5 to 8 s): resume, on release
    # A run from rest begins once its journal record is written (write-ahead): its `ev resume`
    # comes within RUN_BEGINS_WITHIN_MIN (1 s) of the release, not at once (hilkit.py); the
    # rig's press() already let 100 ms pass after it.
    rig.until(pump, "resume", RUN_BEGINS_WITHIN_MIN * MIN_MS - 100)
    resumed = pump.status()
    hil_record.within("resume events from a long press", len(pump.events_seen("resume")),
                      "events", 1, 0)
    hil_record.within("rate after a long press", resumed["rate_ul_h"] / 1000, "mL/h", 200, 0)


def test_a_stuck_button_never_starts_the_pump(rig, pump, hil_record):
    before = pump.status()
    for button in ("pause", "ok", "ir"):
        rig.press(button, STUCK_MS)
    after = pump.status()
    hil_record.within("state stays idle", after["st"] == before["st"] == "idle", "bool", 1, 0)
    hil_record.within("steps while buttons were stuck", after["steps"] - before["steps"],
                      "steps", 0, 0)
    hil_record.within("events from stuck buttons", len(pump.events_seen("start")
                                                       + pump.events_seen("resume")),
                      "events", 0, 0)


def test_a_stuck_button_never_resumes_the_pump(rig, pump, hil_record):
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 1)
    pump.run("pause")
    paused = pump.status()
    for button in ("pause", "ok"):  # the two that can move the motor with a long press
        rig.press(button, STUCK_MS)
        rig.wait_ms(2000)
    after = pump.status()
    hil_record.within("still paused after stuck presses", after["st"] == "paused", "bool", 1, 0)
    hil_record.within("steps while stuck", after["steps"] - paused["steps"], "steps", 0, 0)
    hil_record.within("resume events", len(pump.events_seen("resume")), "events", 0, 0)
    rig.press("pause", 2500)  # a clean long press still works: the button was not dead
    hil_record.within("resumed by a clean long press", pump.status()["st"] == "running",
                      "bool", 1, 0)

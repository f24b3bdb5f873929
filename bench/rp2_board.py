# Runs on the emulated Pico (the real MicroPython rp2 port), sent over the raw REPL by bench/rp2.py
# the firmware as pumpctl flash installed it, measured from inside. Prints one JSON line.
import gc
import json
import time

import board

from pumpfw import protocol as P
from pumpfw import schedule as S
from pumpfw.app import FAULT_DRIVE, App
from pumpfw.hw.mcu import Hardware

MODE = "__MODE__"  # "ticks" or "rate:<steps per mL>"
SECONDS = int("__SECONDS__")
TICKS_RATE_UL_H = 300_000  # the tick figures' rate: 300 mL/h (1 333 steps/s at 16 000/mL)


def run_loop(app, hw, seconds, on_tick=None):
    """The board loop (runner.run's body), for `seconds` of board time."""
    end = time.ticks_add(time.ticks_ms(), seconds * 1000)
    while time.ticks_diff(end, time.ticks_ms()) > 0:
        if on_tick is None:
            app.step()
        else:
            on_tick()
        wait_ms = app.next_wake_ms() - app.clock.ms
        if wait_ms > 0:
            hw.idle(wait_ms if wait_ms < 1000 else 1000)


def fixed_rate_app():
    """Hardware and an App whose one infusion runs at a constant 300 mL/h (the stock
    regimen's fastest is 200 mL/h)."""
    hw = Hardware(board)
    fixed = S.Program(((TICKS_RATE_UL_H, S.UNTIL_DONE),), 3, 0)
    return hw, App(hw, S.Regimen("bench-300", 250_000, (fixed,)))


def ticks():
    gc.collect()
    before = gc.mem_free()
    hw, app = fixed_rate_app()
    gc.collect()
    heap_free = gc.mem_free()
    app.controller.start(app.clock.read(), 1)
    durations = []
    allocs = []
    quiet = []  # no record formatted, no journal written, no output pending: the plain tick

    def timed():
        due_ms = app.records.next_ms  # (read, not asked: due() would take the record)
        plain = app.out.used == 0 and 0 <= app.clock.read() < due_ms
        writes = app.journal.writes
        a = gc.mem_alloc()
        t = time.ticks_us()
        app.step()
        durations.append(time.ticks_diff(time.ticks_us(), t))
        allocs.append(gc.mem_alloc() - a)
        quiet.append(1 if plain and app.journal.writes == writes else 0)

    gc.disable()  # a collection inside a tick would hide what that tick allocated
    try:
        run_loop(app, hw, SECONDS, timed)
    finally:
        gc.enable()
        app.shutdown()
    return {"heap_free_before_app": before, "heap_free_after_start": heap_free,
            "tick_us": durations, "alloc": allocs, "quiet": quiet,
            "rate_ul_h": TICKS_RATE_UL_H}


def rate(steps_per_ml):
    board.STEPS_PER_ML = steps_per_ml
    board.MAX_STEP_HZ = 200_000  # the loop's limit is measured here, not the board's ceiling
    hw = Hardware(board)
    app = App(hw)
    app.controller.start(app.clock.read(), 3)  # 200 mL/h
    busy = [0]
    underruns = [0]
    event = app.console.event

    def counting(code, now_ms, a, b):
        if code == P.EV_FAULT and a == FAULT_DRIVE:
            underruns[0] += 1  # the drive ran dry (or clamped): the loop did not keep up
        event(code, now_ms, a, b)

    app.console.event = counting

    def timed():
        t = time.ticks_us()
        app.step()
        busy[0] += time.ticks_diff(time.ticks_us(), t)

    run_loop(app, hw, SECONDS, timed)
    app.drive.set_rate(0, app.clock.ticks_us_at(app.clock.read()))
    made = app.drive.steps_made()
    app.shutdown()
    return {"steps_per_ml": steps_per_ml, "made": made, "busy_us": busy[0],
            "drive_faults": underruns[0]}


def profile():
    """Where a tick's time goes: the ticks() run with each part of App.step() timed (each
    wrapper costs ~150 us a call itself, so compare the parts, not the total with tick_us)."""
    hw, app = fixed_rate_app()
    spent = {}
    calls = {}

    def wrap(obj, name, label):
        if obj is None or not hasattr(obj, name):
            return
        inner = getattr(obj, name)
        spent[label] = 0
        calls[label] = 0

        def timed(*args):
            t = time.ticks_us()
            r = inner(*args)
            spent[label] += time.ticks_diff(time.ticks_us(), t)
            calls[label] += 1
            return r

        setattr(obj, name, timed)

    for obj, name in ((app.drive, "steps_made"), (app.controller, "tick"),
                      (getattr(app, "presses", None), "poll"), (hw.port, "read_into"),
                      (app.watch, "poll"), (app, "begin_run"), (app.wa, "save_due"),
                      (app, "_service"), (app, "_save"), (app.alarms, "poll"),
                      (app.annunciator, "update"), (app.records, "due"),
                      (app.console, "record"), (app.out, "drain"), (hw, "wdt_feed"),
                      (app.clock, "read"), (app, "next_wake_ms")):
        wrap(obj, name, type(obj).__name__ + "." + name)
    app.controller.start(app.clock.read(), 1)
    total = [0, 0]

    def timed_step():
        t = time.ticks_us()
        app.step()
        total[0] += time.ticks_diff(time.ticks_us(), t)
        total[1] += 1

    run_loop(app, hw, SECONDS, timed_step)
    app.shutdown()
    return {"step_us": total[0], "ticks": total[1], "spent_us": spent, "calls": calls,
            "rate_ul_h": TICKS_RATE_UL_H}


if MODE == "ticks":
    result = ticks()
elif MODE == "profile":
    result = profile()
else:
    result = rate(int(MODE.split(":")[1]))
print("\nBENCH " + json.dumps(result))  # on a line of its own, whatever the app printed

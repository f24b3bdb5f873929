"""Figures on the real MicroPython rp2 port (the emulated Pico, docs/emulated-pico.md), with the
firmware as `pumpctl flash` installs it: flash time, free heap, tick time and allocation, the
highest step rate the loop sustains, stop latency at the pin, emulated s per wall s and, with
--full, a whole infusion 3 counted at the pin. Metric names start with rp2_."""

import bisect
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.results import metric, not_measured
from host_tools.link.client import Client
from host_tools.pico import picoboard as pico_board
from host_tools.pico.picoboard import PicoBoard

BOARD_SCRIPT = Path(__file__).with_name("rp2_board.py")
CLOCK_MHZ = 125
INFUSION3_STEPS = 250 * 16_000  # 250 mL at boards/pico.py's 16 000 steps/mL
INFUSION3_MAX_MIN = 90  # its 75 min, and then some: still running after that is a failure
RATE_SPM = (16_000, 45_000, 90_000, 180_000, 360_000, 720_000)  # 200 mL/h -> 0.9-40 k steps/s


def _board_run(image, mode, seconds):
    """rp2_board.py on a Pico booted from image; its JSON result."""
    from mpremote.transport_serial import SerialTransport

    script = BOARD_SCRIPT.read_text().replace("__MODE__", mode)
    script = script.replace("__SECONDS__", str(seconds))
    with PicoBoard(image=image, fast=True) as pico:
        with Client(pico.serial_url, timeout_s=30) as c:
            c.identify()
            c.command("repl")  # the pump leaves its loop; mpremote takes the REPL
        transport = SerialTransport(pico.pty, baudrate=115200)
        try:
            transport.enter_raw_repl(soft_reset=False)
            ret, err = transport.exec_raw(script, timeout=seconds * 20 + 120)
            if err:
                raise RuntimeError("the bench script failed on the board: " + err.decode())
            out = ret.decode(errors="replace")
        finally:
            transport.close()
    for line in out.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError("the board printed no result:\n" + out[-2000:])


def _client_bench(pico, timeout_s=60):
    c = Client(pico.serial_url, timeout_s=timeout_s)
    c.connect()
    c.identify()
    return c


def _run(c, name, *args):
    msg = c.command(name, *args)
    if msg.kind == "ask":
        msg = c.confirm(msg)
    return msg


def _busy_pct(before, after):
    """Emulated CPU time not asleep over emulated time, in %, between two status() replies."""
    return 100 * (after["cpu_busy_us"] - before["cpu_busy_us"]) / max(
        1, after["vtime_us"] - before["vtime_us"])


def _speed_and_latency(image, seconds):
    """Emulated s per wall s during infusion 3 (fast mode) and the CPU's busy share meanwhile,
    then a pause: its latency at the pin from the bytes' arrival."""
    with PicoBoard(image=image, scale=1, pty=False) as pico:
        c = _client_bench(pico)
        _run(c, "start", 3)
        pico.advance_ms(1000, after_rx=c.sent_bytes)
        t0, s0 = time.perf_counter(), pico.status()
        pico.advance_ms(seconds * 1000, timeout_s=seconds * 10 + 60)
        wall = time.perf_counter() - t0
        s1 = pico.status()
        emulated = (s1["vtime_us"] - s0["vtime_us"]) / 1e6
        busy = _busy_pct(s0, s1)
        arrival = pico.status()["vtime_us"]
        c.send("pause")
        pico.advance_ms(300, after_rx=c.sent_bytes)
        edges = [t for t, gpio, level in pico.gpio_edges(arrival - 20_000) if gpio == 2 and level]
        c.close()
    return emulated / wall, (edges[-1] - arrival) / 1000, edges[-1] - edges[-2], busy


def _idle_host_cpu(image, seconds):
    """Host CPU of the harness process (% of one core) while it serves an idle flashed Pico at
    --scale 1 (the pump loop up, no infusion, no client reading beyond the check)."""
    with PicoBoard(image=image, scale=1, pty=False) as pico:
        c = _client_bench(pico, timeout_s=120)  # booted and answering
        c.close()
        time.sleep(2)
        t0, s0 = time.perf_counter(), pico.status()
        time.sleep(seconds)
        wall = time.perf_counter() - t0
        s1 = pico.status()
    cpu_pct = 100 * (s1["host_cpu_us"] - s0["host_cpu_us"]) / 1e6 / wall
    return cpu_pct, (s1["vtime_us"] - s0["vtime_us"]) / 1e6 / wall, _busy_pct(s0, s1)


class PinLog:
    """Every line that carries `steps` against the STEP edges the pin had made at its t_ms,
    read chunk by chunk (the harness keeps the last 200 000 edges): the largest difference."""

    def __init__(self, pico, client):
        self.pico = pico
        self.client = client
        self.origin_us = pico.status()["boot_us"] + client.command("id").fields["t0_us"]
        self.edges = []  # rising STEP edges (world us) of the last two reads
        self.before = 0  # edges before self.edges[0]
        self.worst = (0, "")
        self.lines = 0
        self.start_lag_steps = None
        self.state = None

    def read(self):
        since = self.edges[-1] + 0.5 if self.edges else 0
        new = [t for t, gpio, level in self.pico.gpio_edges(since) if gpio == 2 and level]
        keep = self.edges[-2_000:]  # lines lag their t_ms by far less than 2 000 steps
        self.before += len(self.edges) - len(keep)
        self.edges = keep + new
        while True:
            backlog = self.client.backlog
            msg = backlog.popleft() if backlog else self.client.read_message(0.05)
            if msg is None:
                return
            f = msg.fields
            if msg.kind == "rec":
                self.state = f["st"]
            if msg.kind == "ev" and msg.name == "rate" and self.start_lag_steps is None \
                    and f.get("rate_ul_h", 0) > 0:
                us_per_step = 3.6e12 / (f["rate_ul_h"] * 16_000)
                first = self.edges[0] if self.edges else None
                since_us = self.origin_us + f["since_ms"] * 1000
                if first is not None and first >= since_us - us_per_step:
                    self.start_lag_steps = (first - since_us - us_per_step) / us_per_step
            if msg.kind in ("rec", "ok") and "steps" in f and "t_ms" in f:
                t_us = self.origin_us + f["t_ms"] * 1000
                pin = self.before + bisect.bisect_right(self.edges, t_us)
                self.lines += 1
                if abs(f["steps"] - pin) >= self.worst[0]:
                    self.worst = (abs(f["steps"] - pin), "%s %s t_ms=%d steps=%d pin=%d" % (
                        msg.kind, msg.name, f["t_ms"], f["steps"], pin))


def _pin_log(image, minutes, interval_ms, flash_times="typical"):
    """Infusion 3 for `minutes` (0: to its end): every line vs the pin."""
    with PicoBoard(image=image, scale=1, pty=False, flash_times=flash_times) as pico:
        c = _client_bench(pico, timeout_s=120)
        log = PinLog(pico, c)
        _run(c, "interval", interval_ms)
        _run(c, "start", 3)
        t0 = time.perf_counter()
        for _ in range(minutes * 6 if minutes else INFUSION3_MAX_MIN * 6):
            pico.advance_ms(10_000, timeout_s=3600, after_rx=c.sent_bytes)  # then held
            log.read()
            if log.state not in ("running", None):
                break
        wall = time.perf_counter() - t0
        pin = pico.status()["steps"]
        c.close()
    return log, pin, wall


STEP_PIN = 2  # boards/pico.py
STEP_US = 1125  # 200 mL/h at 16 000 steps/mL
DEBOUNCE_MS = 25  # pumpfw.buttons.Button.debounce_ms


def _edges_after(pico, t_us):
    return [t for t, gpio, level in pico.gpio_edges(t_us) if gpio == STEP_PIN and level]


def _input_stops(image, preset):
    """On a held Pico at one flash preset: a 200 ms PAUSE press and a typed `pause`, each
    1.2 s into infusion 3. Returns (ms from the press to the last STEP edge, edges after the
    press, ms from the typed line's arrival to the last edge)."""
    with PicoBoard(image=image, hold=True, pty=False, flash_times=preset) as pico:
        c = Client(pico.serial_url, timeout_s=0.2)
        c.connect()
        pico.advance_ms(3000)
        out = []
        for how in ("press", "typed"):
            for name, args in (("stop", ()), ("start", (3,))):
                ref = c.send(name, *args)
                for _ in range(200):
                    pico.advance_ms(20, after_rx=c.sent_bytes)
                    msg = c.read_message(0.05)
                    while msg is not None and msg.ref != ref:
                        msg = c.read_message(0.05)
                    if msg is not None:
                        if msg.kind == "ask":
                            ref = c.send("confirm", msg.fields["token"])
                            continue
                        break
            pico.advance_ms(1200, after_rx=c.sent_bytes)
            t_us = pico.status()["vtime_us"]
            if how == "press":
                pico.press("pause")
                pico.advance_ms(200)
                pico.release("pause")
            else:
                c.send("pause")
            pico.advance_ms(300, after_rx=c.sent_bytes)
            edges = _edges_after(pico, t_us)
            out.append(((edges[-1] - t_us) / 1000 if edges else 0.0, len(edges)))
        c.close()
    return out[0][0], out[0][1], out[1][0]


def _input_metrics(image):
    runs = {preset: _input_stops(image, preset) for preset in ("typical", "max")}
    worst = [max(r[i] for r in runs.values()) for i in range(3)]
    each = "; ".join("%s flash times: %.2f ms, %d edges, typed %.2f ms" % (p, *r)
                     for p, r in runs.items())
    steps_limit = (DEBOUNCE_MS * 1000 + STEP_US) // STEP_US
    return {
        "rp2_button_stop_ms": metric(
            round(worst[0], 2), "ms", DEBOUNCE_MS + STEP_US / 1000,
            "PAUSE held 200 ms, 1.2 s into infusion 3 (200 mL/h): press to the last STEP edge at "
            "the pin, the worse of the two flash presets (%s); limit: the debounce window plus "
            "one step interval (docs/buttons.md)" % each),
        "rp2_button_stop_steps": metric(
            worst[1], "steps", steps_limit,
            "STEP edges at the pin after that press (the worse preset); limit: the steps of the "
            "debounce window plus one step interval"),
        "rp2_serial_stop_ms": metric(
            round(worst[2], 2), "ms", STEP_US / 1000 + 1,
            "a typed `pause`, 1.2 s into infusion 3: its last byte's arrival to the last STEP "
            "edge (the worse preset); limit: one step interval + 1 ms (issue 18)"),
    }


def _whole_infusion(image):
    with PicoBoard(image=image, scale=1, pty=False) as pico:
        c = _client_bench(pico, timeout_s=120)
        _run(c, "interval", 60_000)  # a record a minute: the run is about the pin, not the log
        _run(c, "start", 3)
        s0 = pico.status()
        t0 = time.perf_counter()
        state = "running"
        for _ in range(INFUSION3_MAX_MIN // 5):  # bounded: a pump that never ends is a result
            pico.advance_ms(5 * 60_000, timeout_s=3600, after_rx=c.sent_bytes)
            pico.set_scale(1)
            state = c.status()["st"]
            if state != "running":
                break
        wall = time.perf_counter() - t0
        s1 = pico.status()
        pin = s1["steps"]
        c.close()
    return state, pin, wall, _busy_pct(s0, s1), (s1["vtime_us"] - s0["vtime_us"]) / 1e6 / wall


LOAD = [0.0]


def _pin_metrics(image, full):
    """rp2_start_lag_steps and rp2_log_vs_pin_max_steps (docs/emulated-pico.md)."""
    out = {}
    for preset in ("typical", "max"):
        minutes = 0 if full and preset == "typical" else 1
        log, pin, wall = _pin_log(image, minutes, 1000, preset)
        what = "a whole infusion 3" if minutes == 0 else "the first %d min of infusion 3" % minutes
        suffix = "" if preset == "typical" else "_flash_max"
        lag = log.start_lag_steps
        out["rp2_start_lag_steps" + suffix] = metric(
            None if lag is None else round(lag, 2), "steps", 1,
            "first STEP edge after the reported start (`ev rate since_ms`, on the harness clock "
            "through the hello's t0_us) minus one step interval, in steps at 200 mL/h, flash "
            "times %s; limit: 1 step (the start instant is true)" % preset,
            ok=lag is not None and abs(lag) <= 1)
        out["rp2_log_vs_pin_max_steps" + suffix] = metric(
            log.worst[0], "steps", 1,
            "largest |steps reported - STEP edges at that t_ms| over every rec/ok line (%d "
            "lines, a record a second) of %s, flash times %s, %d edges at the pin, %.0f s "
            "wall; worst: %s; limit 1 step" % (log.lines, what, preset, pin, wall, log.worst[1]))
    return out


def measure(quick=False, full=False):
    import os

    LOAD[0] = os.getloadavg()[0]
    why = pico_board.missing()
    if why:
        return {"rp2_flash_s": not_measured("s", why)}
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-rp2-") as tmp:
        image = str(Path(tmp) / "flashed.bin")
        t0 = time.perf_counter()
        rc, text = pico_board.flash_new_board(image)
        if rc != 0:
            return {"rp2_flash_s": not_measured("s", "pumpctl flash failed: " + text[-300:])}
        out["rp2_flash_s"] = metric(
            round(time.perf_counter() - t0, 1), "s", None,
            "wall time of `pumpctl flash --board pico` on a factory-fresh emulated Pico (stock "
            "v1.27.0 image, blank littlefs): mpy-cross, mpremote copy over the raw REPL, reset, "
            "banner check")
        ticks = _board_run(image, "ticks", 5 if quick else 30)
        out.update(_tick_metrics(ticks))
        seconds = 2 if quick else 5
        out.update(_rate_metrics([_board_run(image, "rate:%d" % spm, seconds)
                                  for spm in (RATE_SPM[:2] if quick else RATE_SPM)], seconds))
        speed, latency_ms, interval_us, busy = _speed_and_latency(image, 10 if quick else 60)
        out["rp2_emulated_s_per_wall_s"] = metric(
            round(speed, 2), "x", None,
            "emulated seconds per wall second during infusion 3 (200 mL/h, records every 1 s), "
            "harness in fast mode; goal >= 20 on a 2-core machine (the loop sleeps between "
            "ticks, and a sleeping core costs the harness nothing); depends on the host's load "
            "(1-min load average when the family began: %.1f)" % LOAD[0], ok=speed >= 20)
        out["rp2_stop_latency_ms"] = metric(
            round(latency_ms, 2), "ms", round(interval_us / 1000 + 10, 2),
            "from a pause's bytes reaching the board's USB to the last STEP rising edge at the "
            "pin, at 200 mL/h (a step every %.0f us); limit: one step interval + 10 ms of "
            "handling (docs/safety.md)" % interval_us)
        idle_cpu, idle_speed, idle_busy = _idle_host_cpu(image, 10 if quick else 60)
        out["rp2_idle_host_cpu_pct"] = metric(
            round(idle_cpu, 2), "%", 5,
            "host CPU of the harness (node) serving an idle flashed Pico at --scale 1, over %d s "
            "of wall time (process CPU time / wall time, one core = 100); the emulated CPU was "
            "busy %.2f%% of that time, emulated time ran at %.2fx" % (
                10 if quick else 60, idle_busy, idle_speed))
        out.update(_pin_metrics(image, full))
        out.update(_input_metrics(image))
        busy_how = ("emulated CPU time not asleep (not in WFI/WFE) / emulated time, %s")
        if full:
            state, pin, wall, busy3, speed3 = _whole_infusion(image)
            out["rp2_infusion3_pin_steps"] = metric(
                pin, "steps", INFUSION3_STEPS,
                "STEP edges counted at the pin over a whole infusion 3 (%s after %.0f s wall, "
                "%.1f emulated s per wall s); must equal 250 mL x 16 000 steps/mL exactly" % (
                    state, wall, speed3),
                ok=pin == INFUSION3_STEPS and state == "complete")
            out["rp2_cpu_busy_pct"] = metric(
                round(busy3, 3), "%", 1, busy_how % (
                    "over the whole infusion 3 (200 mL/h, a record a minute), %s" % state))
        else:
            out["rp2_cpu_busy_pct"] = metric(
                round(busy, 3), "%", 1, busy_how % (
                    "over %d s of infusion 3 (200 mL/h, a record a second); FULL=1 takes the "
                    "whole infusion" % (10 if quick else 60)))
    return out


def _tick_metrics(r):
    us = sorted(r["tick_us"])
    steady = sorted(r["alloc"])
    quiet = [a for a, q in zip(r["alloc"], r["quiet"]) if q]
    how = ("App.step() on the real rp2 port (emulated Pico at 125 MHz), the board loop idling "
           "between ticks, an infusion at %d mL/h and 16 000 steps/mL (%d steps/s), records "
           "every 1 s, %d ticks" % (r["rate_ul_h"] // 1000, r["rate_ul_h"] * 16 // 3600,
                                     len(us)))
    return {
        "rp2_heap_free_after_start_bytes": metric(
            r["heap_free_after_start"], "bytes", None,
            "gc.mem_free() after Hardware + App came up (gc.collect first), firmware as .mpy "
            "from pumpctl flash; %d bytes free before the App" % r["heap_free_before_app"]),
        "rp2_tick_us_median": metric(
            statistics.median(us), "us", 1000,
            "%s; = %d CPU cycles" % (how, statistics.median(us) * CLOCK_MHZ)),
        "rp2_tick_us_max": metric(
            us[-1], "us", None, "%s; = %d CPU cycles (the slowest: a journal write with its "
            "flash program/erase, or a record)" % (how, us[-1] * CLOCK_MHZ)),
        "rp2_alloc_bytes_per_tick": metric(
            statistics.median(quiet) if quiet else None, "bytes", 0,
            "median gc.mem_alloc() growth of the %d ticks without a record, journal write or "
            "output pending (gc disabled meanwhile); over all %d ticks: mean %.1f bytes, most "
            "%d (a journal write)" % (len(quiet), len(steady), statistics.mean(steady),
                                       steady[-1])),
    }


def _rate_metrics(runs, seconds):
    best = None
    rows = []
    for r in runs:
        rate_hz = 200_000 * r["steps_per_ml"] / 3.6e6
        rows.append("%.0f steps/s: %d faults, loop busy %.0f%%" % (
            rate_hz, r["drive_faults"], 100 * r["busy_us"] / (seconds * 1e6)))
        if r["drive_faults"] == 0:
            best = rate_hz
    return {"rp2_max_step_rate_hz": metric(
        best, "steps/s", None,
        "highest step rate the App's loop kept the PIO fed at with no drive fault (underrun), "
        "tried: %s; the board's own ceiling is MAX_STEP_HZ" % "; ".join(rows))}


def profile(image=None, seconds=10):
    """Where the App's tick goes on the board (rp2_board.py's profile mode): one line a part,
    the most expensive first. A fresh flash unless image (a dump pumpctl flash made) is given."""
    with tempfile.TemporaryDirectory() as tmp:
        if image is None:
            image = Path(tmp) / "flashed.bin"
            rc, out = pico_board.flash_new_board(image)
            if rc:
                raise RuntimeError("pumpctl flash failed:\n" + out)
        r = _board_run(image, "profile", seconds)
    lines = ["%d ticks in %d s of infusion at %d uL/h, App.step() %d us in all (%.2f %% busy)"
             % (r["ticks"], seconds, r["rate_ul_h"], r["step_us"],
                100 * r["step_us"] / (seconds * 1e6))]
    for part, us in sorted(r["spent_us"].items(), key=lambda kv: -kv[1]):
        lines.append("%9d us %6d calls  %s" % (us, r["calls"][part], part))
    return lines


if __name__ == "__main__":
    if "--profile" in sys.argv:
        print("\n".join(profile(sys.argv[-1] if sys.argv[-1].endswith(".bin") else None)))
    else:
        print(json.dumps(measure(quick="--quick" in sys.argv, full="--full" in sys.argv),
                         indent=1))

"""MicroPython-lane figures: heap after start, bytes allocated per control tick and per button
IRQ, and the control tick's time on the WebAssembly VM next to a reference loop."""

import json
import shutil
import subprocess
from pathlib import Path

from bench.results import median, metric, not_measured

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "mpy_run.mjs"
PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


def run_vm(calls=5000, reps=7, infusion=3, timeout_s=300):
    """The raw figures of bench/mpy_run.mjs (a dict), or raise RuntimeError."""
    if shutil.which("node") is None or not PACKAGE.is_dir():
        raise RuntimeError("needs node and the MicroPython WebAssembly package (make deps)")
    proc = subprocess.run(["node", str(SCRIPT), str(calls), str(reps), str(infusion)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError("mpy_run.mjs failed: %s" % proc.stderr.strip()[-500:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _where(raw):
    return ("real pumpfw.app.App on a fake board (bench/mpy_app.py) in MicroPython 1.29 "
            "WebAssembly under Node, infusion 3 at 200 mL/h, 1600 steps/mL (%s), 1 ms per tick, "
            "no record or journal due" % raw["state"])


def measure(calls=5000, reps=7, infusion=3):
    names = ("alloc_bytes_per_tick", "alloc_bytes_per_irq", "heap_after_start_bytes",
             "control_tick_us_mpy", "reference_op_us_mpy", "control_tick_to_reference_ratio")
    units = ("bytes", "bytes", "bytes", "us", "us", "x")
    try:
        raw = run_vm(calls, reps, infusion)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return {n: not_measured(u, str(exc)) for n, u in zip(names, units)}
    where = _where(raw)
    parts = raw["parts_bytes_per_call"]
    allocating = ", ".join("%s %g" % (k, round(v, 2)) for k, v in sorted(parts.items())
                           if v and k != "step() total")
    n = raw["calls"]
    ticks = [t - e for t, e in zip(raw["tick_us"], raw["empty_us"])]
    refs = [r - e for r, e in zip(raw["ref_us"], raw["empty_us"])]
    ratios = [t / r for t, r in zip(ticks, refs)]
    return {
        "alloc_bytes_per_tick": metric(
            round(raw["tick_bytes"] / n, 2), "bytes", 0,
            "gc.mem_alloc() growth over %d App.step() calls / %d, gc disabled; %s. Parts alone, "
            "bytes per call: %s" % (n, n, where, allocating or "none")),
        "alloc_bytes_per_irq": metric(
            round(raw["irq_bytes"] / n, 2), "bytes", 0,
            "gc.mem_alloc() growth over %d calls of the IRQ handler the App registered on the "
            "pause pin (Button.irq) / %d; %s" % (n, n, where)),
        "heap_after_start_bytes": metric(
            raw["heap_after_start_bytes"], "bytes", None,
            "gc.mem_alloc() after gc.collect(), once the App is built, started and ticked 40 "
            "times: pumpfw modules compiled from source (in RAM) + App objects (%d bytes of it); "
            "an empty VM holds %d; %s" % (raw["app_bytes"], raw["vm_baseline_bytes"], where)),
        "control_tick_us_mpy": metric(
            round(median(ticks), 2), "us", None,
            "wall time of one App.step() on the VM, timed from Node around %d ticks minus the "
            "same loop without step(), median of %d reps; %s" % (n, len(ticks), where)),
        "reference_op_us_mpy": metric(
            round(median(refs), 3), "us", None,
            "one reference iteration on the same VM (a ticks_diff call + 4 small-int adds), "
            "loop cost removed the same way, median of %d reps" % len(refs)),
        "control_tick_to_reference_ratio": metric(
            round(median(ratios), 1), "x", None,
            "control tick / reference iteration, per rep side by side (ticks, reference and "
            "empty loops alternate), median of %d: a proxy for MCU cost" % len(ratios)),
    }

"""make_test_seconds: wall time of `make test`. Opt-in (make bench FULL=1) since it takes minutes;
otherwise the last measured figure is carried over from bench/results.json, with its date."""

import subprocess
import time
from pathlib import Path

from bench.results import metric, not_measured

ROOT = Path(__file__).resolve().parents[1]
NAME = "make_test_seconds"


def measure(full, previous):
    """full: run `make test` once now. Else reuse previous[NAME] if it was measured."""
    if full:
        t0 = time.perf_counter()
        proc = subprocess.run(["make", "test"], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        summary = [ln for ln in proc.stdout.splitlines() if " passed" in ln or " failed" in ln]
        tail = "; ".join(ln.strip()[-100:] for ln in summary[-2:])
        return {NAME: metric(
            round(wall, 1), "s", None,
            "wall time of one `make test` (pytest -n auto: CPython, the MicroPython lane, the "
            "emulated Pico), exit "
            "status %d; %s" % (proc.returncode, tail),
            ok=None, exit_status=proc.returncode,
            measured_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))}
    last = previous.get(NAME) or {}
    if last.get("value") is not None and last.get("measured_at"):
        carried = dict(last)
        if "carried over" not in carried["how"]:
            carried["how"] = ("carried over from the run of %s (make bench FULL=1 re-measures): "
                              "%s" % (last["measured_at"], last["how"]))
        return {NAME: carried}
    return {NAME: not_measured("s", "not measured: opt-in, run `make bench FULL=1`")}

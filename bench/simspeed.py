"""sim_speedup: virtual time / wall time of infusion 1 on the virtual board in fast mode (the real
firmware on real MicroPython), with 1 s and 10 s record intervals, side by side in one run."""

import time

from bench.results import median, metric, not_measured
from bench.simline import SimLine
from host_tools.sim.simboard import SimBoard

POLL_S = 0.05  # the host polls the status this often (wall time) to see the infusion end
GOAL_1S = 4000  # x real time with the default 1 s records (issue 14.7): ok means at least this


def one_run(infusion, interval_ms, sim_factory=SimBoard, timeout_s=300):
    """(virtual ms, wall s, ticks, bytes received) from `start` until every step is made."""
    with sim_factory(hold=True, pty=False) as sim, SimLine(sim) as line:
        line.command("interval", interval_ms)
        sim.advance_ms(10)
        spm = sim.status()["steps_per_ml"]
        line.command("start", infusion)
        first = sim.status()
        wall0 = time.perf_counter()
        sim.set_fast()
        deadline = wall0 + timeout_s
        while True:
            status = sim.status()
            if status["steps"] >= 250 * spm:
                break
            stalled = status["steps"] == first["steps"] and status["vtime_ms"] > 600_000
            if status["crashed"] or stalled or time.perf_counter() > deadline:
                raise RuntimeError("infusion %d did not %s on the virtual board"
                                   % (infusion, "start" if stalled else "complete"))
            time.sleep(POLL_S)
        wall = time.perf_counter() - wall0
        sim.hold()
        return (status["vtime_ms"] - first["vtime_ms"], wall, status["ticks"] - first["ticks"],
                line.received)


def measure(runs=3, intervals_ms=(1_000, 10_000), infusion=1, sim_factory=SimBoard):
    out = {}
    samples = {iv: [] for iv in intervals_ms}
    try:
        for _ in range(runs):  # interleaved, so both intervals see the same machine state
            for iv in intervals_ms:
                samples[iv].append(one_run(infusion, iv, sim_factory))
    except (OSError, RuntimeError) as exc:
        for iv in intervals_ms:
            out["sim_speedup_%ds_records" % (iv // 1000)] = not_measured(
                "x", "the virtual board did not run: %s" % exc)
        return out
    for iv, runs_ in samples.items():
        speedups = [v / 1000 / w for v, w, _, _ in runs_]
        k = speedups.index(median(speedups)) if len(runs_) % 2 else 0
        v_ms, wall, ticks, nbytes = runs_[k]
        value = round(median(speedups), 1)
        goal = GOAL_1S if iv == 1_000 else None
        how = ("infusion %d in --fast, %d ms record interval, the host reading the serial: "
               "virtual time / wall time from `start` to the last step, median of %d (a median "
               "run: %.1f virtual min in %.2f s wall, %d ticks, %d bytes of output); wall "
               "includes up to %g s of status polling" % (infusion, iv, len(runs_),
                                                          v_ms / 60_000, wall, ticks, nbytes,
                                                          POLL_S))
        if goal:
            how += "; ok: at least %dx" % goal
        out["sim_speedup_%ds_records" % (iv // 1000)] = metric(
            value, "x", goal, how, ok=None if goal is None else value >= goal)
    return out

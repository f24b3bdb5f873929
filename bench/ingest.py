"""log_ingest_records_per_s: host_tools.logs.load of a large capture (records framed by the real
protocol encoders from the real controller) next to pandas.read_csv of the same records."""

import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.results import median, metric
from host_tools import logs
from host_tools.logs import capfile
from pumpfw import controller as ctl
from pumpfw import preview
from pumpfw import protocol as P
from pumpfw.schedule import DEFAULT_REGIMEN

HOST_NS0 = 1_800_000_000 * 10**9
GOAL_RATIO = round(1 / 3, 3)  # issue 13: logs.load within 3x of pandas.read_csv
STEPS_PER_ML = 1_600


def write_capture(path, n_records, interval_ms=1_000):
    """Infusions 1, 2, 3, 1, ... on the controller with an ideal pump, one `rec` line every
    interval_ms (plus the events), until n_records records. Returns the lines written."""
    regimen = DEFAULT_REGIMEN
    lines = []
    seq = [0]

    def emit(t_ms, body):
        lines.append((t_ms, P.frame(seq[0], body)))
        seq[0] = (seq[0] + 1) % P.SEQ_MOD

    c = ctl.Controller(regimen, regimen.max_rate_ul_h(),
                       lambda code, t, a, b: emit(t, P.encode_event(code, t, a, b)))
    now, records, infusion = 0, 0, 1
    while records < n_records:
        pump = preview.IdealPump(regimen.volume_ul)
        c.start(now, infusion)
        while c.active() and records < n_records:
            now += interval_ms
            pump.run(c.rate_ul_h, interval_ms)
            c.tick(now, pump.delivered_ul())
            steps = pump.delivered_ul() * STEPS_PER_ML // 1000
            emit(now, P.encode_record(now, c, steps, 0))
            records += 1
        infusion = infusion % 3 + 1
        now += 600_000
    with capfile.CaptureWriter(path, port="virtual", host_ns=HOST_NS0) as w:
        for t_ms, raw in lines:
            w.line(raw, HOST_NS0 + t_ms * 10**6 + 1000)
    return len(lines)


def measure(n_records=200_000, runs=3):
    with tempfile.TemporaryDirectory() as tmp:
        cap = Path(tmp) / "big.cap"
        csv = Path(tmp) / "big.csv"
        n_lines = write_capture(cap, n_records)
        load_s, csv_s = [], []
        for _ in range(runs):  # side by side: each run times both readers
            t0 = time.perf_counter()
            log = logs.load(cap)
            load_s.append(time.perf_counter() - t0)
            n = len(log.records)
            if not csv.exists():
                log.records.to_csv(csv, index=False)
            t0 = time.perf_counter()
            frame = pd.read_csv(csv)
            csv_s.append(time.perf_counter() - t0)
        assert len(frame) == n
        size_mb = cap.stat().st_size / 1e6
    ratios = [c / s for s, c in zip(load_s, csv_s)]
    rate = n / median(load_s)
    return {
        "log_ingest_records_per_s": metric(
            round(rate), "records/s", None,
            "host_tools.logs.load() of a %.1f MB capture (%d lines, %d rec lines from the real "
            "controller + protocol encoders, CRC-checked and sequence-tracked) into DataFrames; "
            "records / wall s, median of %d" % (size_mb, n_lines, n, runs)),
        "log_ingest_vs_read_csv_ratio": metric(
            round(median(ratios), 4), "x", GOAL_RATIO,
            "logs.load speed / pandas.read_csv speed on the same records written as CSV, timed "
            "in the same runs (median of %d; load took %.3f s, read_csv %.3f s); the goal is "
            "within 3x of read_csv: ok means value >= %g" % (runs, median(load_s), median(csv_s),
                                                            GOAL_RATIO),
            ok=bool(median(ratios) >= GOAL_RATIO)),
    }

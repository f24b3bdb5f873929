"""cohort_100k_infusions_s: 100 000 simulated infusions (pumpctl cohort, the paper scenario), each
through the real controller, on every core of this machine."""

import os
import time

from bench.results import metric
from host_tools import cohort

LIMIT_S = 60.0  # issue 13: under a minute on 2 cores


def measure(infusions=100_000, workers=None):
    s = cohort.PAPER
    per_cohort = 880  # about the paper's 871 infusions per cohort of 47
    replicates = max(1, -(-infusions // per_cohort))
    workers = workers or os.cpu_count() or 1
    t0 = time.perf_counter()
    table = cohort.simulate(s, seed=1, replicates=replicates, workers=workers)
    took = time.perf_counter() - t0
    n = len(table)
    scaled = took * infusions / n  # the time for exactly `infusions`, at the measured rate
    return {
        "cohort_100k_infusions_s": metric(
            round(scaled, 2), "s", LIMIT_S,
            "host_tools.cohort.simulate(PAPER, seed=1, replicates=%d) on %d worker processes "
            "(concurrent.futures): %d infusions in %.2f s, each pumpfw.preview.run() (the real "
            "Controller) + the summary row; scaled to %d infusions at the measured rate"
            % (replicates, workers, n, took, infusions)),
        "cohort_infusions_per_s": metric(round(n / took), "infusions/s", None,
                                         "the same run: infusions / wall s"),
    }

"""`make bench`: run every benchmark family, print the table, write bench/results.json.

    python -m bench.run [--full] [--quick] [--only exactness,mpy,...] [--out PATH]

--full also times `make test` (minutes); --quick runs tiny inputs (a smoke run, not figures to
quote). Families run one after the other so timings do not disturb each other.
"""

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from bench import cohortspeed, exactness, image, ingest, make_test, mpy, rp2, simspeed, trumpet
from bench import results as R

FAMILIES = ("exactness", "trumpet", "simspeed", "mpy", "rp2", "image", "ingest", "cohort",
            "make_test")
QUICK_SCENARIOS = [
    ("inf3", 3, []),
    ("inf3 pause, ir3", 3, [(5, "pause"), (6, "resume"), (8, "ir", 3)]),
]


def run_family(name, args, previous):
    if name == "exactness":
        if args.quick:
            return exactness.measure(QUICK_SCENARIOS, seeds=(1,), spm=400, workers=1)
        return exactness.measure()
    if name == "trumpet":
        return trumpet.measure(runs=1 if args.quick else 3)
    if name == "simspeed":
        return simspeed.measure(runs=1 if args.quick else 3)
    if name == "mpy":
        return mpy.measure(calls=200, reps=1) if args.quick else mpy.measure()
    if name == "rp2":
        return rp2.measure(quick=args.quick, full=args.full)
    if name == "image":
        return image.measure(quick=args.quick)
    if name == "ingest":
        return ingest.measure(2_000, 1) if args.quick else ingest.measure()
    if name == "cohort":
        return cohortspeed.measure(2_000 if args.quick else 100_000)
    if name == "make_test":
        return make_test.measure(args.full, previous)
    raise ValueError(name)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="also time `make test`")
    parser.add_argument("--quick", action="store_true", help="tiny inputs (smoke run)")
    parser.add_argument("--only", default="", help="comma-separated families: " +
                        ",".join(FAMILIES))
    parser.add_argument("--out", type=Path, default=R.RESULTS_PATH, help="results JSON path")
    args = parser.parse_args(argv)
    only = [f for f in args.only.split(",") if f] or list(FAMILIES)
    unknown = [f for f in only if f not in FAMILIES]
    if unknown:
        parser.error("unknown families: %s" % ", ".join(unknown))
    previous = R.load(args.out)
    out = {}
    crashed = []
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    for name in FAMILIES:
        if name not in only:
            continue
        t = time.perf_counter()
        print("bench: %s ..." % name, file=sys.stderr, flush=True)
        try:
            out.update(run_family(name, args, previous))
        except Exception as exc:  # one family's failure is a result, and the others still run
            traceback.print_exc()
            crashed.append(name)
            out["%s_family" % name] = R.not_measured(
                "", "the %s family failed: %s: %s" % (name, type(exc).__name__, exc))
        print("bench: %s done in %.1f s" % (name, time.perf_counter() - t), file=sys.stderr)
    R.stamp(out)
    out["_run"].update(seconds=round(time.perf_counter() - t0, 1), quick=args.quick,
                       loadavg_1min_before=round(load_before, 2),
                       loadavg_1min_after=round(os.getloadavg()[0], 2))
    R.write(out, args.out)
    print(R.table(out))
    print("\n%s, %s; %.0f s; written to %s" % (out["_run"]["date"], out["_run"]["machine"],
                                             out["_run"]["seconds"], args.out))
    failed = [k for k, v in out.items() if not k.startswith("_") and v["ok"] is False]
    if failed:
        print("over the limit: %s" % ", ".join(failed))
    if crashed:
        print("failed (see above): %s" % ", ".join(crashed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`pumpctl cohort`: simulate a cohort (or read captures) and set it beside the paper's figures."""

import dataclasses
import sys
import time
import warnings
from pathlib import Path

from host_tools.cohort import engine, paper, scenario
from host_tools.logs import cohortstats, tables
from host_tools.logs.capfile import UserError

ACTIONS = {
    "fit": "fit the declared parameters to their targets, each with an interval over cohorts",
    "validate": "every figure of the paper the model touches: input/fitted/predicted, verdict",
    "sweep": "each assumption over its range: a tornado chart of medians and range ends",
}
DEFAULT_REPLICATES = {"fit": 20, "validate": 20, "sweep": 4}


def argparse_cohort(parser):
    parser.add_argument("logs", nargs="*", metavar="LOG",
                        help="captures, folders or saved tables to report instead of simulating;"
                        " or one of: " + "; ".join("%s: %s" % kv for kv in ACTIONS.items()))
    parser.add_argument("--scenario", default="paper",
                        help="paper (default: calibrated to the seed paper), pump (this pump's"
                        " on-time steps), nominal (the protocol alone), or a JSON file of fields")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--patients", type=int, default=None,
                        help="patients per cohort (default: the scenario's, 47)")
    parser.add_argument("--replicates", type=int, default=None,
                        help="independent cohorts to simulate (default 1; fit and validate"
                        " 20, sweep 4)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes (default: every core)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="a Dask scheduler (tcp://host:8786): run there, same results")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="write cohort.parquet, cohort.csv and scenario.json here (fit,"
                        " validate, sweep: their CSV, Markdown, chart; default cohort-ACTION)")


def do_cohort(args, out=None):
    out = out or sys.stdout
    if args.logs and args.logs[0] in ACTIONS:
        if len(args.logs) > 1:
            raise UserError("cohort %s takes no files (got %s)" % (args.logs[0],
                                                                   " ".join(args.logs[1:])))
        from host_tools.cohort import actions

        replicates = args.replicates
        if replicates is None:
            replicates = DEFAULT_REPLICATES[args.logs[0]]
        if replicates < 2:
            raise UserError("cohort %s needs --replicates >= 2: its intervals are over"
                            " cohorts" % args.logs[0])
        if args.workers is not None and args.workers < 1:
            raise UserError("--workers must be >= 1")
        folder = Path(args.output or "cohort-" + args.logs[0])
        return getattr(actions, args.logs[0])(args.seed, replicates, args.workers, folder,
                                              out)
    if args.replicates is None:
        args.replicates = 1
    if args.logs:
        table = _read(args.logs)
        table = table.assign(replicate=table.get("replicate", 1))
        what = "%d infusions from %s" % (len(table), ", ".join(args.logs))
    else:
        table, what = _simulate(args)
    say = lambda line="": print(line, file=out)  # noqa: E731
    say(what)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", cohortstats.LeftOutWarning)
        side = paper.beside_paper(table)
        patients = paper.per_patient_by_cohort(table)
        open_rows = table[table["outcome"] == "open"]
    for w in {str(w.message) for w in caught}:
        say("warning: " + w)
    if len(open_rows):
        say("warning: %d open infusion(s) (no end seen), listed in the table with outcome"
            " open: %s" % (len(open_rows), ", ".join(
                "%s #%s" % (r["source"], r["index"]) for _, r in open_rows.head(5).iterrows())))
    for line in paper.text(side, patients, "these data" if args.logs else "simulated"):
        say(line)
    say()
    say("patients with an IR %.0f of %.0f; IR episodes per infusions %.1f %% (paper: 20 of 871,"
        " 2.3 %%)" % (patients["patients_with_ir"], patients["patients"],
                      patients["ir_episodes_per_infusions_pct"]))
    for line in paper.impossible(side):
        say("not reachable: " + line)
    if args.output:
        paths = tables.write_table(table, args.output, "cohort")
        side.to_csv(Path(args.output) / "beside_paper.csv", index=False)
        if not args.logs:
            (Path(args.output) / "scenario.json").write_text(args.scenario_used.to_json())
        say("wrote %s" % ", ".join(str(p) for p in paths))
    return 0


def _read(paths):
    table = tables.read_tables(paths)
    if not len(table):
        raise UserError("no infusion in %s" % ", ".join(paths))
    return table


def _simulate(args):
    s = scenario.load(args.scenario)
    if args.patients is not None:
        s = scenario.check(dataclasses.replace(s, patients=args.patients))
    if args.replicates < 1:
        raise UserError("--replicates must be >= 1")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be >= 1")
    args.scenario_used = s
    t0 = time.perf_counter()
    table = engine.simulate(s, args.seed, args.replicates, args.workers, args.dask)
    took = time.perf_counter() - t0
    what = ("simulated %d cohort(s) of %d patients, scenario %s, seed %d: %d infusions, each"
            " through the real controller, in %.1f s"
            % (args.replicates, s.patients, s.name, args.seed, len(table), took))
    return table, what

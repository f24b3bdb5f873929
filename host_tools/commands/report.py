"""`pumpctl report`: the paper's outputs (Table 2, Fig. 2), per-infusion figures, trumpet curve."""

import json
import math
import warnings
from pathlib import Path

import pandas as pd

from host_tools import logs
from host_tools.logs import (
    cohortstats,
    figures,
    infusions,
    paperfigs,
    patienttable,
    series,
    tables,
    trumpet,
)
from host_tools.logs.capfile import UserError

TABLE_COLUMNS = ("index", "infusion", "outcome", "rebuilt", "duration_min", "infusing_min",
                 "n_interruptions", "ir_grades", "delivered_ml")
# Kept for callers of the earlier API: the series and the figure live in their own modules.
rate_series, volume_series, plot_infusion = (series.rate_series, series.volume_series,
                                             figures.plot_infusion)


def argparse_report(parser):
    parser.add_argument("logs", nargs="+", metavar="LOG",
                        help="capture file(s), folder(s), or a table saved by pumpctl cohort")
    parser.add_argument("-o", "--output", default="report", metavar="DIR",
                        help="folder for the tables and figures (default: report)")
    parser.add_argument("--name", default=None,
                        help="this group's name in Table 2 and Fig. 2 (default: from LOG)")
    parser.add_argument("--against", nargs="+", metavar="LOG",
                        help="a second group (captures or a cohort table): Table 2 side by side"
                        " with a two-sided Mann-Whitney U p-value")
    parser.add_argument("--against-name", default=None, help="the second group's name")
    parser.add_argument("--no-figures", action="store_true",
                        help="tables and Fig. 2 only, no per-infusion figure")
    parser.add_argument("--per-patient", metavar="OUT",
                        help="also write the per-patient table to OUT.csv and OUT.parquet"
                        " (cycles, infusions, IRs, median duration; docs/logs.md)")
    parser.add_argument("--whiskers", choices=paperfigs.WHISKERS, default="range",
                        help="Fig. 2's whiskers: range (min-max, default) or iqr")
    parser.add_argument("--balance", metavar="BALANCE_LOG",
                        help="balance CSV (t_s,mass_g) for the trumpet and start-up curves")
    parser.add_argument("--rate-ml-h", type=float, default=None,
                        help="set rate for the trumpet curve (default: read from the log)")
    parser.add_argument("--trumpet-start-min", type=float, default=60.0,
                        help="analysis period start (default 60: the second hour)")
    parser.add_argument("--trumpet-period-min", type=float, default=60.0)


def _group(paths):
    """(summary table, [Infusion] for captures) of one group of paths."""
    parts, items, captures = [], [], []
    for path in paths:
        p = Path(path)
        if p.suffix in tables.TABLE_SUFFIXES and p.is_file():
            parts.append(tables.read_table(p))
        else:
            captures.append(p)
    if captures:  # one Log: an infusion split over two of them is joined, as in a folder
        found = infusions.split(logs.load(*captures))
        items += found
        parts.append(infusions.summary(found))
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return table, items


def _name(given, paths):
    return given or Path(paths[0]).stem or str(paths[0])


def do_report(args):
    table, items = _group(args.logs)
    if not len(table):
        raise UserError("no infusion (no `start` event) in %s" % ", ".join(args.logs))
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "infusions.csv", index=False)
    table.to_parquet(out_dir / "infusions.parquet", index=False)
    with open(out_dir / "infusions.json", "w") as f:
        json.dump(json.loads(table.to_json(orient="records", date_format="iso")), f, indent=1)
    shown = [c for c in TABLE_COLUMNS if c in table.columns]
    print(table[shown].head(200).to_string(index=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", cohortstats.LeftOutWarning)
        _paper_outputs(args, table, out_dir, items)
    for message in dict.fromkeys(str(w.message) for w in caught):
        print("warning: " + message)
    if not args.no_figures:
        for k, inf in enumerate(items):
            fig, rate, vol = figures.plot_infusion(inf)
            stem = "infusion_%02d_%d" % (k + 1, inf.row["infusion"])
            figures.save(fig, out_dir, stem)
            rate.to_csv(out_dir / (stem + "_rate.csv"), index=False)
            vol.to_csv(out_dir / (stem + "_volume.csv"), index=False)
    if args.per_patient:
        for path in patienttable.write(patienttable.per_patient(table), args.per_patient):
            print("wrote %s" % path)
    if args.balance:
        if not items:
            raise UserError("--balance needs a capture (the set rate is read from it)")
        balance_report(args, items[0], out_dir)
    print("wrote %s" % out_dir)
    return 0


def data_kind(table, items):
    """How the rows were made, for the figures: a simulated cohort, a virtual board (the real
    firmware on a simulated pump: simulated too) or a board (measured)."""
    if table["source"].astype(str).str.startswith("sim:").any():
        return "simulated"
    boards = {str(b) for inf in items for b in inf.captures["board"].dropna()}
    if "virtual" in boards:
        return "virtual board, simulated"
    return "measured"


def _paper_outputs(args, table, out_dir, items):
    name_b = _name(args.name, args.logs)
    stats_b = cohortstats.cohort(table)
    for _, c in stats_b.iterrows():
        print("infusion %s: median duration %s, n=%d" % (c["infusion_group"], c["text"], c["n"]))
    table_a = name_a = n_a = None
    if args.against:
        table_a, _ = _group(args.against)
        name_a = _name(args.against_name, args.against)
        n_a = cohortstats.n_patients(table_a)
    t2 = cohortstats.table2(table, table_a)
    t2.to_csv(out_dir / "table2.csv", index=False)
    md = cohortstats.table2_markdown(t2, name_b, cohortstats.n_patients(table), name_a, n_a)
    (out_dir / "table2.md").write_text(md)
    print(md, end="")
    simulated = data_kind(table, items)
    figures.save(paperfigs.plot_fig2(table, name_b, simulated, args.whiskers), out_dir, "fig2")
    figures.save(paperfigs.plot_durations(table, name_b, simulated), out_dir, "durations")


def set_rate_from_log(inf, start_min, period_min):
    """The one rate the log shows over the analysis period, or a UserError."""
    rate = series.rate_series(inf)
    before = rate[rate["t_min"] <= start_min]
    during = rate[(rate["t_min"] > start_min) & (rate["t_min"] < start_min + period_min)]
    values = set(during["rate_ml_h"]) | set(before["rate_ml_h"].iloc[-1:])
    if len(values) != 1:
        raise UserError("the set rate is not constant over %g-%g min (%s mL/h): give"
                        " --rate-ml-h or another --trumpet-start-min"
                        % (start_min, start_min + period_min,
                           ", ".join("%g" % v for v in sorted(values))))
    return values.pop()


def balance_report(args, inf, out_dir):
    balance = trumpet.load_balance(args.balance)
    rate = args.rate_ml_h
    if rate is None:
        rate = set_rate_from_log(inf, args.trumpet_start_min, args.trumpet_period_min)
    curve = trumpet.startup_curve(balance, rate)
    table, overall = trumpet.trumpet(balance, rate, args.trumpet_start_min,
                                     args.trumpet_period_min)
    curve.to_csv(out_dir / "startup.csv", index=False)
    table.to_csv(out_dir / "trumpet.csv", index=False)
    fig, ax = figures.plt.subplots(figsize=(7, 4), constrained_layout=True)
    trumpet.plot_startup(ax, curve)
    figures.save(fig, out_dir, "startup")
    fig, ax = figures.plt.subplots(figsize=(7, 4), constrained_layout=True)
    trumpet.plot_trumpet(ax, table, overall)
    figures.save(fig, out_dir, "trumpet")
    print("trumpet curve at %g mL/h, overall error %.2f %%" % (rate, overall))
    for _, row in table.iterrows():
        if not math.isnan(row["ep_max_pct"]):
            print("  P = %2d min: Ep(max) %+.2f %%, Ep(min) %+.2f %%"
                  % (row["window_min"], row["ep_max_pct"], row["ep_min_pct"]))

"""`pumpctl report`: per-infusion table, rate/volume plots, and the balance's trumpet curve."""

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from host_tools import infusions, logs, trumpet  # noqa: E402
from host_tools.capfile import UserError  # noqa: E402

MS_PER_MIN = 60_000
_ZERO_RATE = ("pause", "interrupt", "complete", "stop", "discontinue")
_MARKED = ("pause", "resume", "ir", "ir_resolved", "interrupt", "discontinue", "complete",
           "stop", "reboot", "alarm", "fault")
TABLE_COLUMNS = ("index", "infusion", "outcome", "duration_min", "infusing_min",
                 "n_interruptions", "ir_grades", "delivered_ml")


def rate_series(inf):
    """(t_min since start, rate mL/h) from the log: every record, plus every event that sets the
    rate (rate, resume, pause, interrupt, end), in line order; a step function (steps-post)."""
    t0 = inf.start_t_ms
    points = []
    for _, r in inf.records.iterrows():
        points.append((int(r["t_ms"]), int(r["line_no"]), int(r["rate_ul_h"]), "rec"))
    for _, e in inf.events.iterrows():
        if e["event"] == "rate":
            points.append((int(e["since_ms"]), int(e["line_no"]), int(e["rate_ul_h"]), "ev"))
        elif e["event"] == "resume":
            points.append((int(e["t_ms"]), int(e["line_no"]), int(e["rate_ul_h"]), "ev"))
        elif e["event"] in _ZERO_RATE:
            points.append((int(e["t_ms"]), int(e["line_no"]), 0, "ev"))
    points.sort()
    return pd.DataFrame({"t_min": [(p[0] - t0) / MS_PER_MIN for p in points],
                         "rate_ml_h": [p[2] / 1000 for p in points],
                         "from": [p[3] for p in points]})


def volume_series(inf):
    """(t_min since start, volume mL): every record's vol_ul, plus the end event's vol_ul."""
    t0 = inf.start_t_ms
    points = [(int(r["t_ms"]), int(r["vol_ul"])) for _, r in inf.records.iterrows()]
    for _, e in inf.events.iterrows():
        if e["event"] in ("complete", "stop") and not pd.isna(e["vol_ul"]):
            points.append((int(e["t_ms"]), int(e["vol_ul"])))
    points.sort()
    return pd.DataFrame({"t_min": [(t - t0) / MS_PER_MIN for t, _ in points],
                         "volume_ml": [v / 1000 for _, v in points]})


def plot_infusion(inf):
    """A figure with rate and volume over time, events marked. Caller closes it."""
    rate, vol = rate_series(inf), volume_series(inf)
    fig, (ax_rate, ax_vol) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    ax_rate.plot(rate["t_min"], rate["rate_ml_h"], drawstyle="steps-post", label="rate")
    ax_vol.plot(vol["t_min"], vol["volume_ml"], label="volume")
    marks = {}  # t_min -> labels: events at the same instant share one line
    for _, e in inf.events.iterrows():
        if e["event"] in _MARKED:
            t = (int(e["t_ms"]) - inf.start_t_ms) / MS_PER_MIN
            grade = "" if pd.isna(e["grade"]) else " g%d" % int(e["grade"])
            marks.setdefault(t, []).append(e["event"] + grade)
    for t, labels in marks.items():
        for ax in (ax_rate, ax_vol):
            ax.axvline(t, color="tab:red", linestyle=":", linewidth=1)
        ax_rate.annotate(", ".join(labels), (t, 1), xycoords=("data", "axes fraction"),
                         rotation=90, va="top", ha="right", fontsize=7, color="tab:red")
    row = inf.row
    ax_rate.set_title("infusion %d (#%d in %s): %s, %.1f min, %g mL"
                      % (row["infusion"], row["index"], Path(row["source"]).name,
                         row["outcome"], row["duration_min"], row["delivered_ml"]))
    ax_rate.set_ylabel("rate (mL/h)")
    ax_vol.set_ylabel("volume (mL)")
    ax_vol.set_xlabel("time since start (min)")
    return fig, rate, vol


def _save(fig, out_dir, stem):
    paths = [out_dir / (stem + ".png"), out_dir / (stem + ".svg")]
    for path in paths:
        fig.savefig(path)
    plt.close(fig)
    return paths


def argparse_report(parser):
    parser.add_argument("logs", nargs="+", metavar="LOG", help="capture file(s) or folder(s)")
    parser.add_argument("-o", "--output", default="report", metavar="DIR",
                        help="folder for the table and plots (default: report)")
    parser.add_argument("--balance", metavar="BALANCE_LOG",
                        help="balance CSV (t_s,mass_g) for the trumpet and start-up curves")
    parser.add_argument("--rate-ml-h", type=float, default=None,
                        help="set rate for the trumpet curve (default: read from the log)")
    parser.add_argument("--trumpet-start-min", type=float, default=60.0,
                        help="analysis period start (default 60: the second hour)")
    parser.add_argument("--trumpet-period-min", type=float, default=60.0)


def do_report(args):
    items = []
    for path in args.logs:
        items += infusions.split(logs.load(path))
    if not items:
        raise UserError("no infusion (no `start` event) in %s" % ", ".join(args.logs))
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = infusions.summary(items)
    table.to_csv(out_dir / "infusions.csv", index=False)
    with open(out_dir / "infusions.json", "w") as f:
        json.dump(json.loads(table.to_json(orient="records", date_format="iso")), f, indent=1)
    print(table[list(TABLE_COLUMNS)].to_string(index=False))
    for _, c in infusions.cohort(table).iterrows():
        print("infusion %s: median duration %s, n=%d" % (c["infusion_group"], c["text"], c["n"]))
    for k, inf in enumerate(items):
        fig, rate, vol = plot_infusion(inf)
        stem = "infusion_%02d_%d" % (k + 1, inf.row["infusion"])
        _save(fig, out_dir, stem)
        rate.to_csv(out_dir / (stem + "_rate.csv"), index=False)
        vol.to_csv(out_dir / (stem + "_volume.csv"), index=False)
    if args.balance:
        balance_report(args, items[0], out_dir)
    print("wrote %s" % out_dir)
    return 0


def set_rate_from_log(inf, start_min, period_min):
    """The one rate the log shows over the analysis period, or a UserError."""
    rate = rate_series(inf)
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
    fig, ax = plt.subplots(figsize=(7, 4))
    trumpet.plot_startup(ax, curve)
    _save(fig, out_dir, "startup")
    fig, ax = plt.subplots(figsize=(7, 4))
    trumpet.plot_trumpet(ax, table, overall)
    _save(fig, out_dir, "trumpet")
    print("trumpet curve at %g mL/h, overall error %.2f %%" % (rate, overall))
    for _, row in table.iterrows():
        if not math.isnan(row["ep_max_pct"]):
            print("  P = %2d min: Ep(max) %+.2f %%, Ep(min) %+.2f %%"
                  % (row["window_min"], row["ep_max_pct"], row["ep_min_pct"]))

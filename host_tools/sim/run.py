"""`make sim`: the virtual board running one infusion, shown live, checked against the balance;
with --serve (`make sim SERVE=1`), the one way to serve a virtual board's ports until Ctrl-C."""

import argparse
import os
import sys

from host_tools.commands.monitor import REPLAN, View
from host_tools.commands.options import Parser, positive_number, protocol_int
from host_tools.commands.plan import ProgramEta, plan_dict
from host_tools.commands.view import hms, live_line
from host_tools.harness import served
from host_tools.harness.served import HarnessError
from host_tools.link.client import Client
from host_tools.link.errors import PumpError
from host_tools.sim.simboard import SimBoard
from pumpfw.schedule import DEFAULT_REGIMEN

TARGET_WALL_S = 60  # the default time scale finishes the infusion in about a minute
ENDS = ("complete", "discontinue", "stop")


def run_infusion(sim, infusion, out=None, live=True, interval_ms=1000):
    """Start `infusion` on a running SimBoard and follow it to its end. Returns a summary."""
    out = out or sys.stdout
    with Client(sim.serial_url, timeout_s=10) as pump:
        hello = pump.identify()
        print("board %s, firmware %s, protocol %s, %s steps/mL" % (
            hello["board"], hello["fw"], hello["proto"], hello["steps_per_ml"]), file=out)
        pump.command("interval", interval_ms)
        pump.command("start", infusion)
        eta = ProgramEta(hello["max_rate_ul_h"])
        eta.update(pump.status())
        view = View(out, live and out.isatty(), eta, plain_records=False)
        for msg in pump.messages(("rec", "ev"), timeout_s=30):
            if msg.kind == "rec":
                view.record(msg.fields)
                continue
            if msg.name == "rate" and not view.tty:
                continue  # the log stays short; the terminal shows every change
            view.event(msg)
            if msg.name in ENDS:
                break
            if msg.name in REPLAN:
                eta.update(pump.status())
        final = pump.status()
        view.close()
    grams = sim.balance_grams()
    print(live_line(final), file=out)
    spm = hello["steps_per_ml"]
    print("witness: balance %.3f g, log %.3f mL, steps %d -> %.3f mL (1 step = %.4f mL)" % (
        grams, final["vol_ul"] / 1000, final["steps"], final["steps"] / spm, 1 / spm), file=out)
    return {"record": final, "balance_g": grams, "steps_per_ml": spm,
            "problems": pump.check.problems()}


def serve(args):
    """Serve one virtual board's ports (serial, pty, control, balance) until Ctrl-C; registered
    for `pumpctl ports` and `--port auto` while it runs."""
    try:
        sim = SimBoard(entry=args.entry, lib=args.lib, fast=args.fast,
                       scale=None if args.fast or args.hold else (args.scale or 1),
                       hold=args.hold, pty=not args.no_pty)
    except (HarnessError, OSError) as exc:
        print("make sim: %s" % exc, file=sys.stderr)
        return 1
    return served.serve(sim, "virtual board")


def build_parser():
    parser = Parser(prog="make sim", description=__doc__)
    parser.add_argument("--infusion", type=protocol_int("start", "inf"), default=1,
                        help="infusion number 1..999 (default 1)")
    clock = parser.add_mutually_exclusive_group()
    clock.add_argument("--scale", type=positive_number, default=None,
                       help="virtual time = real time x K (default: about a minute in all;"
                            " 1 with --serve)")
    clock.add_argument("--fast", action="store_true", help="as fast as possible")
    clock.add_argument("--hold", action="store_true",
                       help="with --serve: time moves only when told (control channel)")
    parser.add_argument("--serve", action="store_true",
                        help="only serve the ports (serial, pty, control, balance) until Ctrl-C")
    parser.add_argument("--entry", help=argparse.SUPPRESS)  # harness tests: another app
    parser.add_argument("--lib", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--no-pty", action="store_true", help="with --serve: TCP endpoints only")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args)
    if args.hold:
        parser.error("--hold only goes with --serve")
    total_min = plan_dict(args.infusion, [])["total_min"]
    scale = args.scale or max(1.0, total_min * 60 / TARGET_WALL_S)
    mode = "fast" if args.fast else "x%g" % scale
    print("virtual board: infusion %d (%g min by the protocol), time %s" % (
        args.infusion, total_min, mode))
    try:
        with SimBoard(fast=args.fast, scale=None if args.fast else scale, pty=False) as sim:
            summary = run_infusion(sim, args.infusion)
    except (PumpError, HarnessError, OSError) as exc:
        print("make sim: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nmake sim: interrupted (the virtual board is stopped)", file=sys.stderr)
        return 130
    rec = summary["record"]
    full = DEFAULT_REGIMEN.volume_ul
    ok = rec["st"] == "complete" and rec["vol_ul"] == full and not summary["problems"]
    print("outcome: %s in %s, %s" % (rec["st"], hms(rec["elapsed_ms"]),
                                     "log intact" if not summary["problems"] else
                                     ", ".join(summary["problems"])))
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

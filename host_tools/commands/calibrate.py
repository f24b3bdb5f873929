"""`pumpctl calibrate`: steps per mL from a short known run, weighed on a balance or read off a
cylinder; written to the board with `setcal` and read back (before -> after)."""

import json
import sys
import time

from host_tools.commands.options import (
    add_port_argument,
    positive_int,
    positive_number,
    positive_seconds,
    protocol_int,
    seconds_or_zero,
)
from host_tools.commands.view import say
from host_tools.link.balance import Balance
from host_tools.link.errors import UserError
from host_tools.link.session import Session

ACTIVE = ("running", "paused", "interrupted")
MIN_STEPS = 100  # fewer than this and one step is over 1 %: run longer
POLL_S = 0.25


def argparse_calibrate(parser):
    add_port_argument(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--balance", metavar="URL",
                        help="MT-SICS balance: a serial port, a pyserial URL, or vN (the"
                             " balance of virtual board N)")
    source.add_argument("--volume-ml", type=positive_number, metavar="ML",
                        help="the volume pumped, measured by you (asked for when neither"
                             " --balance nor --volume-ml is given)")
    parser.add_argument("--balance-baud", type=int, default=9600, help="default 9600")
    parser.add_argument("--density", type=positive_number, default=1.0, metavar="G_PER_ML",
                        help="of the liquid weighed (default 1.0: water)")
    parser.add_argument("--infusion", type=protocol_int("start", "inf"), default=1, metavar="N",
                        help="infusion number whose schedule drives the run (default 1)")
    parser.add_argument("--seconds", type=positive_seconds, default=120.0, metavar="S",
                        help="length of the run (default 120)")
    parser.add_argument("--steps", type=positive_int, metavar="K",
                        help="stop early once K steps are made")
    parser.add_argument("--settle", type=seconds_or_zero, default=1.0, metavar="S",
                        help="wait before the last weighing (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="compute, do not write")
    parser.add_argument("--json", action="store_true",
                        help="the result as one JSON object: command, ok, the board (port,"
                        " board, fw, serial), steps, volume_ml, before, after, written")


def steps_per_ml(steps, volume_ml):
    if steps < MIN_STEPS:
        raise UserError("only %d steps were made: run longer (--seconds) or a faster schedule"
                        " (--infusion)" % steps)
    if volume_ml <= 0:
        raise UserError("measured volume %.4f mL: nothing reached the balance/cylinder; check"
                        " the tubing" % volume_ml)
    return round(steps / volume_ml)


def run_known_steps(s, infusion, seconds, steps_target=None, clock=time.monotonic):
    """Start an infusion, stop it after `seconds` (or at `steps_target`), return the steps it
    made. The stop is sent whatever happens, Ctrl-C included."""
    s.command("start", infusion)
    try:
        end = clock() + seconds
        while clock() < end:
            time.sleep(min(POLL_S, max(0.0, end - clock())))
            if steps_target and s.status()["steps"] >= steps_target:
                break
    finally:
        st = s.status()
        if st["st"] in ACTIVE:
            s.command("stop")
    return s.status()["steps"]  # the steps of this run: the count restarts at each start


def do_calibrate(args, read_line=None):
    balance = Balance(args.balance, args.balance_baud) if args.balance else None
    try:
        with Session.from_args(args) as s:
            return _calibrate(args, s, balance, read_line or input)
    finally:
        if balance is not None:
            balance.close()


def _calibrate(args, s, balance, read_line):
    state = s.status()["st"]
    if state in ACTIVE:
        raise UserError("an infusion is %s: calibrate an idle pump (pumpctl stop first)" % state)
    before = s.command("cal").fields["steps_per_ml"]
    grams0 = balance.grams() if balance else None
    say("calibration run on %s: infusion %d for up to %g s (steps_per_ml now %d)..."
        % (s.named(), args.infusion, args.seconds, before), sys.stderr)
    steps = run_known_steps(s, args.infusion, args.seconds, args.steps)
    if balance:
        time.sleep(args.settle)  # drops still falling, the balance settling
        grams = balance.grams() - grams0
        volume_ml = grams / args.density
        source = "%.3f g at %g g/mL" % (grams, args.density)
    else:
        volume_ml = args.volume_ml
        if volume_ml is None:
            try:
                text = read_line("%d steps made. Volume pumped, in mL: " % steps)
            except EOFError:
                raise UserError("no volume typed (end of input): nothing written; give it"
                                " with --volume-ml") from None
            try:
                volume_ml = float(text)
            except ValueError:
                raise UserError("%r is not a volume in mL: nothing written" % text) from None
        source = "%.4f mL measured" % volume_ml
    new = steps_per_ml(steps, volume_ml)
    change = 100.0 * (new - before) / before
    if not args.dry_run:
        s.command("setcal", new)
        after = s.command("cal").fields["steps_per_ml"]
        if after != new:
            raise UserError("the board reads back %d steps/mL after setcal %d" % (after, new))
    if getattr(args, "json", False):
        say(json.dumps({"command": "calibrate", "ok": True, "board": s.identity(),
                        "steps": steps, "volume_ml": volume_ml, "source": source,
                        "before": before, "after": new, "change_pct": round(change, 4),
                        "written": not args.dry_run}, sort_keys=True))
    else:
        say("steps_per_ml: %d -> %d (%+.2f %%) from %d steps, %s%s" % (
            before, new, change, steps, source,
            " (dry run: not written)" if args.dry_run else ""))
    return 0

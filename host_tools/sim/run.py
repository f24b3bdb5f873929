"""`make sim`: the virtual board running one infusion, shown live, checked against the balance."""

import argparse
import shutil
import sys
import time

from host_tools.client import Client
from host_tools.errors import PumpError
from host_tools.plan import plan_dict
from host_tools.sim.board import SimBoard, SimBoardError

TARGET_WALL_S = 60  # the default time scale finishes the infusion in about a minute
BAR_WIDTH = 20


def _bar(fraction):
    filled = int(round(BAR_WIDTH * max(0.0, min(1.0, fraction))))
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


def _hms(ms):
    s = int(ms // 1000)
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def status_line(rec, volume_ul):
    """One line from a record's fields: state, rate, volume, progress, elapsed, ETA."""
    vol = rec["vol_ul"]
    rate = rec["rate_ul_h"]
    remain = rec["remain_ul"]
    eta = _hms(remain * 3_600_000 // rate) if rate > 0 else "--:--:--"
    return "%-11s %5.1f mL/h %6.2f/%g mL %s %5.1f%%  elapsed %s  ETA %s" % (
        rec["st"], rate / 1000, vol / 1000, volume_ul / 1000, _bar(vol / volume_ul),
        100 * vol / volume_ul, _hms(rec["elapsed_ms"]), eta)


def event_line(msg):
    fields = " ".join("%s=%s" % kv for kv in msg.fields.items() if kv[0] != "t_ms")
    return "%s  event %-12s %s" % (_hms(msg.fields.get("t_ms", 0)), msg.name, fields)


def run_infusion(sim, infusion, out=None, live=True, interval_ms=1000):
    """Start `infusion` on a running SimBoard and follow it to its end. Returns a summary."""
    out = out or sys.stdout
    tty = live and out.isatty()
    with Client(sim.serial_url, timeout_s=10) as pump:
        hello = pump.identify()
        print("board %s, firmware %s, protocol %s, %s steps/mL" % (
            hello["board"], hello["fw"], hello["proto"], hello["steps_per_ml"]), file=out)
        pump.command("interval", interval_ms)
        pump.command("start", infusion)
        last, shown_at = None, 0.0
        for msg in pump.messages(("rec", "ev"), timeout_s=30):
            if msg.kind == "rec":
                last = msg.fields
                now = time.monotonic()
                if tty and now - shown_at > 0.1:
                    width = shutil.get_terminal_size().columns - 1  # never wrap: \r redraws
                    out.write("\r" + status_line(last, 250_000)[:width] + "\x1b[K")
                    out.flush()
                    shown_at = now
                continue
            if msg.name == "rate" and not tty:
                continue
            out.write(("\r\x1b[K" if tty else "") + event_line(msg) + "\n")
            if msg.name in ("complete", "discontinue", "stop"):
                break
        final = pump.status()
    grams = sim.balance_grams()
    print(status_line(final, 250_000), file=out)
    spm = hello["steps_per_ml"]
    print("witness: balance %.3f g, log %.3f mL, steps %d -> %.3f mL (1 step = %.4f mL)" % (
        grams, final["vol_ul"] / 1000, final["steps"], final["steps"] / spm, 1 / spm), file=out)
    return {"record": final, "balance_g": grams, "steps_per_ml": spm,
            "problems": pump.check.problems()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make sim", description=__doc__)
    parser.add_argument("--infusion", type=int, default=1, help="infusion number (default 1)")
    parser.add_argument("--scale", type=float, default=None,
                        help="virtual time = real time x K (default: about a minute in all)")
    parser.add_argument("--fast", action="store_true", help="as fast as possible")
    parser.add_argument("--serve", action="store_true",
                        help="only serve the ports (serial, control, balance) until Ctrl-C")
    args = parser.parse_args(argv)
    if args.serve:
        from host_tools.sim import board as simboard

        return simboard.main(["--serve"] + (["--fast"] if args.fast else
                                            ["--scale", str(args.scale or 1)]))
    if args.infusion < 1:
        parser.error("--infusion must be >= 1")
    total_min = plan_dict(args.infusion, [])["total_min"]
    scale = args.scale or max(1.0, total_min * 60 / TARGET_WALL_S)
    mode = "fast" if args.fast else "x%g" % scale
    print("virtual board: infusion %d (%g min by the protocol), time %s" % (
        args.infusion, total_min, mode))
    try:
        with SimBoard(fast=args.fast, scale=None if args.fast else scale, pty=False) as sim:
            summary = run_infusion(sim, args.infusion,
                                   interval_ms=10_000 if args.fast else 1000)
    except (PumpError, SimBoardError, OSError) as exc:
        print("make sim: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nmake sim: interrupted (the virtual board is stopped)", file=sys.stderr)
        return 130
    rec = summary["record"]
    ok = rec["st"] == "complete" and rec["vol_ul"] == 250_000 and not summary["problems"]
    print("outcome: %s in %s, %s" % (rec["st"], _hms(rec["elapsed_ms"]),
                                     "log intact" if not summary["problems"] else
                                     ", ".join(summary["problems"])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

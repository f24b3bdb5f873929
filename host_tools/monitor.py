"""`pumpctl monitor`: a live view of one pump (state, rate, volume, time, progress, ETA) with
its events highlighted; ANSI colours on a terminal, plain lines otherwise."""

import sys
import time
from datetime import datetime, timedelta

from host_tools import errors
from host_tools.control import hms
from host_tools.session import Session, UserError, add_port_argument

BAR_WIDTH = 24
FULL_UL = 250_000  # the fixed-volume infusion: the bar's 100 %
_RESET = "\x1b[0m"
_COLOURS = {  # events worth a glance in green, worth attention in yellow, alarms in red
    "start": "32", "resume": "32", "complete": "32", "latch_cleared": "32", "rate": "36",
    "pause": "33", "ir": "33", "ir_resolved": "33", "stop": "33", "limit": "33", "reboot": "33",
    "interrupt": "1;31", "discontinue": "1;31", "alarm": "1;31", "fault": "1;31",
}


def progress_bar(vol_ul, full_ul=FULL_UL, width=BAR_WIDTH):
    done = min(width, max(0, vol_ul * width // full_ul)) if full_ul > 0 else 0
    return "[" + "#" * done + "." * (width - done) + "]"


def eta(fields, now=None):
    """(seconds left at the current rate, wall-clock time it ends) or None if not flowing."""
    rate = fields.get("rate_ul_h", 0)
    remain = fields.get("remain_ul", 0)
    if rate <= 0 or remain <= 0 or fields.get("st") != "running":
        return None
    left_s = remain * 3600 / rate
    return left_s, (now or datetime.now()) + timedelta(seconds=left_s)


def view_line(fields, now=None):
    vol = fields.get("vol_ul", 0)
    full = vol + fields.get("remain_ul", 0) or FULL_UL
    end = eta(fields, now)
    when = "ETA %s (%s)" % (hms(end[0] * 1000), end[1].strftime("%H:%M")) if end else "ETA --"
    return "%-12s inf %s  %6.1f mL/h  %7.3f mL %s %5.1f%%  elapsed %s  remaining %.3f mL  %s" % (
        fields.get("st", "?"), fields.get("inf", "?"), fields.get("rate_ul_h", 0) / 1000,
        vol / 1000, progress_bar(vol, full), 100 * vol / full, hms(fields.get("elapsed_ms", 0)),
        fields.get("remain_ul", 0) / 1000, when)


def event_line(msg):
    parts = []
    for key, value in msg.fields.items():
        if key == "t_ms":
            continue
        if key.endswith("_ul_h"):
            parts.append("%s=%.1f mL/h" % (key[:-5], value / 1000))
        elif key.endswith("_ul"):
            parts.append("%s=%.3f mL" % (key[:-3], value / 1000))
        else:
            parts.append("%s=%s" % (key, value))
    return "[%s] event %s %s" % (hms(msg.fields.get("t_ms", 0)), msg.name, " ".join(parts))


class View:
    """Terminal: one status line redrawn in place, events printed above it in colour.
    Otherwise: one plain line per record and per event (for logs and scripts)."""

    def __init__(self, out, tty):
        self.out = out
        self.tty = tty
        self.last = None

    def record(self, fields):
        self.last = fields
        if self.tty:
            self.out.write("\r\x1b[2K" + view_line(fields))
        else:
            self.out.write(view_line(fields) + "\n")
        self.out.flush()

    def event(self, msg):
        text = event_line(msg)
        if self.tty:
            colour = _COLOURS.get(msg.name, "1")
            self.out.write("\r\x1b[2K\x1b[%sm%s%s\n" % (colour, text, _RESET))
            if self.last is not None:
                self.out.write(view_line(self.last))
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def note(self, text):
        self.out.write(("\r\x1b[2K" if self.tty else "") + text + "\n")
        self.out.flush()

    def close(self):
        if self.tty and self.last is not None:
            self.out.write("\n")
            self.out.flush()


def argparse_monitor(parser):
    add_port_argument(parser)
    how_long = parser.add_mutually_exclusive_group()
    how_long.add_argument("--once", action="store_true", help="print the view once and exit")
    how_long.add_argument("--duration", type=float, metavar="S",
                          help="watch for S seconds, then exit (default: until Ctrl-C)")


def do_monitor(args, out=None):
    out = out or sys.stdout
    if args.duration is not None and args.duration <= 0:
        raise UserError("--duration must be > 0 seconds")
    view = View(out, out.isatty())
    with Session.from_args(args) as s:
        client = s.ensure_connected()
        view.record(s.status())
        if args.once:
            view.close()
            return 0
        # Silent for longer than a few record intervals: the board or the cable is gone.
        silence_s = max(3.0, 3 * s.hello.get("interval_ms", 1000) / 1000)
        end = None if args.duration is None else time.monotonic() + args.duration
        try:
            _follow(client, view, end, silence_s)
        except KeyboardInterrupt:
            pass
        finally:
            view.close()
        problems = client.check.problems()
        if problems:
            view.note("line check: " + ", ".join(problems))
    return 0


def _follow(client, view, end, silence_s):
    heard = time.monotonic()
    while end is None or time.monotonic() < end:
        wait = silence_s if end is None else max(0.0, min(silence_s, end - time.monotonic()))
        msg = client.backlog.popleft() if client.backlog else client.read_message(wait)
        if msg is None:
            if time.monotonic() - heard >= silence_s:
                raise errors.DeviceTimeout("%s sent nothing for %g s" % (client.port, silence_s))
            continue
        heard = time.monotonic()
        if msg.kind == "rec":
            view.record(msg.fields)
        elif msg.kind == "ev":
            view.event(msg)
        elif msg.kind == "hello":
            view.note("the board restarted (reset=%s)" % msg.fields.get("reset"))

"""`pumpctl monitor`: a live view of one pump (state, rate, volume, progress, infusion time, the
program ETA) with its events in words; ANSI colours on a terminal, plain lines otherwise."""

import shutil
import sys
import time
from datetime import datetime, timedelta

from host_tools.commands.options import add_port_argument, positive_seconds
from host_tools.commands.plan import ProgramEta
from host_tools.commands.view import Timeline, live_line
from host_tools.link.errors import UserError
from host_tools.link.session import Session

_RESET = "\x1b[0m"
_COLOURS = {  # events worth a glance in green, worth attention in yellow, alarms in red
    "start": "32", "resume": "32", "complete": "32", "latch_cleared": "32", "rate": "36",
    "pause": "33", "ir": "33", "ir_resolved": "33", "stop": "33", "limit": "33", "reboot": "33",
    "interrupt": "1;31", "discontinue": "1;31", "alarm": "1;31", "fault": "1;31",
}
# Events after which the program may end at another time: the view asks for a fresh status.
REPLAN = ("start", "pause", "resume", "ir", "ir_resolved", "interrupt", "discontinue", "stop",
          "complete", "reboot", "recovery", "latch_cleared", "override")


class View:
    """Terminal: one status line redrawn in place, events printed above it in colour.
    Otherwise: one plain line per record and per event (for logs and scripts)."""

    redraw_s = 0.1  # a terminal line is redrawn at most this often (fast virtual boards)

    def __init__(self, out, tty, eta=None, plain_records=True):
        self.out = out
        self.tty = tty
        self.eta = eta
        self.plain_records = plain_records  # off: only events when not on a terminal
        self._drawn = 0.0
        self.timeline = Timeline()
        self.last = None
        self.rate = None  # device ms per wall ms, measured between records (time warp)
        self._seen = None

    def line(self, fields):
        text = self.eta.text(fields) if self.eta else ""
        left = self.eta.left_ms(fields) if self.eta else None
        if left is not None and self.rate is not None and abs(self.rate - 1) < 0.05:
            end = datetime.now() + timedelta(milliseconds=left)
            text += " (%s)" % end.strftime("%H:%M")  # a wall-clock end only in real time
        line = live_line(fields, text)
        if self.tty:  # never wrap: \r redraws one line only
            line = line[: shutil.get_terminal_size().columns - 1]
        return line

    def record(self, fields):
        now = time.monotonic()
        if self._seen is not None and "t_ms" in fields and now > self._seen[1]:
            self.rate = (fields["t_ms"] - self._seen[0]) / ((now - self._seen[1]) * 1000)
        if "t_ms" in fields:
            self._seen = (fields["t_ms"], now)
        self.last = fields
        self.timeline.record(fields)
        if self.tty:
            if now - self._drawn < self.redraw_s:
                return
            self._drawn = now
            self.out.write("\r\x1b[2K" + self.line(fields))
        elif self.plain_records:
            self.out.write(self.line(fields) + "\n")
        self.out.flush()

    def event(self, msg):
        text = self.timeline.event_line(msg)
        if self.tty:
            colour = _COLOURS.get(msg.name, "1")
            self.out.write("\r\x1b[2K\x1b[%sm%s%s\n" % (colour, text, _RESET))
            if self.last is not None:
                self.out.write(self.line(self.last))
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def note(self, text):
        self.out.write(("\r\x1b[2K" if self.tty else "") + text + "\n")
        self.out.flush()

    def close(self):
        if self.tty and self.last is not None:
            self.out.write("\r\x1b[2K" + self.line(self.last) + "\n")
            self.out.flush()


def argparse_monitor(parser):
    add_port_argument(parser)
    how_long = parser.add_mutually_exclusive_group()
    how_long.add_argument("--once", action="store_true", help="print the view once and exit")
    how_long.add_argument("--duration", type=positive_seconds, metavar="S",
                          help="watch for S seconds, then exit (default: until Ctrl-C)")


def do_monitor(args, out=None):
    out = out or sys.stdout
    with Session.from_args(args) as s:
        client = s.ensure_connected()
        eta = ProgramEta(s.hello.get("max_rate_ul_h", 0))
        view = View(out, out.isatty(), eta)
        status = s.status()
        eta.update(status)
        view.record(status)
        if args.once:
            view.close()
            return 0
        # Silent for longer than a few record intervals: the board or the cable is gone.
        silence_s = max(3.0, 3 * s.hello.get("interval_ms", 1000) / 1000)
        end = None if args.duration is None else time.monotonic() + args.duration
        try:
            _follow(s, view, end, silence_s)
        except KeyboardInterrupt:
            pass
        finally:
            view.close()
        problems = client.check.problems()
        if problems:
            view.note("line check: " + ", ".join(problems))
    return 0


def _follow(s, view, end, silence_s):
    client = s.client
    heard = time.monotonic()
    while end is None or time.monotonic() < end:
        wait = silence_s if end is None else max(0.0, min(silence_s, end - time.monotonic()))
        msg = client.backlog.popleft() if client.backlog else client.read_message(wait)
        if msg is None:
            if time.monotonic() - heard >= silence_s:
                raise UserError("%s sent nothing for %g s: check the cable; the board may have"
                                " reset (pumpctl status)" % (client.port, silence_s))
            continue
        heard = time.monotonic()
        if msg.kind == "rec":
            view.record(msg.fields)
        elif msg.kind == "ev":
            view.event(msg)
            if msg.name in REPLAN:
                try:
                    view.eta.update(s.status())
                except UserError:
                    pass  # the next event or the records carry on; the ETA waits
        elif msg.kind == "hello":
            view.note("the board restarted (reset=%s)" % msg.fields.get("reset"))


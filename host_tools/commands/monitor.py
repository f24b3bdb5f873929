"""`pumpctl monitor`: a live view of one pump (state, rate, volume, progress, infusion time, the
program ETA) with its events in words; ANSI colours on a terminal, plain lines otherwise."""

import json
import shutil
import sys
import time
from datetime import datetime, timedelta

from host_tools.commands.options import add_port_argument, positive_seconds
from host_tools.commands.plan import ProgramEta
from host_tools.commands.view import Timeline, live_lines, say
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


class Volume:
    """A monitor's volume never goes backwards on screen. A record older (t_ms) than one shown
    is a late arrival (read while waiting for a reply): skipped. A newer one with less volume in
    the same infusion is the board contradicting itself: the view holds the larger volume and
    counts it (said at the end). A new infusion, a cleared latch or a restart starts again."""

    def __init__(self):
        self.t_ms = None
        self.vol_ul = 0
        self.key = None
        self.late = 0
        self.backwards = []  # (t_ms, shown, reported)

    def restart(self):
        self.t_ms, self.vol_ul, self.key = None, 0, None

    def fit(self, fields):
        """The fields to show, or None for a record older than the one on screen."""
        key = (fields.get("inf"), fields.get("st") in ("idle",))
        t = fields.get("t_ms")
        if key != self.key:
            self.restart()
            self.key = key
        if t is not None and self.t_ms is not None and t < self.t_ms:
            self.late += 1
            return None
        vol = fields.get("vol_ul", 0)
        if vol < self.vol_ul:
            self.backwards.append((t, self.vol_ul, vol))
            fields = dict(fields, vol_ul=self.vol_ul)
        self.vol_ul = max(self.vol_ul, vol)
        self.t_ms = t if t is not None else self.t_ms
        return fields

    def notes(self):
        if not self.backwards:
            return []
        t, shown, told = self.backwards[0]
        return ["the board reported less volume than before %d time(s) (first at t_ms=%s:"
                " %d uL after %d uL): a firmware defect, the view held the larger volume"
                % (len(self.backwards), t, told, shown)]


class View:
    """Terminal: the status redrawn in place (one line from WIDE columns, two below), events
    printed above it in colour. Otherwise: one plain line per record and per event; with
    as_json, one JSON object per record and per event (scripts, HIL rigs)."""

    redraw_s = 0.1  # a terminal line is redrawn at most this often (fast virtual boards)

    def __init__(self, out, tty, eta=None, plain_records=True, as_json=False, width=None):
        self.out = out
        self.tty = tty and not as_json
        self.eta = eta
        self.as_json = as_json
        self.width = width  # None: the terminal's, asked at each redraw
        self.plain_records = plain_records  # off: only events when not on a terminal
        self._drawn = 0.0
        self._rows = 0  # lines of the status now on screen (terminal)
        self.timeline = Timeline()
        self.volume = Volume()
        self.last = None
        self.rate = None  # device ms per wall ms, measured between records (time warp)
        self._seen = None

    def columns(self):
        return self.width or shutil.get_terminal_size().columns

    def lines(self, fields):
        text = self.eta.text(fields) if self.eta else ""
        left = self.eta.left_ms(fields) if self.eta else None
        if left is not None and self.rate is not None and abs(self.rate - 1) < 0.05:
            end = datetime.now() + timedelta(milliseconds=left)
            text += " (%s)" % end.strftime("%H:%M")  # a wall-clock end only in real time
        return live_lines(fields, text, self.columns() if self.tty else self.width)

    def line(self, fields):
        return "\n".join(self.lines(fields))

    def _erase(self):
        """Back to the start of the status on screen, cleared."""
        up = "\x1b[%dA" % (self._rows - 1) if self._rows > 1 else ""
        self._rows = 0
        return up + "\r\x1b[J"

    def _draw(self, fields):
        rows = self.lines(fields)
        self._rows = len(rows)
        return "\n".join(rows)

    def record(self, fields):
        fields = self.volume.fit(fields)
        if fields is None:
            return
        now = time.monotonic()
        if self._seen is not None and "t_ms" in fields and now > self._seen[1]:
            self.rate = (fields["t_ms"] - self._seen[0]) / ((now - self._seen[1]) * 1000)
        if "t_ms" in fields:
            self._seen = (fields["t_ms"], now)
        self.last = fields
        self.timeline.record(fields)
        if self.as_json:
            self.out.write(json.dumps({"kind": "rec", **fields}, sort_keys=True) + "\n")
        elif self.tty:
            if now - self._drawn < self.redraw_s:
                return
            self._drawn = now
            self.out.write(self._erase() + self._draw(fields))
        elif self.plain_records:
            self.out.write(self.line(fields) + "\n")
        self.out.flush()

    def event(self, msg):
        text = self.timeline.event_line(msg)
        if msg.name in ("start", "latch_cleared", "reboot"):
            self.volume.restart()
        if self.as_json:
            self.out.write(json.dumps({"kind": "ev", "event": msg.name, "words": text.strip(),
                                       **msg.fields}, sort_keys=True) + "\n")
        elif self.tty:
            colour = _COLOURS.get(msg.name, "1")
            self.out.write("%s\x1b[%sm%s%s\n" % (self._erase(), colour, text, _RESET))
            if self.last is not None:
                self.out.write(self._draw(self.last))
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def note(self, text):
        if self.as_json:
            self.out.write(json.dumps({"kind": "note", "words": text}) + "\n")
        else:
            self.out.write((self._erase() if self.tty else "") + text + "\n")
        self.out.flush()

    def close(self):
        if self.tty and self.last is not None:
            self.out.write(self._erase() + self._draw(self.last) + "\n")
            self._rows = 0
            self.out.flush()
        for text in self.volume.notes():
            self.note(text)


def argparse_monitor(parser):
    add_port_argument(parser)
    how_long = parser.add_mutually_exclusive_group()
    how_long.add_argument("--once", action="store_true", help="print the view once and exit")
    how_long.add_argument("--duration", type=positive_seconds, metavar="S",
                          help="watch for S seconds, then exit (default: until Ctrl-C)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: the board first, then each record and"
                        " event (kind rec/ev/note)")


def do_monitor(args, out=None):
    out = out or sys.stdout
    with Session.from_args(args) as s:
        client = s.ensure_connected()
        eta = ProgramEta(s.hello.get("max_rate_ul_h", 0))
        view = View(out, out.isatty(), eta, as_json=args.json)
        if args.json:
            say(json.dumps({"kind": "board", **s.identity()}, sort_keys=True), out)
        else:
            say("monitor: %s" % s.named(), out)
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
            view.volume.restart()  # its clock and counts start again
            view.note("the board restarted (reset=%s)" % msg.fields.get("reset"))


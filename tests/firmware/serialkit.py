# Helpers for the serial-protocol tests on both lanes: a fake app, a byte sink, line capture.
from pumpfw import commands, linein, logout
from pumpfw import controller as ctl
from pumpfw import protocol as P
from pumpfw.schedule import ISATUXIMAB_250 as REG


class AppHandlers:
    """The plainest "app" and "starts" handlers of protocol.COMMANDS, for the app's doubles."""

    def start(self, now_ms, infusion):
        return self.controller.start(now_ms, infusion)

    def startover(self, now_ms, infusion):
        return self.start(now_ms, infusion)

    def set_premed(self, now_ms, min_ago):
        return P.E_OK

    @property
    def starts(self):
        """The "starts" owner of protocol.COMMANDS (set_premed): the double plays it too."""
        return self


class FakeApp(AppHandlers):
    """The app interface commands.Dispatcher expects (documented in docs/protocol.md)."""

    def __init__(self, max_rate_ul_h=400_000):
        self.controller = ctl.Controller(REG, max_rate_ul_h)
        self.fw_version = "0.1.0-test"
        self.board_name = "fake board"  # the space must be escaped on the wire
        self.reset_cause = 1
        self.log_interval_ms = 1000
        self.steps_per_ml = 20_000
        self.steps = 0
        self.repl_requested = 0
        self.cal_result = P.E_OK

    def steps_made(self):
        return self.steps

    def set_log_interval(self, now_ms, ms):
        self.log_interval_ms = ms
        return P.E_OK

    def set_steps_per_ml(self, now_ms, n):
        if self.cal_result == P.E_OK:
            self.steps_per_ml = n
        return self.cal_result

    def request_repl(self, now_ms):
        self.repl_requested += 1
        return P.E_OK


class Sink:
    """A host that accepts at most `room` bytes per write (None: unlimited)."""

    def __init__(self, room=None):
        self.data = bytearray()
        self.room = room
        self.calls = 0

    def write(self, view):
        self.calls += 1
        n = len(view) if self.room is None else min(self.room, len(view))
        self.data += bytes(view[:n])
        return n

    def lines(self):
        out = []
        for raw in bytes(self.data).split(b"\n"):
            if raw:
                out.append(P.parse_line(raw))
        return out


class Rig:
    """Dispatcher + LogOut + FakeApp wired like the main loop will wire them."""

    def __init__(self, capacity_bytes=4096):
        self.app = FakeApp()
        self.out = logout.LogOut(capacity_bytes)
        self.disp = commands.Dispatcher(self.app, self.out)
        self.app.controller.on_event = self.disp.event
        self.sink = Sink()
        self.lines = linein.LineIn(P.MAX_LINE_BYTES)
        self.seen = 0

    def feed(self, data, now_ms=0):
        for b in data:
            status = self.lines.feed(b)
            self.disp.handle(status, self.lines.line(), now_ms)

    def read(self):
        """Messages sent since the last read."""
        while self.out.used:
            self.out.drain(self.sink.write)
        msgs = self.sink.lines()
        new = msgs[self.seen :]
        self.seen = len(msgs)
        return new

    def cmd(self, text, now_ms=0, seq=None):
        """Send one command (typed form if seq is None); return the messages it produced."""
        words = text.split()
        name = words[0]
        spec = P.command_spec(name)
        args = []
        for i, w in enumerate(words[1:]):
            hexarg = spec is not None and i < len(spec[1]) and spec[1][i][3] == 16
            args.append(int(w, 16) if hexarg else int(w))
        self.feed(P.encode_command(seq, name, args), now_ms)
        return self.read()

    def reply(self, text, now_ms=0, seq=None):
        """The one ok/err/ask that answers the command (events before it are skipped)."""
        msgs = [m for m in self.cmd(text, now_ms, seq) if m.kind in ("ok", "err", "ask")]
        assert len(msgs) == 1, msgs
        return msgs[0]


def snapshot(c):
    """Everything a refused command must leave untouched."""
    return (
        c.state, c.infusion, c.rate_ul_h, c.rate_since_ms, c.changes, c.deadline_ms,
        c.hold_left_ms, c.ir_grade, c.ir_count, c.interruptions, c.delivered_ul, c.last_ms,
    )  # fmt: skip


def drive_to(c, state):
    """Put a fresh controller into `state` with the fewest inputs (times 0 and 1 ms)."""
    if state != ctl.IDLE:
        c.start(0, 1)
    if state == ctl.PAUSED:
        c.pause(1)
    elif state == ctl.INTERRUPTED:
        c.ir(1, 2)
    elif state == ctl.DISCONTINUED:
        c.ir(1, 3)
    elif state == ctl.STOPPED:
        c.stop(1)
    assert c.state == state, (c.state, state)

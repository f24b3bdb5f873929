# The serial protocol, defined once: framing, checksum, command and message tables, codecs.
# Imported by the firmware and by host_tools; the same file runs on MicroPython and CPython.
# Wire format and rationale: docs/protocol.md.
from pumpfw import controller as ctl
from pumpfw.alarms import ALARM_NAMES  # noqa: F401 - named where they are raised
from pumpfw.buttons import EVENT_NAMES as BUTTON_EVENTS
from pumpfw.compat import const
from pumpfw.framing import (  # noqa: F401 - part of this module's interface
    LineError,
    _digits,
    _hex4,
    _unframe,
    crc16,
    frame,
)
from pumpfw.reasons import (  # noqa: F401 - err reason codes, part of this interface
    E_CHECKSUM,
    E_CONFIRM,
    E_ENCODING,
    E_INTERNAL,
    E_LATCHED,
    E_RANGE,
    E_STATE,
    E_SYNTAX,
    E_TIME,
    E_TOOLONG,
    E_UNKNOWN,
)
from pumpfw.reasons import NAMES as REASONS
from pumpfw.reasons import OK as E_OK

PROTO_VERSION = const(1)
SEQ_MOD = const(1_000_000)  # sequence numbers and the drop counter wrap here
MAX_LINE_BYTES = const(120)  # longest host -> device line, without its CR/LF
CONFIRM_TTL_MS = const(30_000)  # how long an `ask` token stays valid
# A checked line identical to one of the last REPLAY_LINES checked lines, within REPLAY_TTL_MS of
# its answer, is a retry: answered from memory, never run again (docs/protocol.md).
REPLAY_LINES = const(8)
REPLAY_TTL_MS = const(30_000)

# Device -> host message kinds (the word after the sequence number).
MESSAGES = ("hello", "rec", "ev", "ok", "err", "ask")
# The field lists are read from the format strings, so the two cannot disagree.
_HELLO_FMT = ("proto=%d fw=%s board=%s steps_per_ml=%d max_rate_ul_h=%d interval_ms=%d reset=%s"
              " t0_us=%d")
HELLO_FIELDS = tuple(w.split("=")[0] for w in _HELLO_FMT.split())
_RECORD_FMT = (
    "t_ms=%d inf=%d st=%s rate_ul_h=%d vol_ul=%d steps=%d infusing_ms=%d elapsed_ms=%d"
    " remain_ul=%d drop=%d"
)
RECORD_FIELDS = tuple(w.split("=")[0] for w in _RECORD_FMT.split())
RESET_CAUSES = ("unknown", "power_on", "hard", "watchdog", "deepsleep", "soft", "brownout")

# Events: the controller's codes, then the application's own.
EV_ALARM = const(20)  # a = alarm code (app-defined), b = detail
EV_FAULT = const(21)  # a = fault code (app-defined), b = detail
EV_REBOOT = const(22)  # a = index in RESET_CAUSES, b = 1 if an infusion was recovered
EV_BUTTON = const(23)  # a = index in BUTTON_EVENTS: what a debounced press meant
EV_RECOVERY = const(24)  # a = uL the restored infusion counts as delivered, b = of which unsure
EV_OVERRIDE = const(25)  # a = infusion started, b = what was overridden (OVERRIDE_* bits)
EV_PREMED = const(26)  # a = minutes since the premedication, as the operator entered it
OVERRIDE_NUMBER = const(1)  # not the infusion number the pump expected next
OVERRIDE_PREMED = const(2)  # outside the premedication window
OVERRIDE_JOURNAL = const(4)  # after a corrupt journal
# Names sent beside the codes (`what=`), so a person reading the log needs no table.
FAULT_NAMES = ("", "drive", "journal", "exception", "no_delivery", "watchdog")
# Fault codes (`ev fault code=N`), indices of FAULT_NAMES:
FAULT_DRIVE = const(1)  # drive clamped, refused or re-planned (detail 1 clamp, 2 low, 3 underrun)
FAULT_JOURNAL = const(2)  # the journal could not be read or written (detail: 1 corrupt, 2 write)
FAULT_EXCEPTION = const(3)  # an exception escaped a tick; the motor was stopped
FAULT_NO_DELIVERY = const(4)  # running, yet no step for longer than the bound (detail: seconds)
FAULT_WATCHDOG = const(5)  # the watchdog reset the board during an infusion (it came back paused)
# name -> (code, field for a, field for b); "" means the argument is not sent.
EVENTS = {
    "start": (ctl.EV_START, "inf", ""),
    "rate": (ctl.EV_RATE, "rate_ul_h", "since_ms"),
    "pause": (ctl.EV_PAUSE, "", ""),
    "resume": (ctl.EV_RESUME, "rate_ul_h", "since_ms"),
    "ir": (ctl.EV_IR, "grade", ""),
    "ir_resolved": (ctl.EV_IR_RESOLVED, "grade", ""),
    "interrupt": (ctl.EV_INTERRUPT, "", ""),
    "discontinue": (ctl.EV_DISCONTINUE, "grade", ""),
    "complete": (ctl.EV_COMPLETE, "vol_ul", ""),
    "stop": (ctl.EV_STOP, "vol_ul", ""),
    "limit": (ctl.EV_LIMIT, "rate_ul_h", "max_ul_h"),
    "latch_cleared": (ctl.EV_LATCH_CLEARED, "", ""),
    "ir_continue": (ctl.EV_IR_CONTINUE, "grade", ""),
    "alarm": (EV_ALARM, "code", "detail"),
    "fault": (EV_FAULT, "code", "detail"),
    "reboot": (EV_REBOOT, "cause", "recovered"),
    "button": (EV_BUTTON, "press", ""),
    "recovery": (EV_RECOVERY, "vol_ul", "uncertain_ul"),
    "override": (EV_OVERRIDE, "inf", "bits"),
    "premed": (EV_PREMED, "min_ago", ""),
}
_NAMED = {EV_ALARM: ALARM_NAMES, EV_FAULT: FAULT_NAMES}
_EVENT_BY_CODE = {}
for _name in EVENTS:
    _EVENT_BY_CODE[EVENTS[_name][0]] = _name

# ---- the command table -------------------------------------------------------------------
# Allowed states: a bit per controller state (1 << ctl.RUNNING ...).
_ANY = 0x7F
_RUNNING = 1 << ctl.RUNNING
_PAUSED = 1 << ctl.PAUSED
_ACTIVE = _RUNNING | _PAUSED | (1 << ctl.INTERRUPTED)
_ENDED = (1 << ctl.IDLE) | (1 << ctl.COMPLETE) | (1 << ctl.STOPPED)
_NOT_ACTIVE = _ANY & ~_ACTIVE
# How a command may arrive: F_DIRECT runs even when typed without a checksum (reads, and inputs
# that can only reduce delivery); F_CONFIRM runs at once only from a checksummed line, typed it
# gets an `ask`; F_TWO_STEP always gets an `ask`, whatever the framing.
F_DIRECT = const(0)
F_CONFIRM = const(1)
F_TWO_STEP = const(2)
# Who runs it: (owner, method), called as method(now_ms, *args) and returning a reason code, or
# (code, fields or why in words). "controller" commands change the pump's state, and their `ok`
# carries it (the record fields); "app", "starts" (App.starts, the start rules) and "console"
# (the dispatcher) commands do not.
# A row: name, args ((name, lo, hi, base), ...), allowed states, flags, handler, help, read by
# these names, never by a bare index (an argument's fields likewise).
CMD_NAME, CMD_ARGS, CMD_STATES, CMD_FLAGS, CMD_HANDLER, CMD_HELP = 0, 1, 2, 3, 4, 5
ARG_NAME, ARG_LO, ARG_HI, ARG_BASE = 0, 1, 2, 3
COMMANDS = (
    ("help", (), _ANY, F_DIRECT, ("console", "help_fields"), "list the commands"),
    ("id", (), _ANY, F_DIRECT, ("console", "id_fields"),
     "identify: versions, board, calibration (hello fields)"),
    ("status", (), _ANY, F_DIRECT, ("console", "status_fields"),
     "one volume record now (record fields)"),
    ("start", (("inf", 1, 999, 10),), _ENDED, F_CONFIRM, ("app", "start"),
     "start infusion number inf"),
    ("startover", (("inf", 1, 999, 10),), _ENDED, F_TWO_STEP, ("app", "startover"),
     "start inf despite the expected number, the premedication window or a lost journal"),
    ("premed", (("min_ago", 0, 120, 10),), _NOT_ACTIVE, F_DIRECT, ("starts", "set_premed"),
     "premedication was given min_ago minutes ago"),
    ("pause", (), _RUNNING, F_DIRECT, ("controller", "pause"), "pause the running infusion"),
    ("resume", (), _PAUSED, F_CONFIRM, ("controller", "resume"), "resume a paused infusion"),
    ("ir", (("grade", 1, 5, 10),), _ACTIVE, F_DIRECT, ("controller", "ir"),
     "an infusion reaction of this grade"),
    ("ircontinue", (), _RUNNING | _PAUSED, F_CONFIRM, ("controller", "ir_continue"),
     "a grade-2 infusion reaction, not interrupted (operator's choice): escalation held"),
    ("resolved", (), _ACTIVE, F_CONFIRM, ("controller", "ir_resolved"),
     "the active infusion reaction resolved"),
    ("stop", (), _ACTIVE, F_DIRECT, ("controller", "stop"), "end the infusion now (abort)"),
    ("interval", (("ms", 100, 60_000, 10),), _ANY, F_DIRECT, ("app", "set_log_interval"),
     "set the record interval"),
    ("cal", (), _ANY, F_DIRECT, ("console", "cal_fields"), "read the calibration"),
    ("setcal", (("steps_per_ml", 10, 1_000_000, 10),), _NOT_ACTIVE, F_CONFIRM,
     ("app", "set_steps_per_ml"), "set it"),
    ("clear", (), 1 << ctl.DISCONTINUED, F_TWO_STEP, ("controller", "clear_latch"),
     "clear the discontinue latch (two-step)"),
    ("confirm", (("token", 0, 0xFFFF, 16),), _ANY, F_DIRECT, ("console", "confirm"),
     "confirm an ask by its token"),
    ("repl", (), _NOT_ACTIVE, F_DIRECT, ("app", "request_repl"),
     "leave the pump loop for the REPL (idle only)"),
)
COMMAND_NAMES = tuple(c[CMD_NAME] for c in COMMANDS)


def command_spec(name):
    for spec in COMMANDS:
        if spec[CMD_NAME] == name:
            return spec
    return None


def usage(spec):
    parts = [spec[CMD_NAME]]
    for arg in spec[CMD_ARGS]:
        if arg[ARG_BASE] == 16:
            parts.append("<%s: 4 hex digits>" % arg[ARG_NAME])
        else:
            parts.append("<%s %d..%d>" % arg[:3])
    return " ".join(parts)


def encode_command(seq, name, args=()):
    """A host -> device line. seq None gives the typed form (no sequence number, no CRC)."""
    body = name
    for i in range(len(args)):
        spec = command_spec(name)
        if spec and i < len(spec[CMD_ARGS]) and spec[CMD_ARGS][i][ARG_BASE] == 16:
            body += " %04X" % args[i]
        else:
            body += " %d" % args[i]
    if seq is None:
        return (body + "\r\n").encode()
    return frame(seq, body)


def _ref(ref):
    return "-" if ref is None else "%d" % ref


def encode_ok(ref, name, fields=""):
    return ("ok %s %s %s" % (_ref(ref), name, fields)).rstrip()


def encode_err(ref, name, code, text):
    # The message is free text at the end of the line: keep it printable and on one line.
    clean = "".join(ch if " " <= ch <= "~" else " " for ch in text)
    return "err %s %s %s %s" % (_ref(ref), name or "?", REASONS[code], clean)


def encode_ask(ref, name, token, fields=""):
    text = "ask %s %s token=%04X ttl_ms=%d %s" % (_ref(ref), name, token, CONFIRM_TTL_MS, fields)
    return text.rstrip()


def _word(value):
    # Text fields (firmware version, board name) must stay one token: no space, '=', '*'.
    out = ""
    for ch in str(value):
        out += ch if ("!" <= ch <= "~" and ch != "=" and ch != "*") else "_"
    return out or "_"


def encode_hello(fw, board, steps_per_ml, max_rate_ul_h, interval_ms, reset_cause, t0_us=0):
    reset = RESET_CAUSES[reset_cause] if 0 <= reset_cause < len(RESET_CAUSES) else "unknown"
    return "hello " + hello_fields(fw, board, steps_per_ml, max_rate_ul_h, interval_ms, reset,
                                   t0_us)


def hello_fields(fw, board, steps_per_ml, max_rate_ul_h, interval_ms, reset, t0_us=0):
    """t0_us: the board's raw ticks_us at t_ms = 0 (a rig lines device time up with its own)."""
    fixed = (PROTO_VERSION, _word(fw), _word(board))
    return _HELLO_FMT % (fixed + (steps_per_ml, max_rate_ul_h, interval_ms, reset, t0_us))


def record_fields(t_ms, c, steps, dropped):
    """The record fields from a controller c; also the payload of the `status` response."""
    remain = c.regimen.volume_ul - c.delivered_ul
    st = ctl.STATE_NAMES[c.state]
    remain = remain if remain > 0 else 0
    return _RECORD_FMT % (
        t_ms, c.infusion, st, c.rate_ul_h, c.delivered_ul, steps,
        c.infusing_ms(), c.elapsed_ms(), remain, dropped,
    )  # fmt: skip


# Where the controller is in its program: what `status` adds after the record fields, so a host
# can run the same program forward (host_tools/commands/plan.py) and say when it ends.
_PROGRAM_FMT = "phase=%s step=%d prog_rate_ul_h=%d hold_ms=%d ir_grade=%d"
PROGRAM_FIELDS = tuple(w.split("=")[0] for w in _PROGRAM_FMT.split())
PHASE_NAMES = ("ladder", "post_ir")  # controller.LADDER, controller.POST_IR


def program_fields(now_ms, c):
    """The program position of controller c: phase, step, the program's rate, the running time
    left before the next escalation (-1: none due) and the active IR grade."""
    hold = c.hold_left_ms
    if c.deadline_ms >= 0:
        hold = c.deadline_ms - now_ms if c.deadline_ms > now_ms else 0
    return _PROGRAM_FMT % (PHASE_NAMES[c.phase], c.step, c.program_rate_ul_h, hold, c.ir_grade)


def encode_record(t_ms, c, steps, dropped):
    return "rec " + record_fields(t_ms, c, steps, dropped)


def encode_event(code, t_ms, a, b):
    name = _EVENT_BY_CODE.get(code)
    if name is None:
        return "ev unknown t_ms=%d code=%d a=%d b=%d" % (t_ms, code, a, b)
    spec = EVENTS[name]
    body = "ev %s t_ms=%d" % (name, t_ms)
    if spec[1]:
        if code == EV_REBOOT:
            body += " cause=%s" % (RESET_CAUSES[a] if 0 <= a < len(RESET_CAUSES) else "unknown")
        elif code == EV_BUTTON:
            body += " press=%s" % (BUTTON_EVENTS[a] if 0 <= a < len(BUTTON_EVENTS) else "unknown")
        else:
            body += " %s=%d" % (spec[1], a)
    if spec[2]:
        body += " %s=%d" % (spec[2], b)
    names = _NAMED.get(code)
    if names is not None:
        body += " what=%s" % (names[a] if 0 <= a < len(names) else "unknown")
    return body


# ---- decoding ---------------------------------------------------------------------------
class Command:
    """A parsed host command: error is E_OK or a reason code with its message."""

    def __init__(self):
        self.error = E_OK
        self.message = ""
        self.ref = None  # the host's sequence number (checked lines only)
        self.checked = False
        self.name = ""
        self.spec = None
        self.args = ()

    def fail(self, code, message):
        self.error = code
        self.message = message
        return self


def parse_command(line):
    """Device side: bytes of one line (no EOL) -> Command. Never raises."""
    cmd = Command()
    if len(line) > MAX_LINE_BYTES:
        return cmd.fail(E_TOOLONG, "line longer than %d bytes" % MAX_LINE_BYTES)
    try:
        cmd.ref, body, cmd.checked = _unframe(line)
    except LineError as e:
        return cmd.fail(e.reason, e.text)
    words = body.split()
    if not words:
        return cmd.fail(E_SYNTAX, "no command")
    name = words[0].lower()
    if not cmd.checked and name[:2] == "at":
        return cmd.fail(E_UNKNOWN, "AT probe ignored: this port is an infusion pump, not a modem")
    spec = command_spec(name)
    if spec is None:
        return cmd.fail(E_UNKNOWN, "unknown command; try: help")
    cmd.name = name
    cmd.spec = spec
    if len(words) - 1 != len(spec[CMD_ARGS]):
        return cmd.fail(E_SYNTAX, "usage: " + usage(spec))
    args = []
    for i in range(len(spec[CMD_ARGS])):
        arg_name, lo, hi, base = spec[CMD_ARGS][i]
        word = words[i + 1]
        if base == 16:
            if not _hex4(word):
                return cmd.fail(E_SYNTAX, "usage: " + usage(spec))
            value = int(word, 16)
        else:
            if not _digits(word):
                ok = word[:1] == "-" and _digits(word[1:])
                return cmd.fail(E_RANGE if ok else E_SYNTAX, "usage: " + usage(spec))
            value = int(word)
        if value < lo or value > hi:
            return cmd.fail(E_RANGE, "%s must be %d..%d" % (arg_name, lo, hi))
        args.append(value)
    cmd.args = tuple(args)
    return cmd


def _value(text):
    neg = text[:1] == "-"
    if _digits(text[1:] if neg else text, 12):
        return int(text)
    return text


class Message:
    """Host side: one decoded device line."""

    def __init__(self, seq, kind):
        self.seq = seq
        self.kind = kind  # one of MESSAGES
        self.name = ""  # event name, or the command an ok/err/ask answers
        self.ref = None  # host sequence number answered (ok/err/ask), None for typed commands
        self.reason = ""  # err only: a REASONS name
        self.text = ""  # err only: the human message
        self.fields = {}

    def __repr__(self):
        return "Message(%d %s %s %r)" % (self.seq, self.kind, self.name, self.fields)


def parse_line(line):
    """Host side: one device line (EOL optional) -> Message. Raises LineError."""
    while line and line[-1] in (10, 13):
        line = line[:-1]
    seq, body, checked = _unframe(line)
    if not checked:
        raise LineError(E_CHECKSUM, "device lines always carry a sequence number and *CRC")
    words = body.split(" ")
    msg = Message(seq, words[0])
    pos = 1
    if msg.kind == "ev":
        pos = 2
    elif msg.kind in ("ok", "err", "ask"):
        pos = 3
        if len(words) < 3:
            raise LineError(E_SYNTAX, "short response line")
        msg.ref = None if words[1] == "-" else _value(words[1])
    elif msg.kind not in MESSAGES:
        raise LineError(E_UNKNOWN, "unknown message kind %r" % msg.kind)
    if len(words) < pos:
        raise LineError(E_SYNTAX, "short line")
    msg.name = words[pos - 1] if pos > 1 else ""
    if msg.kind == "err":
        if len(words) < 4 or words[3] not in REASONS:
            raise LineError(E_SYNTAX, "err line without a known reason")
        msg.reason = words[3]
        msg.text = " ".join(words[4:])
        return msg
    for word in words[pos:]:
        eq = word.find("=")
        if eq <= 0:
            raise LineError(E_SYNTAX, "expected key=value, got %r" % word)
        key = word[:eq]
        value = word[eq + 1 :]
        msg.fields[key] = int(value, 16) if key == "token" and _hex4(value) else _value(value)
    return msg

# Command dispatcher: one parsed line -> a controller or app call -> exactly one ok/err/ask line.
# A command that is refused for any reason changes nothing. Also emits hello, records, events.
from pumpfw import controller as ctl
from pumpfw import linein
from pumpfw import protocol as P

# What the dispatcher needs from the application (duck-typed, see docs/protocol.md "App side"):
#   app.controller          the Controller
#   app.fw_version          str; app.board_name: str; app.reset_cause: index in P.RESET_CAUSES
#   app.log_interval_ms     int (read); app.steps_per_ml: int (read)
#   app.steps_made()        int: motor steps made so far in this infusion
#   app.starts              the StartRules (the "starts" handlers of protocol.COMMANDS)
#   and the "app" handlers of protocol.COMMANDS, each method(now_ms, *args) -> a reason code,
#   or (code, fields or why in words): start, startover, set_log_interval, set_steps_per_ml,
#   request_repl.


class Dispatcher:
    def __init__(self, app, out):
        self.app = app
        self.out = out  # a logout.LogOut
        self.pending = None  # (token, expires_ms, spec, args, ref) of an outstanding `ask`
        self.last_token = 0
        # The last checked lines and their answers, in a ring allocated once: a host that lost
        # an answer sends the very same line again (same sequence number) and gets the answer
        # again, without a second run, whatever other lines came in between.
        self._replay_lines = [bytearray(P.MAX_LINE_BYTES) for _ in range(P.REPLAY_LINES)]
        self._replay_len = [0] * P.REPLAY_LINES
        self._replay_ms = [0] * P.REPLAY_LINES
        self._replay_answer = [""] * P.REPLAY_LINES  # "": a free slot
        self._replay_next = 0
        self._ref = None  # the sequence number of the command being run
        self._line = b""  # the line being handled
        self._line_ms = 0
        # A start from rest begins (and says so) before the command's answer (App.begin_run).
        self._begin_run = getattr(app, "begin_run", None)

    # ---- device -> host ------------------------------------------------------------------
    def hello(self):
        self.out.send("hello " + self._hello_fields())

    def record(self, now_ms):
        """One volume record, droppable: never waits for the host."""
        app = self.app
        body = P.encode_record(now_ms, app.controller, app.steps_made(), self.out.dropped)
        return self.out.send(body, True)

    def event(self, code, now_ms, a, b):
        """Usable as the controller's on_event, and for the app's alarm/fault/reboot events."""
        self.out.send(P.encode_event(code, now_ms, a, b))

    # ---- the "console" handlers of protocol.COMMANDS -------------------------------------
    def help_fields(self, now_ms):
        return P.E_OK, "cmds=" + ",".join(P.COMMAND_NAMES)

    def id_fields(self, now_ms):
        return P.E_OK, self._hello_fields()

    def status_fields(self, now_ms):
        c = self.app.controller
        return P.E_OK, self._state_fields(now_ms) + " " + P.program_fields(now_ms, c)

    def cal_fields(self, now_ms):
        return P.E_OK, "steps_per_ml=%d" % self.app.steps_per_ml

    def call(self, name, args, now_ms):
        """Run a command from inside the pump (a button): the table's state check and handler,
        no answer line. Returns the reason code (P.E_OK: done)."""
        spec = P.command_spec(name)
        refused = self._refused(spec)
        return refused if refused else self._handler(spec, args, now_ms)[0]

    def _handler(self, spec, args, now_ms):
        owner, method = spec[P.CMD_HANDLER]
        if owner == "console":
            target = self
        elif owner == "app":
            target = self.app
        else:
            target = getattr(self.app, owner)  # one of the app's parts: controller, starts
        result = getattr(target, method)(now_ms, *args)
        if self._begin_run is not None:
            self._begin_run(now_ms)
        return result if result is None or isinstance(result, tuple) else (result, None)

    def _hello_fields(self):
        app = self.app
        cause = app.reset_cause
        reset = P.RESET_CAUSES[cause] if 0 <= cause < len(P.RESET_CAUSES) else "unknown"
        return P.hello_fields(
            app.fw_version,
            app.board_name,
            app.steps_per_ml,
            app.controller.max_rate_ul_h,
            app.log_interval_ms,
            reset,
            getattr(getattr(app, "clock", None), "t0_us", 0),
        )

    # ---- host -> device ------------------------------------------------------------------
    def handle(self, status, line, now_ms):
        """Handle one result of LineIn.feed(); line is LineIn.line() when status is LINE."""
        if status == linein.NONE:
            return
        if status == linein.TOO_LONG:
            return self._err(None, "", P.E_TOOLONG, "line too long: discarded")
        if status == linein.BAD_BYTES:
            return self._err(None, "", P.E_ENCODING, "NUL, control or non-ASCII bytes: discarded")
        if status == linein.INTR:
            # One stray 0x03 (line noise, a terminal, a modem manager) must not take the pump
            # offline: leaving the loop takes the `repl` command (docs/protocol.md).
            return self._err(None, "", P.E_STATE, "Ctrl-C ignored: the pump loop goes on;"
                             " to leave it for the REPL send `repl` (not while infusing)")
        self.handle_line(line, now_ms)

    def handle_line(self, line, now_ms):
        raw = bytes(line)
        answer = self._replayed(raw, now_ms)
        if answer:
            return self.out.send(answer)
        self._line = raw
        self._line_ms = now_ms
        cmd = P.parse_command(raw)
        if cmd.error:
            return self._err(cmd.ref, cmd.name, cmd.error, cmd.message)
        if cmd.name != "confirm":
            self.pending = None  # any other command cancels an outstanding ask
        spec = cmd.spec
        refused = self._refused(spec)
        if refused:
            return self._err(cmd.ref, cmd.name, refused, self._state_text(spec))
        flags = spec[P.CMD_FLAGS]
        if flags == P.F_TWO_STEP or (flags == P.F_CONFIRM and not cmd.checked):
            return self._ask(cmd, now_ms)
        self._run(spec, cmd.args, cmd.ref, now_ms)

    def _refused(self, spec):
        state = self.app.controller.state
        if spec[P.CMD_STATES] & (1 << state):
            return P.E_OK
        if state == ctl.DISCONTINUED and spec[P.CMD_NAME] in ("start", "startover"):
            return P.E_LATCHED
        return P.E_STATE

    def _state_text(self, spec):
        state = ctl.STATE_NAMES[self.app.controller.state]
        return "%s is not allowed while %s" % (spec[P.CMD_NAME], state)

    def _ask(self, cmd, now_ms):
        seed = "%s %s %d %d %d" % (cmd.name, cmd.args, now_ms, self.out.seq, self.last_token)
        token = P.crc16(seed.encode())
        if token == self.last_token:
            token ^= 0x5A5A
        self.last_token = token
        self.pending = (token, now_ms + P.CONFIRM_TTL_MS, cmd.spec, cmd.args, cmd.ref)
        fields = self._arg_fields(cmd.spec, cmd.args)
        self._answer(cmd.ref, P.encode_ask(cmd.ref, cmd.name, token, fields))

    def confirm(self, now_ms, token):
        """The "console" handler of `confirm`: the outstanding ask's command runs now and
        answers for itself (None), or (code, why) refuses the confirm."""
        pending = self.pending
        self.pending = None  # one try per token: a wrong token cancels the ask
        if pending is None:
            return P.E_CONFIRM, "nothing to confirm"
        expected, expires_ms, spec, args, _ = pending
        if now_ms > expires_ms:
            return P.E_CONFIRM, "the ask expired; send it again"
        if token != expected:
            return P.E_CONFIRM, "wrong token; ask cancelled"
        refused = self._refused(spec)  # the state may have changed since the ask
        if refused:
            self._err(self._ref, spec[P.CMD_NAME], refused, self._state_text(spec))
        else:
            self._run(spec, args, self._ref, now_ms)
        return None

    @staticmethod
    def _arg_fields(spec, args):
        parts = []
        for i in range(len(args)):
            parts.append("%s=%d" % (spec[P.CMD_ARGS][i][P.ARG_NAME], args[i]))
        return " ".join(parts)

    def _run(self, spec, args, ref, now_ms):
        name = spec[P.CMD_NAME]
        owner = spec[P.CMD_HANDLER][0]
        self._ref = ref
        try:
            result = self._handler(spec, args, now_ms)
        except Exception as e:  # noqa: BLE001 - an app bug must not kill the serial loop
            return self._err(ref, name, P.E_INTERNAL, "%s: %s" % (type(e).__name__, e))
        if result is None:
            return  # it answered for itself (confirm)
        code, fields = result
        if code:
            # On a refusal, fields may carry the reason in words.
            return self._err(ref, name, code, fields if fields else "refused by the " + owner)
        if fields is None:
            fields = self._arg_fields(spec, args)
            if owner == "controller":
                # The state it left the pump in, so a host needs no `status` after it. (Not
                # `start`, an app command: a host asks `status` after a start.)
                fields = (fields + " " if fields else "") + self._state_fields(now_ms)
        self._answer(ref, P.encode_ok(ref, name, fields))

    def _state_fields(self, now_ms):
        app = self.app
        return P.record_fields(now_ms, app.controller, app.steps_made(), self.out.dropped)

    def _err(self, ref, name, code, text):
        self._answer(ref, P.encode_err(ref, name, code, text))

    def _answer(self, ref, body):
        if ref is not None:
            self._remember(body)
        self.out.send(body)

    def _replayed(self, raw, now_ms):
        """The remembered answer if raw is a retry of a recent checked line, else None."""
        n = len(raw)
        for i in range(P.REPLAY_LINES):
            if self._replay_len[i] != n or not self._replay_answer[i]:
                continue
            if now_ms - self._replay_ms[i] > P.REPLAY_TTL_MS:
                continue
            slot = self._replay_lines[i]
            k = n - 1  # from the end: the CRC differs first, no slice is allocated
            while k >= 0 and slot[k] == raw[k]:
                k -= 1
            if k < 0:
                return self._replay_answer[i]
        return None

    def _remember(self, body):
        line = self._line
        n = len(line)
        if n > P.MAX_LINE_BYTES:
            return  # longer than any valid line: cannot have been answered as checked
        i = self._replay_next
        self._replay_next = (i + 1) % P.REPLAY_LINES
        self._replay_lines[i][0:n] = line
        self._replay_len[i] = n
        self._replay_ms[i] = self._line_ms
        self._replay_answer[i] = body

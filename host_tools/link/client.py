"""The protocol client: the one way every host tool and HIL test talks to a pump."""

import collections
import random
import re
import time

import serial

from host_tools.link import portshare
from host_tools.link.errors import (
    CommandError,
    DeviceTimeout,
    IntegrityError,
    ProtocolError,
    TransportError,
)
from host_tools.link.seqcheck import SeqTracker
from host_tools.link.sockport import PortClosed
from pumpfw import protocol as P

_SHORTCUTS = (("a", "/dev/ttyACM"), ("u", "/dev/ttyUSB"), ("c", "COM"))
_MAX_PENDING_BYTES = 4096  # a "line" longer than this without LF is noise, not protocol


def resolve_port(port):
    """mpremote-style shortcuts: a0 = /dev/ttyACM0, u1 = /dev/ttyUSB1, c3 = COM3."""
    m = re.fullmatch(r"([auc])(\d+)", port)
    if m:
        return dict(_SHORTCUTS)[m.group(1)] + m.group(2)
    return port


class Client:
    """A connection to one pump over any pyserial URL or path.

    Messages that arrive while waiting for a response (records, events, hello) are kept, in
    order, for messages()/records()/events(); `check` follows sequence numbers.
    """

    def __init__(self, port, baudrate=115200, timeout_s=3.0, backlog=100_000, share=None):
        self.port = resolve_port(port)
        self.share = share  # None: as ISAPUMP_SHARE says (docs/port-sharing.md)
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.ser = None
        self.on_line = lambda line: None  # sees every raw line read (a log, a watch)
        self.sent_bytes = 0  # written to the port in all (a virtual board can sync on it)
        self.check = SeqTracker()
        self.backlog = collections.deque()
        self.backlog_max = backlog
        self.backlog_overflow = 0
        self.noise_lines = collections.deque(maxlen=20)  # unframed text, e.g. a traceback
        # A new session starts its numbers at random: the device answers a line identical to a
        # recent one from memory (a retry), so a session must not repeat another's numbers.
        self.hseq = random.randrange(1, P.SEQ_MOD // 2)
        self.seq_block = None  # (first, size) of our command numbers on a shared port
        self.reconnects = 0  # the process serving a shared port went away; we carried on
        self._carried = 0  # hand-overs since bytes last came
        self.hello = None
        self._buf = bytearray()
        self._joined = False  # the first line after connecting may be the tail of one
        self.partial_lines = 0

    # ---- connection ----------------------------------------------------------------------
    def connect(self):
        """Open the port: shared with this machine's other pumpctl processes where it can be
        (host_tools/link/portshare.py), each process with its own block of command numbers."""
        try:
            self.ser = portshare.open_port(self.port, self.baudrate, timeout=0.05,
                                           write_timeout=self.timeout_s, share=self.share)
        except (serial.SerialException, OSError, ValueError) as e:
            raise TransportError("cannot open %s: %s" % (self.port, e)) from None
        self.seq_block = getattr(self.ser, "seq_block", None)
        if self.seq_block is not None:  # at random inside it, for the same reason as above
            self.hseq = self.seq_block[0] + random.randrange(self.seq_block[1])
        self._joined = False
        self._buf.clear()
        return self

    def _carry_on(self, exc):
        """The process serving our shared port stopped: join (or become) the next server.
        Anything else, or a third hand-over with nothing read between, is a TransportError."""
        if self.seq_block is None or not isinstance(exc, PortClosed):
            return False
        if self._carried > 2:
            return False  # it keeps going away with nothing read between: say so
        self._carried += 1
        self.close()
        self.connect()
        self.reconnects += 1
        return True

    def close(self):
        if self.ser is not None:
            self.ser.close()
            self.ser = None

    def __enter__(self):
        return self.connect() if self.ser is None else self

    def __exit__(self, *exc):
        self.close()

    # ---- lines ---------------------------------------------------------------------------
    def _read_line(self, deadline):
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[: nl + 1])
                del self._buf[: nl + 1]
                self.on_line(line)
                return line
            if len(self._buf) > _MAX_PENDING_BYTES:
                self.noise_lines.append(bytes(self._buf[:80]))
                self.check.noise += 1
                self._buf.clear()
            if time.monotonic() >= deadline:
                return None
            try:
                chunk = self.ser.read(self.ser.in_waiting or 1)
            except (serial.SerialException, OSError) as e:
                if self._carry_on(e):
                    continue
                raise TransportError("reading %s failed: %s" % (self.port, e)) from None
            if chunk:
                self._carried = 0
            self._buf += chunk

    def read_message(self, timeout_s=None):
        """The next valid device message, or None if none came within timeout_s."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while True:
            line = self._read_line(deadline)
            if line is None:
                return None
            first, self._joined = not self._joined, True
            try:
                msg = P.parse_line(line)
            except P.LineError:
                if first:
                    # Joined a running device mid-line: a fragment, not a corrupted line.
                    self.partial_lines += 1
                elif b"*" in line:
                    self.check.corrupt()
                else:
                    self.check.noise += 1
                    self.noise_lines.append(line.rstrip())
                continue
            self.check.see(msg)
            if msg.kind == "hello":
                self.hello = msg.fields
            return msg

    def _keep(self, msg):
        if len(self.backlog) >= self.backlog_max:
            self.backlog.popleft()
            self.backlog_overflow += 1
        self.backlog.append(msg)

    # ---- commands ------------------------------------------------------------------------
    def send(self, name, *args):
        """Send one checksummed command; returns its sequence number."""
        if self.seq_block is None:
            self.hseq = (self.hseq + 1) % P.SEQ_MOD
        else:
            first, size = self.seq_block
            self.hseq = first + (self.hseq - first + 1) % size
        self._write(P.encode_command(self.hseq, name, args))
        return self.hseq

    def _write(self, line):
        if self.ser is None:
            self.connect()
        try:
            self.ser.write(line)
        except (serial.SerialException, OSError) as e:
            if not self._carry_on(e):
                raise TransportError("writing to %s failed: %s" % (self.port, e)) from None
            self._write(line)
            return
        self.sent_bytes += len(line)

    def command(self, name, *args, timeout_s=None, retries=1):
        """Send a command and wait for its ok or ask (returned); err raises CommandError.

        Without an answer the very same line (same sequence number) is sent again, up to
        `retries` times: the device answers a repeated line from memory and never runs it
        twice, so a lost answer cannot turn into a double start. When the process serving a
        shared port hands over meanwhile, the line is sent again at once.
        """
        if P.command_spec(name) is None:
            raise ProtocolError("%s is not a protocol command (see protocol.COMMANDS)" % name)
        ref = self.send(name, *args)
        line = P.encode_command(ref, name, args)
        wait = self.timeout_s if timeout_s is None else timeout_s
        for attempt in range(retries + 1):
            if attempt:
                self._write(line)
            msg = self._answer(ref, time.monotonic() + wait, line)
            if msg is not None:
                if msg.kind == "err":
                    raise CommandError(msg.name or name, msg.reason, msg.text)
                return msg
        tries = " (%d tries)" % (retries + 1) if retries else ""
        text = "no answer to %s from %s within %g s%s" % (name, self.port, wait, tries)
        raise DeviceTimeout(text)

    def _answer(self, ref, deadline, line=None):
        reconnects = self.reconnects
        while True:
            msg = self.read_message(max(0.0, deadline - time.monotonic()))
            if line is not None and self.reconnects != reconnects:
                reconnects = self.reconnects
                self._write(line)  # the old server may have taken it without passing it on
            if msg is None:
                return None
            if msg.kind in ("ok", "err", "ask"):
                if msg.ref == ref:
                    return msg
                if not self.ours(msg.ref):
                    continue  # another client's answer on a shared port
            self._keep(msg)

    def ours(self, ref):
        """Could a response with this ref answer one of our commands?"""
        if self.seq_block is None:
            return True
        first, size = self.seq_block
        return isinstance(ref, int) and first <= ref < first + size

    def confirm(self, ask, timeout_s=None):
        """Answer an ask with its token: the command runs now (ok) or err raises."""
        return self.command("confirm", ask.fields["token"], timeout_s=timeout_s)

    def identify(self):
        """The device's hello fields; refuses a device that speaks another protocol."""
        fields = self.command("id").fields
        if fields.get("proto") != P.PROTO_VERSION:
            raise ProtocolError(
                "%s speaks protocol %s, this host speaks %d: update one of them"
                % (self.port, fields.get("proto"), P.PROTO_VERSION)
            )
        self.hello = fields
        return fields

    def status(self):
        return self.command("status").fields

    def clear_latch(self):
        """The deliberate two-step latch clear: ask, then confirm with the device's token."""
        return self.confirm(self.command("clear"))

    # ---- streams -------------------------------------------------------------------------
    def messages(self, kinds=None, timeout_s=None):
        """Yield messages (kept ones first), forever; DeviceTimeout if the device goes silent."""
        wait = self.timeout_s if timeout_s is None else timeout_s
        while True:
            msg = self.backlog.popleft() if self.backlog else self.read_message(wait)
            if msg is None:
                raise DeviceTimeout("%s sent nothing for %g s" % (self.port, wait))
            if kinds is None or msg.kind in kinds:
                yield msg

    def records(self, timeout_s=None):
        return self.messages(("rec",), timeout_s)

    def events(self, timeout_s=None):
        return self.messages(("ev",), timeout_s)

    def raise_on_integrity(self):
        """IntegrityError if any line was lost, corrupted or reordered so far."""
        problems = self.check.problems()
        if problems:
            raise IntegrityError("%s: %s" % (self.port, ", ".join(problems)))

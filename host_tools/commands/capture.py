"""`pumpctl capture`: record every device line to a capture file, riding out USB reconnects and
the hand-over of a shared port; says when it is ready and how it goes."""

import json
import sys
import time

from host_tools.commands.options import add_port_argument, fill_port, positive_seconds
from host_tools.link import discovery, session
from host_tools.link.errors import UserError
from host_tools.link.seqcheck import SeqTracker
from host_tools.logs import capfile
from pumpfw import protocol

RETRY_S = 0.5  # how often to try the port again after it vanished
READ_TIMEOUT_S = 0.2  # readline() returns at least this often, so --duration is honoured


class CaptureStats:
    """What the progress line and the end-of-capture summary report, counted as lines arrive."""

    def __init__(self):
        self.lines = 0
        self.checksum_failures = 0
        self.undecodable = 0  # unframed text, bad encoding, or a good frame with a bad body
        self.partial = 0  # undecodable lines cut short by a disconnect (no end of line)
        self.reconnects = 0
        self.decoded = 0
        self.proto_seen = None  # the proto= of a hello that differs from ours
        self.seq = SeqTracker()

    @property
    def seq_gaps(self):
        return self.seq.gaps

    @property
    def seq_missing(self):
        return self.seq.missing

    @property
    def reordered(self):
        return self.seq.reordered

    def feed(self, raw):
        self.lines += 1
        msg, reason, _ = capfile.decode(raw)
        if msg is None:
            if reason != "unframed":
                self.seq.corrupt()
            if not raw.endswith(b"\n"):
                self.partial += 1
            elif reason == "checksum":
                self.checksum_failures += 1
            else:
                self.undecodable += 1
            return
        self.decoded += 1
        if msg.kind == "hello" and msg.fields.get("proto") != protocol.PROTO_VERSION:
            self.proto_seen = msg.fields.get("proto")
        self.seq.see(msg)

    def progress(self):
        """One line: how the capture goes so far."""
        return "%d lines, %d gaps (%d missing), %d checksum failures, %d reconnects" % (
            self.lines, self.seq_gaps, self.seq_missing, self.checksum_failures, self.reconnects)

    def summary_lines(self):
        return [
            "captured %d lines, %d reconnects" % (self.lines, self.reconnects),
            "sequence gaps: %d (%d lines missing), %d out of order"
            % (self.seq_gaps, self.seq_missing, self.reordered),
            "checksum failures: %d (other undecodable lines: %d, cut short: %d)"
            % (self.checksum_failures, self.undecodable, self.partial),
        ]

    def warnings(self):
        out = []
        if self.lines and not self.decoded:
            out.append("no line decoded: is the board running this firmware (pumpctl flash)?")
        if self.proto_seen is not None:
            out.append("the board speaks protocol %s, this pumpctl speaks %d: update one of them"
                       % (self.proto_seen, protocol.PROTO_VERSION))
        return out


class Progress:
    """Shows the capture going on stderr: on a terminal one line redrawn twice a second;
    otherwise a line only when something happens (a gap, a checksum failure, a reconnect)."""

    def __init__(self, stats, out=None, every_s=0.5):
        self.stats = stats
        self.out = out or sys.stderr
        self.tty = self.out.isatty()
        self.every_s = every_s
        self.shown = 0.0
        self.last = (0, 0, 0)

    def __call__(self, line=None):
        s = self.stats
        now = time.monotonic()
        notable = (s.seq_gaps, s.checksum_failures, s.reconnects)
        if self.tty and (now - self.shown >= self.every_s or notable != self.last):
            self.out.write("\r\x1b[2Kcapture: " + s.progress())
            self.out.flush()
            self.shown = now
        elif not self.tty and notable != self.last:
            self.out.write("capture: " + s.progress() + "\n")
            self.out.flush()
        self.last = notable

    def note(self, text):
        """What happened to the connection, on its own line, as it happens."""
        self.out.write(("\r\x1b[2K" if self.tty else "") + "capture: " + text + "\n")
        self.out.flush()
        self.shown = 0.0

    def close(self):
        if self.tty:
            self.out.write("\n")
            self.out.flush()


class LineReader:
    """Whole lines from a pyserial-like port whose readline() may return a partial line on
    timeout; a partial line is only handed out when the connection is lost (see flush())."""

    def __init__(self, port):
        self.port = port
        self.pending = b""

    def readline(self):
        """A complete line (EOL included), or None if none is complete yet."""
        chunk = self.port.readline()
        if not chunk:
            return None
        self.pending += chunk
        if not self.pending.endswith(b"\n"):
            return None
        line, self.pending = self.pending, b""
        return line

    def flush(self):
        line, self.pending = self.pending, b""
        return line


def run(open_port, writer, stats, duration_s=None, clock_ns=time.time_ns,
        monotonic_s=time.monotonic, sleep_s=time.sleep, on_line=None, on_event=None):
    """The capture loop. open_port() -> an object with readline() and close(); it raises
    OSError (pyserial's SerialException is one) when the port is gone. Ends when duration_s
    has passed (None: never; stop it with KeyboardInterrupt, which propagates).
    on_event(text): what happened to the connection, in the user's words, as it happens; the
    file gets the same words (its gap and reconnect marks)."""
    t0 = monotonic_s()
    tell = on_event or (lambda text: None)

    def expired():
        return duration_s is not None and monotonic_s() - t0 >= duration_s

    reader = LineReader(open_port())
    try:
        while not expired():
            try:
                line = reader.readline()
            except OSError as exc:
                _keep(reader.flush(), writer, stats, clock_ns, on_line, tell)
                _close(reader.port)
                port = _hand_over(open_port, writer, stats, clock_ns, tell, exc)
                if port is None:
                    port = _board_gone(open_port, expired, sleep_s, writer, stats, clock_ns,
                                       monotonic_s, tell, exc)
                if port is None:
                    return
                reader = LineReader(port)
                continue
            if line is not None:
                _keep(line, writer, stats, clock_ns, on_line, tell)
    finally:
        _keep(reader.flush(), writer, stats, clock_ns, on_line, tell)
        _close(reader.port)


def _hand_over(open_port, writer, stats, clock_ns, tell, exc):
    """The connection ended and the port opens again at once: the pumpctl that served the
    port stopped and another took over (docs/port-sharing.md). None if it does not open."""
    try:
        port = open_port()
    except OSError:
        return None
    stats.reconnects += 1
    words = "port handed over: the pumpctl serving it stopped (%s); reconnected at once" % exc
    writer.mark("gap", clock_ns(), words)
    writer.mark("reconnect", clock_ns(), "port handed over: reconnected")
    tell(words)
    return port


def _board_gone(open_port, expired, sleep_s, writer, stats, clock_ns, monotonic_s, tell, exc):
    """The port does not open again: the board (or its cable, or its process) is gone. Says so
    now, then waits for it; says when it is back."""
    words = "board gone: its port closed (%s) and does not open again; waiting for it" % exc
    writer.mark("gap", clock_ns(), words)
    tell(words)
    since = monotonic_s()
    port = _reopen(open_port, expired, sleep_s)
    if port is None:
        return None
    stats.reconnects += 1
    back = "board back after %.1f s: recording again" % (monotonic_s() - since)
    writer.mark("reconnect", clock_ns(), back)
    tell(back)
    return port


def _keep(line, writer, stats, clock_ns, on_line, tell=None):
    if not line:
        return
    writer.line(line, clock_ns())
    gaps, missing = stats.seq_gaps, stats.seq_missing
    stats.feed(line)
    if stats.seq_gaps != gaps and tell is not None:
        lost = stats.seq_missing - missing
        words = "lines missing: %d line%s the board sent never arrived (sequence gap)" % (
            lost, "" if lost == 1 else "s")
        writer.mark("note", clock_ns(), words)
        tell(words)
    if on_line is not None:
        on_line(line)


def _reopen(open_port, expired, sleep_s):
    """Every RETRY_S (a USB device coming back) until it opens or the time is up."""
    while not expired():
        sleep_s(RETRY_S)
        try:
            return open_port()
        except OSError:
            continue
    return None


def _close(port):
    try:
        port.close()
    except OSError:
        pass


# ---- the command --------------------------------------------------------------------------


def client_opener(url):
    """open_port() for run(): the protocol client's connection (shared with this machine's other
    pumpctl processes); its port is read raw (the client's own reader decodes and drops what
    does not decode, a capture keeps it)."""
    from host_tools.link import client, errors

    def open_port():
        try:
            return client.Client(url).connect().ser
        except errors.TransportError as exc:
            raise OSError(str(exc)) from None

    return open_port


def argparse_capture(parser):
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="capture file (appended to if it exists)")
    add_port_argument(parser)
    parser.add_argument("--duration", type=positive_seconds, default=None, metavar="S",
                        help="stop after S seconds (default: until Ctrl-C)")
    parser.add_argument("--subject", metavar="ID",
                        help="pseudonymous subject ID kept in the capture's header (letters,"
                        " digits, . _ -); loading a folder gives it as the subject column")
    parser.add_argument("--csv", metavar="F", help="also export the decoded lines as CSV")
    parser.add_argument("--parquet", metavar="F", help="also export them as Parquet")
    parser.add_argument("--json", action="store_true",
                        help="also one JSON object per line on stdout: kind start (the port,"
                        " the board, the file), note (board gone, port handed over, lines"
                        " missing, as they happen) and end (why, and the counts)")


def do_capture(args, open_port=None, progress_out=None):
    if getattr(args, "subject", None) is not None:
        capfile.check_subject(args.subject)  # before the port is opened
    fill_port(args)
    hello = None
    if open_port is not None:
        url = args.port
    elif args.port == "auto":  # the one board that fits, named below
        url, client, hello = discovery.find_auto(args.timeout)
        client.close()
    else:
        url = discovery.resolve(args.port)
    board = "%s %s, " % (hello.get("board"), hello.get("fw")) if hello else ""
    who = " (%sserial %s)" % (board, discovery.serial_id(url)) if open_port is None else ""
    open_port = open_port or client_opener(url)
    try:
        first = open_port()
    except OSError as exc:
        raise UserError(session.open_failure(url, exc)) from None
    handed = [first]

    def opener():
        return handed.pop() if handed else open_port()

    stats = CaptureStats()
    try:
        writer = capfile.CaptureWriter(args.output, port=url, host_ns=time.time_ns(),
                                       subject=getattr(args, "subject", None))
    except UserError:
        first.close()
        raise
    except OSError as exc:
        first.close()
        raise UserError("cannot write %s: %s" % (args.output, exc.strerror)) from None
    progress = Progress(stats, progress_out)
    emit = _json_lines if getattr(args, "json", False) else (lambda obj: None)
    until = "for %g s" % args.duration if args.duration else "until Ctrl-C"
    print("capture: recording %s%s to %s %s" % (url, who, args.output, until),
          file=progress.out, flush=True)
    emit({"kind": "start", "output": str(args.output), "duration_s": args.duration,
          "board": discovery.identity(url, hello)})

    def tell(words):  # on screen, and for a script the same words with their reason first
        progress.note(words)
        emit({"kind": "note", "what": words.split(":", 1)[0], "text": words})

    why = "duration reached"
    try:
        run(opener, writer, stats, duration_s=args.duration, on_line=progress, on_event=tell)
    except KeyboardInterrupt:
        why = "stopped by the user"
    finally:
        writer.mark("end", time.time_ns(), why)
        writer.close()
        progress.close()
    for line in stats.summary_lines() + stats.warnings():
        print(line, file=sys.stderr)
    emit({"kind": "end", "why": why, "lines": stats.lines, "reconnects": stats.reconnects,
          "gaps": stats.seq_gaps, "missing": stats.seq_missing, "reordered": stats.reordered,
          "checksum_failures": stats.checksum_failures, "undecodable": stats.undecodable,
          "cut_short": stats.partial, "warnings": stats.warnings()})
    export(args.output, args.csv, args.parquet)
    return 0


def _json_lines(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def export(capture_path, csv_path=None, parquet_path=None):
    """Write the decoded lines (logs.Log.messages) of a capture as CSV and/or Parquet."""
    if not csv_path and not parquet_path:
        return
    from host_tools import logs  # pandas: only when exporting (a capture starts at once)

    messages = logs.load(capture_path).messages
    if csv_path:
        messages.to_csv(csv_path, index=False)
    if parquet_path:
        messages.to_parquet(parquet_path, index=False)

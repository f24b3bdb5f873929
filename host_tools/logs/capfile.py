"""The capture file: one received line per text line, raw bytes escaped, host time in ns."""

# Format (docs/logs.md):
#   # isapump capture v1 started=<ISO UTC> port=<port>      header, first line
#   <host_ns>\t<escaped raw bytes of one received line, EOL included>
#   # gap <host_ns> <why>            the connection was lost here
#   # reconnect <host_ns> <port>     ... and came back here
#   # end <host_ns> <why>            the capture ended normally
# Every byte outside printable ASCII, and the backslash, is escaped (\\ \t \r \n \xHH), so a
# line of the file never contains a raw CR, LF or TAB and the original bytes come back exactly.
import datetime
import os

from host_tools.link.errors import UserError  # noqa: F401 - capfile.UserError, as before
from host_tools.link.seqcheck import SeqTracker  # noqa: F401 - the one tracker, for logs and capture
from pumpfw import protocol

HEADER = "# isapump capture v1"
MARKERS = ("gap", "reconnect", "end", "note")


_ESCAPES = {0x5C: "\\\\", 0x09: "\\t", 0x0D: "\\r", 0x0A: "\\n"}
_TABLE = tuple(
    _ESCAPES.get(b, chr(b) if 0x20 <= b <= 0x7E else "\\x%02x" % b) for b in range(256)
)
_UNESCAPES = {"\\": 0x5C, "t": 0x09, "r": 0x0D, "n": 0x0A}


def escape(raw):
    """bytes -> one line of printable ASCII (no TAB, CR or LF)."""
    return "".join([_TABLE[b] for b in raw])


def unescape(text):
    """The inverse of escape(). Raises ValueError on a malformed escape."""
    if "\\" not in text:
        return text.encode("latin-1")  # nothing escaped: every char is its own byte
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "\\":
            out.append(ord(ch))
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in _UNESCAPES:
            out.append(_UNESCAPES[nxt])
            i += 2
        elif nxt == "x" and len(text) >= i + 4:
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            raise ValueError("bad escape at column %d" % i)
    return bytes(out)


def iso_utc(host_ns):
    seconds = host_ns / 1e9
    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


SUBJECT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def check_subject(subject):
    """A subject ID as the capture header keeps it: 1-64 of A-Z a-z 0-9 . _ - (no spaces, so
    it stays one word); anything else is a UserError that names the rule."""
    if not subject or len(subject) > 64 or not set(subject) <= SUBJECT_CHARS:
        raise UserError("subject %r: use 1-64 letters, digits, '.', '_' or '-' (a pseudonymous"
                        " ID, never a name)" % subject)
    return subject


def header_fields(text):
    """The key=value words of a capture header line (started, port, subject)."""
    if not text.startswith(HEADER):
        return {}
    return dict(w.split("=", 1) for w in text[len(HEADER):].split() if "=" in w)


class CaptureWriter:
    """Appends lines to a capture file, flushed line by line (a crash loses at most one line).
    subject: the pseudonymous subject ID kept in the header; appending to a capture of another
    subject is refused before anything is written."""

    def __init__(self, path, port="", host_ns=0, subject=None):
        self.path = os.fspath(path)
        if subject is not None:
            check_subject(subject)
        fresh = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
        if not fresh:
            with open(self.path, "rb") as f:
                first = f.readline().decode("ascii", "replace").rstrip("\n")
            had = header_fields(first).get("subject")
            if subject is not None and had != subject:
                raise UserError("%s is the capture of subject %s, not %s: use another file"
                                % (self.path, had or "(none)", subject))
        self._file = open(self.path, "a", encoding="ascii", newline="\n")  # noqa: SIM115
        if fresh:
            tail = " subject=%s" % subject if subject is not None else ""
            self._put("%s started=%s port=%s%s\n" % (HEADER, iso_utc(host_ns), port or "-", tail))
        else:
            self.mark("note", host_ns, "appended to an existing capture")

    def _put(self, text):
        self._file.write(text)
        self._file.flush()

    def line(self, raw, host_ns):
        self._put("%d\t%s\n" % (host_ns, escape(raw)))

    def mark(self, kind, host_ns, text=""):
        if kind not in MARKERS:
            raise ValueError("unknown marker %r" % kind)
        clean = escape(text.encode("utf-8", "replace"))
        self._put(("# %s %d %s" % (kind, host_ns, clean)).rstrip() + "\n")

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_capture(path):
    """Yield (line_no, kind, host_ns, payload) for every line of a capture file.

    kind "line": payload is the raw bytes received; "marker": payload is (name, text);
    "header"/"comment": payload is the text; "bad": a file line that is not in the format
    (payload: the text). A file without our header is read as a plain device log: each of its
    lines is a raw line with host_ns None.
    """
    with open(path, "rb") as f:
        data = f.read()
    yield from iter_capture(data)


def iter_capture(data):
    """read_capture() on the bytes of a file."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    ours = bool(lines) and lines[0].startswith(HEADER.encode())
    for index, line in enumerate(lines):
        yield (index + 1,) + parse_capture_line(line, ours)


def parse_capture_line(line, ours):
    """One line of a capture file (no LF) -> (kind, host_ns, payload) as read_capture gives."""
    if not ours:
        return "line", None, line + b"\n"
    text = line.decode("ascii", "replace")
    if text.startswith("#"):
        return _comment(text)
    ns_text, tab, body = text.partition("\t")
    if not tab or not ns_text.isdigit():
        return "bad", None, text
    try:
        return "line", int(ns_text), unescape(body)
    except ValueError:
        return "bad", int(ns_text), text


def _comment(text):
    if text.startswith(HEADER):
        return "header", None, text
    words = text[2:].split(" ", 2)
    if len(words) >= 2 and words[0] in MARKERS and words[1].isdigit():
        note = unescape(words[2]).decode("utf-8", "replace") if len(words) == 3 else ""
        return "marker", int(words[1]), (words[0], note)
    return "comment", None, text


def decode(raw):
    """raw bytes -> (Message or None, error reason name or "", error text). The reason is a
    protocol.REASONS name, or "unframed" for text without any *CRC (a REPL banner, a
    traceback): only a line that carries a checksum can fail it."""
    try:
        return protocol.parse_line(raw), "", ""
    except protocol.LineError as exc:
        reason = protocol.REASONS[exc.reason]
        if reason == "checksum" and b"*" not in raw:
            reason = "unframed"
        return None, reason, exc.text

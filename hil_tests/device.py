"""The `pump` fixture's object: the protocol client, plus a device log, expect() and fail-fast."""

import time

from host_tools.link.client import Client
from host_tools.link.errors import DeviceTimeout


class FirmwareCrash(AssertionError):
    """The board printed a Python traceback: the firmware died, the test stops here."""


class Pump(Client):
    """Client that keeps every raw line for the test record and fails fast on a traceback.

    Every decoded message is also kept, in order, in `seen` (expect() consumes the backlog,
    `seen` keeps all), so a test can measure from the device's own events after the fact.
    """

    def __init__(self, port, log, timeout_s=5.0):
        Client.__init__(self, port, timeout_s=timeout_s)
        self.log = log
        self.seen = []
        self._crash = None
        self.on_line = self._on_line

    def _on_line(self, line):
        self.log.append(line)
        self._watch_for_traceback(line)

    def _watch_for_traceback(self, line):
        # MicroPython prints "Traceback (most recent call last):", indented "  File ..."
        # lines, then one unindented "Type: message" line, which ends it.
        if self._crash is None:
            if line.startswith(b"Traceback (most recent call last)"):
                self._crash = [line]
            return
        self._crash.append(line)
        if not line[:1].isspace():
            text = b"".join(self._crash).decode(errors="replace")
            self._crash = None
            raise FirmwareCrash("the firmware crashed:\n" + text)

    def read_message(self, timeout_s=None):
        msg = Client.read_message(self, timeout_s)
        if msg is not None:
            self.seen.append(msg)
        return msg

    def reopen(self):
        """Close and open the port again (a board that re-enumerated after a power cycle)."""
        self.close()
        self.connect()

    def write_raw(self, data):
        """Bytes exactly as given: no framing, no checksum (for bad-input tests)."""
        self._write(data)

    # ---- waiting for messages ------------------------------------------------------------
    def _match(self, msg, kind, name, where):
        if msg.kind != kind or (name is not None and msg.name != name):
            return False
        return where is None or where(msg)

    def find_kept(self, kind, name=None, where=None):
        """The first already-read message that matches, consuming those before it; None (and
        an empty backlog) if none of them does."""
        while self.backlog:
            msg = self.backlog.popleft()
            if self._match(msg, kind, name, where):
                return msg
        return None

    def expect(self, kind, name=None, timeout_s=None, where=None):
        """The next message of this kind (and name, and where(msg) true); earlier ones are
        consumed. DeviceTimeout if none comes in time."""
        wait = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait
        found = self.find_kept(kind, name, where)
        while found is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout("no %s %s within %g s" % (kind, name or "", wait))
            msg = self.read_message(min(left, 1.0))
            if msg is not None and self._match(msg, kind, name, where):
                found = msg
        return found

    def run(self, name, *args, timeout_s=None):
        """A command that must succeed; confirms it at once if the device asks."""
        msg = self.command(name, *args, timeout_s=timeout_s)
        if msg.kind == "ask":
            msg = self.confirm(msg, timeout_s=timeout_s)
        return msg

    # ---- what the device said ------------------------------------------------------------
    def events_seen(self, name=None, since=None):
        """Events read so far (by name), optionally only those after message `since`."""
        start = 0 if since is None else self.seen.index(since) + 1
        return [m for m in self.seen[start:] if m.kind == "ev" and (name is None or
                                                                    m.name == name)]

    def records_seen(self):
        return [m for m in self.seen if m.kind == "rec"]

    def last_event(self, name):
        found = self.events_seen(name)
        assert found, "the device sent no %s event" % name
        return found[-1]

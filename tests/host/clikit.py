"""Helpers for the pumpctl command tests: run the CLI, and small TCP devices that are not pumps
(garbage, silence, another protocol version) or are a fake pump that accepts many connections."""

import re
import socket
import threading

from fakedevice import FakeApp

from host_tools.commands import cli
from pumpfw import commands, linein, logout
from pumpfw import protocol as P


def run_cli(capsys, *argv):
    """pumpctl argv -> (exit status, stdout, stderr); a traceback would fail the test."""
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


class LineServer:
    """A TCP device: answer(line) -> bytes to send back (or b""); one thread per connection."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.url = "socket://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.lines = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(0.2)
        buf = b""
        with conn:
            while not self.stop.is_set():
                try:
                    data = conn.recv(256)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self.lines.append(line.strip())
                    reply = self.answer(line.strip())
                    if reply:
                        conn.sendall(reply)

    def close(self):
        self.stop.set()
        self.sock.close()


def garbage_device():
    return LineServer(lambda line: b"ERROR: unknown command\r\n>>> \r\n")


def silent_device():
    return LineServer(lambda line: b"")


def other_protocol_device(proto=2):
    """Answers `id` as a pump that speaks protocol `proto`."""
    count = [0]

    def answer(line):
        m = re.match(rb"(\d+) id\*", line)
        if not m:
            return b""
        count[0] += 1
        body = "ok %s id proto=%d fw=9.0.0 board=pico steps_per_ml=16000" % (
            m.group(1).decode(), proto)
        return P.frame(count[0], body)

    return LineServer(answer)


class FakePump:
    """The real dispatcher on FakeApp, behind a port that accepts one connection after another
    (flash connects, lets go for mpremote, then connects again to verify)."""

    def __init__(self, board="pico", fw=None):
        self.app = FakeApp()
        self.app.board_name = board
        if fw is not None:
            self.app.fw_version = fw
        self.out = logout.LogOut(4096)
        self.disp = commands.Dispatcher(self.app, self.out)
        self.app.controller.on_event = self.disp.event
        self.lines = linein.LineIn(P.MAX_LINE_BYTES)
        self.now_ms = 0
        self.lock = threading.Lock()
        self.server = LineServer(self._answer)
        self.url = self.server.url

    def _answer(self, line):
        if self.app.repl and not line:
            return b"\r\n>>> "  # after `repl`: MicroPython's REPL prompt for an empty line
        with self.lock:
            self.now_ms += 10
            for b in line + b"\n":
                self.disp.handle(self.lines.feed(b), self.lines.line(), self.now_ms)
            chunks = []
            self.out.drain(lambda view: chunks.append(bytes(view)) or len(view), 1 << 16)
            return b"".join(chunks)

    def close(self):
        self.server.close()

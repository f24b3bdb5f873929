"""A fake pump for host tests: the real firmware serial pieces behind a TCP socket:// port."""

import os
import socket
import threading
import tty

from serialkit import AppHandlers

from pumpfw import commands, linein, logout
from pumpfw import controller as ctl
from pumpfw import protocol as P
from pumpfw.schedule import ISATUXIMAB_250


class FakeApp(AppHandlers):
    """The dispatcher's app interface, on a virtual clock."""

    fw_version = "0.1.0-fake"
    board_name = "fake"
    reset_cause = 1

    def __init__(self):
        self.controller = ctl.Controller(ISATUXIMAB_250, 400_000)
        self.clock = logout.RecordClock(1000)
        self.steps_per_ml = 20_000
        self.repl = 0
        self.cal_sets = 0

    @property
    def log_interval_ms(self):
        return self.clock.interval_ms

    def set_log_interval(self, now_ms, ms):
        self.clock.interval_ms = ms
        return P.E_OK

    def set_steps_per_ml(self, now_ms, n):
        self.cal_sets += 1
        self.steps_per_ml = n
        return P.E_OK

    def steps_made(self):
        return self.controller.delivered_ul * self.steps_per_ml // 1000

    def request_repl(self, now_ms):
        self.repl += 1
        return P.E_OK


class FakeDevice:
    """Serves one connection; each loop pass advances the virtual clock by tick_ms.

    burst(n) makes the device produce n records back to back (one per pass, no waiting for the
    host) and reports, through burst_done, that the producer finished.
    """

    def __init__(self, tick_ms=10, capacity_bytes=2048, sndbuf_bytes=4096, pty=False):
        self.app = FakeApp()
        self.out = logout.LogOut(capacity_bytes)
        self.disp = commands.Dispatcher(self.app, self.out)
        self.app.controller.on_event = self.disp.event
        self.lines = linein.LineIn(P.MAX_LINE_BYTES)
        self.tick_ms = tick_ms
        self.now_ms = 0
        if pty:
            self.server = PtyPort()
            self.url = self.server.path
        else:
            self.server = socket.socket()
            self.server.bind(("127.0.0.1", 0))
            self.server.listen(1)
            self.url = "socket://127.0.0.1:%d" % self.server.getsockname()[1]
        self.sndbuf_bytes = sndbuf_bytes
        self.stop_flag = threading.Event()
        self.burst_left = 0
        self.burst_done = threading.Event()
        self.produced = 0
        self.corrupt_next = False
        self.reboot_next = False
        self.mute = threading.Event()  # set: the device hangs (reads and writes nothing)
        self.muted = threading.Event()  # set by the device's loop once it has stopped
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def burst(self, n):
        self.burst_done.clear()
        self.burst_n = n
        self.burst_left = n

    def hang(self):
        """The device stops reading and writing; returns once its loop has stopped."""
        self.mute.set()
        assert self.muted.wait(5), "the fake device's loop did not stop"

    def close(self):
        self.stop_flag.set()
        self.thread.join(5)
        self.server.close()

    def _serve(self):
        self.server.settimeout(5)
        conn, _ = self.server.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf_bytes)
        conn.setblocking(False)
        self.disp.hello()
        try:
            while not self.stop_flag.is_set():
                if self.mute.is_set():
                    self.muted.set()
                    self.stop_flag.wait(0.01)
                    continue
                self._pass(conn)
                if not self.burst_left and not self.out.used:
                    self.stop_flag.wait(0.001)
        finally:
            conn.close()

    def _write(self, conn, view):
        data = bytes(view)
        if self.corrupt_next and len(data) > 3:
            self.corrupt_next = False
            data = data[:2] + bytes([data[2] ^ 0x01]) + data[3:]
        try:
            return conn.send(data)
        except (BlockingIOError, InterruptedError):
            return 0  # the host is not reading: never wait
        except OSError:
            self.stop_flag.set()  # the host closed the port
            return 0

    def _pass(self, conn):
        self.now_ms += self.tick_ms
        if self.reboot_next:  # what the host sees of a reboot: numbering restarts at a hello
            self.reboot_next = False
            self.out.used = 0
            self.out.seq = 0
            self.out.dropped = 0
            self.disp.hello()
        try:
            data = conn.recv(256)
        except (BlockingIOError, InterruptedError):
            data = b""
        for b in data:
            self.disp.handle(self.lines.feed(b), self.lines.line(), self.now_ms)
        c = self.app.controller
        c.tick(self.now_ms, c.delivered_ul + (c.rate_ul_h * self.tick_ms) // 3_600_000)
        if self.burst_left:
            if self.burst_left == self.burst_n:
                self.burst_start = (self.now_ms, self.out.dropped)
            self.disp.record(self.now_ms)
            self.produced += 1
            self.burst_left -= 1
            if not self.burst_left:
                self.burst_end = (self.now_ms, self.out.dropped)
                self.burst_done.set()
        elif self.app.clock.due(self.now_ms):
            self.disp.record(self.now_ms)
            self.produced += 1
        self.out.drain(lambda view: self._write(conn, view))


class PtyPort:
    """A pseudo-terminal: the host opens `path` like /dev/ttyACM0; the device uses the master."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no CR/LF translation: bytes pass as on USB CDC
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    # The socket calls FakeDevice uses, on the master side.
    def settimeout(self, _s):
        pass

    def accept(self):
        return self, None

    def setsockopt(self, *_args):
        pass

    def setblocking(self, _flag):
        pass

    def recv(self, n):
        try:
            return os.read(self.master, n)
        except BlockingIOError:
            raise
        except OSError:
            return b""  # no host has the slave open

    def send(self, data):
        return os.write(self.master, data)

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self.master = self.slave = -1

"""A pty bridged to a TCP port, so tools that want a tty path open a socket:// endpoint as one."""

import os
import select
import socket
import threading
import tty


class PtyBridge:
    """Opens a pty and copies bytes both ways between its master and a TCP connection.

    `path` (e.g. /dev/pts/7) opens like /dev/ttyACM0 for miniterm, mpremote or pyserial. Our own
    slave fd stays open, so clients may come and go without the master seeing EIO. A reader that
    is slow is waited for, so the board sees a host that reads slowly, as over USB. When the pty
    stays full for reader_grace_s (no tool has it open, or one has stopped reading), what it
    cannot hold is dropped, counted in `dropped_bytes`, until it has room again: the bridge
    never stops taking the board's output, so it never holds up the board's other clients
    (issue 12). A reader that comes back finds at most a pty buffer (~20 KB) of old lines, then
    the current ones from a line start.
    """

    reader_grace_s = 0.5

    def __init__(self, host, port, connect_timeout_s=5.0):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: bytes as a USB CDC passes them
        self.path = os.ttyname(self._slave)
        os.set_blocking(self.master, False)
        self._fds_open = True
        self.dropped_bytes = 0
        self._skip_to_eol = False  # a drop ended mid-line: resume after the next line end
        self._dropping = False  # the pty stayed full for reader_grace_s: nobody reads it
        self.taken_bytes = 0  # the board's output taken from the socket, written or dropped
        self.sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._closed = threading.Event()
        self._threads = [
            threading.Thread(target=self._tcp_to_pty, name="pty-in", daemon=True),
            threading.Thread(target=self._pty_to_tcp, name="pty-out", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _wait(self, fd, write):
        """True when fd is ready; False once the bridge is closing (checked every 0.2 s)."""
        while not self._closed.is_set():
            r, w, _ = select.select([] if write else [fd], [fd] if write else [], [], 0.2)
            if r or w:
                return True
        return False

    def _tcp_to_pty(self):
        try:
            while self._wait(self.sock, False):
                data = self.sock.recv(4096)
                if not data:
                    break
                self._to_pty(data)
                self.taken_bytes += len(data)
        except OSError:
            pass
        self._stop()

    def _to_pty(self, data):
        if self._skip_to_eol:
            lf = data.find(b"\n")
            self.dropped_bytes += len(data) if lf < 0 else lf + 1
            if lf < 0:
                return
            data = data[lf + 1 :]
            self._skip_to_eol = False
        view = memoryview(data)
        while view:
            if self._dropping and not self._writable(0):
                break  # still nobody reading
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                n = 0
            if n:
                self._dropping = False
                view = view[n:]
            elif not self._writable(self.reader_grace_s):
                self._dropping = True  # nobody reads: the board must not wait for the pty
                break
        if view:
            self.dropped_bytes += len(view)
            self._skip_to_eol = view[-1] != 10  # resume at a line start

    def _writable(self, timeout_s):
        return bool(select.select([], [self.master], [], timeout_s)[1])

    def _pty_to_tcp(self):
        try:
            while self._wait(self.master, False):
                try:
                    data = os.read(self.master, 4096)
                except BlockingIOError:
                    continue
                if not data:
                    break
                self.sock.sendall(data)
        except OSError:
            pass
        self._stop()

    def _stop(self):
        self._closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self):
        """Stop both copies, then release the fds (only once no thread can still use them)."""
        self._stop()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(2.0)
        if self._fds_open:
            self._fds_open = False
            self.sock.close()
            for fd in (self.master, self._slave):
                os.close(fd)

"""A pyserial-like port over a stream socket (socket:// URLs and the port broker's local socket),
and open_url(): any pyserial URL or path, with socket:// served by SocketPort."""

import os
import select
import socket
import time
from urllib.parse import urlparse

import serial


class PortClosed(serial.SerialException):
    """The other end closed the connection; `why` says what it said, if anything."""


class SocketPort:
    """The part of pyserial's Serial that host_tools uses (read, readline, write, in_waiting,
    reset_input_buffer, close, fileno), over a connected socket. Unlike pyserial's socket://,
    close() returns at once."""

    def __init__(self, sock, name, timeout=None, write_timeout=None):
        self._sock = sock
        self.name = self.port = name
        self.timeout = timeout
        self.write_timeout = write_timeout
        self._buf = bytearray()
        self._eof = False
        self._wake = os.pipe()  # cancel_read() writes to it: a waiting read() returns
        self._cancelled = False
        self.closed_why = ""  # set by whoever knows why the other end went away
        self.is_open = True

    # ---- reading ---------------------------------------------------------------------------
    def _fill(self, wait_s):
        """Receive what is there (waiting up to wait_s for the first byte); False at EOF."""
        if self._eof:
            return False
        if self._sock is None:
            raise PortClosed("%s is closed" % self.name)
        waits = [self._sock, self._wake[0]]
        ready, _, _ = select.select(waits, [], [], max(0.0, wait_s))
        if self._sock not in ready:
            if ready:
                os.read(self._wake[0], 64)
                self._cancelled = True
            return True
        try:
            data = self._sock.recv(65536)
        except OSError as exc:
            raise PortClosed("%s: %s" % (self.name, exc)) from None
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def _deadline(self):
        return None if self.timeout is None else time.monotonic() + self.timeout

    def _left(self, deadline):
        return 3600.0 if deadline is None else deadline - time.monotonic()

    def _gone(self):
        raise PortClosed(self.closed_why or "%s: the other end closed the connection" % self.name)

    @property
    def in_waiting(self):
        if not self._fill(0) and not self._buf:
            self._gone()
        return len(self._buf)

    def cancel_read(self):
        """Make a read() waiting in another thread return now (as pyserial's does)."""
        if self._wake is not None:
            os.write(self._wake[1], b"x")

    def read(self, size=1):
        """Up to `size` bytes: returns when it has them all, the timeout has passed, or
        cancel_read() was called."""
        deadline = self._deadline()
        self._cancelled = False
        while len(self._buf) < size and not self._cancelled:
            left = self._left(deadline)
            if left <= 0 or not self._fill(left):
                break
        if not self._buf and self._eof:
            self._gone()
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out

    def readline(self):
        """Up to and including the next LF, or what came before the timeout."""
        deadline = self._deadline()
        while b"\n" not in self._buf:
            left = self._left(deadline)
            if left <= 0 or not self._fill(left):
                break
        if not self._buf and self._eof:
            self._gone()
        nl = self._buf.find(b"\n")
        end = nl + 1 if nl >= 0 else len(self._buf)
        out = bytes(self._buf[:end])
        del self._buf[:end]
        return out

    def reset_input_buffer(self):
        while self._fill(0) and select.select([self._sock], [], [], 0)[0]:
            pass
        self._buf.clear()

    # ---- writing ---------------------------------------------------------------------------
    def write(self, data):
        if self._sock is None:
            raise PortClosed("%s is closed" % self.name)
        self._sock.settimeout(self.write_timeout)
        try:
            self._sock.sendall(data)
        except TimeoutError:
            raise serial.SerialTimeoutException("write to %s timed out" % self.name) from None
        except OSError as exc:
            raise PortClosed(self.closed_why or "%s: %s" % (self.name, exc)) from None
        finally:
            self._sock.settimeout(None)
        return len(data)

    def flush(self):
        pass

    # ---- lifetime --------------------------------------------------------------------------
    def fileno(self):
        return self._sock.fileno()

    def close(self):
        if self._sock is not None:
            sock, self._sock = self._sock, None
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None
        self.is_open = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_url(url, baudrate=115200, timeout=None, write_timeout=None, exclusive=None):
    """A device path or pyserial URL, opened. socket://host:port becomes a SocketPort; the
    rest is pyserial's (serial.SerialException or OSError when it cannot be opened)."""
    if url.startswith("socket://"):
        u = urlparse(url)
        if not u.hostname or not u.port:
            raise serial.SerialException("not a socket URL (socket://host:port): %s" % url)
        try:
            sock = socket.create_connection((u.hostname, u.port), timeout=5)
        except OSError as exc:
            raise serial.SerialException("could not open %s: %s" % (url, exc)) from None
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketPort(sock, url, timeout, write_timeout)
    kwargs = {"exclusive": exclusive} if exclusive is not None else {}
    if url.startswith("rfc2217://"):
        # pyserial's RFC 2217 client (ser2net, a labgrid exporter: docs/hil.md) refuses a write
        # timeout; its writes go to a socket and block only while the peer does not read.
        write_timeout = None
    return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout,
                                 write_timeout=write_timeout, **kwargs)

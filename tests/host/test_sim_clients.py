"""Virtual-board harness: one serial client that does not read never starves the others; its
output is dropped once it is far behind, and counted (status `tx_dropped`)."""

import socket
import threading
import time
from urllib.parse import urlparse

from simkit import fixture_board


def flood_lines():
    """64-byte lines enough to pass what the kernel buffers for a client that does not read:
    its send buffer grows up to tcp_wmem's maximum (4 MB by default on Linux)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            most = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        most = 4 << 20
    return (most + (512 << 10)) // 64


class Reader:
    """A serial client that reads everything, in a thread, and watches for a marker line."""

    def __init__(self, url):
        self.sock = socket.create_connection((url.hostname, url.port))
        self.got = bytearray()
        self.marks = []
        self.seen = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.got.extend(chunk)
            for mark in self.marks:
                if mark in self.got[-4096:]:
                    self.seen.set()

    def expect(self, mark, wall_s=90):
        self.marks = [mark]
        deadline = time.monotonic() + wall_s  # a guard against a hang, not a speed assertion
        while not self.seen.wait(0.2):
            if mark in self.got:
                break
            assert time.monotonic() < deadline, "starved after %d bytes" % len(self.got)
        self.seen.clear()

    def close(self):
        self.sock.close()


def test_a_client_that_does_not_read_is_dropped_for_and_the_others_are_served():
    # A 64 KB device buffer (not the USB-like 4 KB) gets the megabytes out quickly.
    with fixture_board(hold=False, fast=True, extra_args=["--tx-buffer", "65536"]) as sim:
        url = urlparse(sim.serial_url)
        silent = socket.socket()
        # A small receive window: the kernel then buffers little for it (else ~4 MB).
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        silent.connect((url.hostname, url.port))  # connects, never reads
        reader = Reader(url)
        try:
            lines = flood_lines()
            reader.sock.sendall(b"flood %d\necho flood-over\n" % lines)
            reader.expect(b"flood-over")
            assert len(reader.got) >= lines * 64
            status = sim.status()
            assert status["tx_dropped"] > 0  # counted: what the silent client did not get
            reader.sock.sendall(b"echo still served\n")
            reader.expect(b"still served")
            # The silent client starts reading at last: first what was buffered for it, in whole
            # lines (it resumes at a line start after a drop), then the answer to its request.
            data = bytearray()
            silent.settimeout(2)
            try:
                while True:
                    chunk = silent.recv(1 << 16)
                    assert chunk, "the silent client's connection closed"
                    data.extend(chunk)
            except TimeoutError:
                pass  # caught up
            silent.sendall(b"echo silent-back\n")
            silent.settimeout(10)
            while b"silent-back\r\n" not in data:
                chunk = silent.recv(1 << 16)
                assert chunk, "the silent client's connection closed"
                data.extend(chunk)
            whole = {b"x" * 63, b"flood-over\r", b"still served\r", b"silent-back\r",
                     b"fixture boot cause=power_on\r"}
            pieces = bytes(data).split(b"\n")[:-1]
            assert pieces and all(p in whole for p in pieces), [
                p[:70] for p in pieces if p not in whole][:3]
        finally:
            silent.close()
            reader.close()

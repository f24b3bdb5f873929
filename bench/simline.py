"""The host end of the virtual board's serial for benchmarks: checked commands in, every byte
the device sends drained by a thread (as a host does: a full TX buffer would drop records)."""

import socket
import threading
import time

from host_tools.harness.served import host_port
from pumpfw import protocol as P


class SimLine:
    def __init__(self, sim):
        self.sim = sim
        self.sock = socket.create_connection(host_port(sim.serial_url), timeout=10)
        self.received = 0
        self.data = bytearray()
        self.keep = False  # keep the bytes (not only count them)
        self._seq = 0
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            self.received += len(chunk)
            if self.keep:
                self.data += chunk

    def command(self, name, *args, wait=True):
        """Send one checked command; with wait, return once the harness holds its bytes (so an
        advance sent next on the control socket cannot overtake it)."""
        self._seq += 1
        line = P.encode_command(self._seq, name, args)
        expected = self.sim.status()["rx_bytes"] + len(line) if wait else 0
        self.sock.sendall(line)
        deadline = time.monotonic() + 10
        while wait and self.sim.status()["rx_bytes"] < expected:
            if time.monotonic() > deadline:
                raise TimeoutError("the virtual board did not receive %r" % name)
            time.sleep(0.001)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""The port broker: the pumpctl process that opened a board's port serves it to the others on
this machine over a local socket, so capture, monitor, control and the HIL suite share one board.

Device -> clients: every line the device sends goes to every client, whole (a line is passed on
once its LF is in, or after IDLE_FLUSH_S of silence for a prompt without one). Clients -> device:
each client's bytes go on in whole lines (up to the last CR, LF or Ctrl-C), never interleaved
with another client's. Each client gets its own block of command sequence numbers in the
handshake, so responses (which echo the number) reach the right client and the device's
answer-a-repeated-line memory never mistakes one client's line for another's.
Docs: docs/port-sharing.md.
"""

import collections
import os
import random
import socket
import threading
import time

from pumpfw import protocol as P

HANDSHAKE = b"#isapump-broker 1"
SEQ_BLOCK = 10_000  # command numbers per client: 100 blocks in the protocol's 1 000 000
IDLE_FLUSH_S = 0.05
FINISH_LINE_S = 0.5
DRAIN_QUIET_S = 0.03  # letting go, the server reads on until the board is this quiet: the lines
# of one loop pass come back to back (a USB packet or a socket write apart), so a burst is not cut
CLIENT_BACKLOG_BYTES = 8 << 20  # a client this far behind is not reading: it is let go
_INPUT_ENDS = (b"\r", b"\n", b"\x03")  # where the device's line assembler finishes something


def _whole_line(line):
    """True if `line` is a whole line of the pump protocol (its own CRC vouches for it), not
    the tail of one the device was halfway through when the port was opened."""
    try:
        P.parse_line(line)
    except P.LineError:
        return False
    return True


class _Conn:
    """One client: a socket, its queue of device bytes and the thread that sends them."""

    def __init__(self, sock, block):
        self.sock = sock
        self.block = block
        self.queue = collections.deque()
        self.queued = 0
        self.ready = threading.Condition()
        self.open = True
        self.thread = threading.Thread(target=self._send, daemon=True, name="broker-send")
        self.thread.start()

    def push(self, data):
        with self.ready:
            if not self.open:
                return
            if self.queued > CLIENT_BACKLOG_BYTES:
                # Not reading: let it go (it sees the end, and its sequence check the loss)
                # rather than drop bytes silently or hold the others back.
                self.open = False
                self.queue.clear()
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)  # a blocked sendall returns
                except OSError:
                    pass
                self.ready.notify()
                return
            self.queue.append(data)
            self.queued += len(data)
            self.ready.notify()

    def _send(self):
        try:
            while True:
                with self.ready:
                    while self.open and not self.queue:
                        self.ready.wait()
                    if not self.queue:
                        break
                    data = b"".join(self.queue)
                    self.queue.clear()
                    self.queued = 0
                self.sock.sendall(data)
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def close(self):
        """Send what is queued, then end the connection."""
        with self.ready:
            self.open = False
            self.ready.notify()


class Broker:
    """Owns an open device and serves it at `path` (a unix socket) until close()."""

    def __init__(self, device, path, name):
        self.device = device
        self.path = path
        self.name = name
        self.write_lock = threading.Lock()
        self.clients = set()
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.next_block = random.randrange(1_000_000 // SEQ_BLOCK)
        self.partial = bytearray()
        self.device_lost = ""  # why the device went away, if it did
        self.closing_at = 0.0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(16)
        self.threads = [threading.Thread(target=self._accept, daemon=True, name="broker-accept"),
                        threading.Thread(target=self._read_device, daemon=True,
                                         name="broker-device")]
        for t in self.threads:
            t.start()

    # ---- clients ---------------------------------------------------------------------------
    def _accept(self):
        while not self.closing.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue  # closing: the loop ends
            block = (self.next_block % (1_000_000 // SEQ_BLOCK)) * SEQ_BLOCK
            self.next_block += 1
            conn = _Conn(sock, block)
            try:
                sock.sendall(b"%s seq=%d size=%d pid=%d\n" % (HANDSHAKE, block, SEQ_BLOCK,
                                                             os.getpid()))
            except OSError:
                sock.close()
                continue
            with self.lock:
                if self.closing.is_set():
                    sock.close()
                    return
                self.clients.add(conn)
            threading.Thread(target=self._read_client, args=(conn,), daemon=True,
                             name="broker-recv").start()

    def _read_client(self, conn):
        pending = b""
        try:
            while True:
                data = conn.sock.recv(4096)
                if not data:
                    break
                if self.closing.is_set():
                    break  # handing over: the client sends it again to the next server
                pending += data
                cut = max(pending.rfind(end) for end in _INPUT_ENDS) + 1
                if cut:
                    self._write(pending[:cut])
                    pending = pending[cut:]
        except OSError:
            pass
        if pending and not self.closing.is_set():
            self._write(pending)  # its last words, unterminated: as a direct port would
        with self.lock:
            self.clients.discard(conn)
        conn.close()

    def _write(self, data):
        with self.write_lock:
            try:
                self.device.write(data)
            except Exception:  # noqa: BLE001 - the device reader notices and ends the service
                pass

    # ---- the device ------------------------------------------------------------------------
    def _read_device(self):
        """Until closing, and then on to the end of the burst the device is sending (the lines
        of one loop pass, and the line it is halfway through), at most FINISH_LINE_S, so the
        next server starts between bursts, on a line boundary."""
        last = opened = time.monotonic()
        synced = False  # a line boundary seen (or a quiet start: nothing was in flight)
        why = ""
        try:
            while not self.closing.is_set() or self._draining(last):
                chunk = self.device.read(self.device.in_waiting or 1)
                now = time.monotonic()
                if chunk:
                    self.partial += chunk
                    last = now
                    if not synced:  # opened mid-line? its tail is no line of ours to pass on
                        nl = self.partial.find(b"\n") + 1
                        synced = nl > 0 or now - opened > IDLE_FLUSH_S
                        if nl and not _whole_line(bytes(self.partial[:nl])):
                            del self.partial[:nl]  # (a whole line, e.g. an answer, goes on)
                    nl = self.partial.rfind(b"\n") + 1
                    if nl:
                        self._fanout(bytes(self.partial[:nl]))
                        del self.partial[:nl]
                if self.partial and (now - last > IDLE_FLUSH_S or len(self.partial) > 4096):
                    self._fanout(bytes(self.partial))
                    self.partial.clear()
                    synced = True
        except Exception as exc:  # noqa: BLE001 - unplugged: every client learns it by EOF
            why = str(exc)
        self.device_lost = why
        if why:
            threading.Thread(target=self.close, daemon=True).start()

    def _draining(self, last):
        now = time.monotonic()
        if now - self.closing_at >= FINISH_LINE_S:
            return False
        return bool(self.partial) or now - max(last, self.closing_at) < DRAIN_QUIET_S

    def _fanout(self, data):
        with self.lock:
            clients = list(self.clients)
        for conn in clients:
            conn.push(data)

    # ---- the end ---------------------------------------------------------------------------
    def close(self):
        """Stop serving: the clients see the connection end (each reconnects, and one of them
        opens the port and serves); the device is closed."""
        if self.closing.is_set():
            return
        self.closing_at = time.monotonic()
        self.closing.set()
        try:
            os.unlink(self.path)
        except OSError:
            pass
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.listener.close()
        cancel = getattr(self.device, "cancel_read", None)
        if cancel is not None:
            try:
                cancel()  # wakes the device read
            except Exception:  # noqa: BLE001
                pass
        current = threading.current_thread()
        for t in self.threads:
            if t is not current:
                t.join(2)
        with self.lock:
            clients = list(self.clients)
            self.clients.clear()
        for conn in clients:
            # A line still unfinished here is not passed on: half a line would reach every
            # client as a corrupt one; the next server starts on a line boundary, and the
            # clients' sequence check counts the line as lost at the hand-over.
            conn.close()  # its sender sends what is queued, then ends
        for conn in clients:
            conn.thread.join(2)
        try:
            self.device.close()
        except Exception:  # noqa: BLE001
            pass

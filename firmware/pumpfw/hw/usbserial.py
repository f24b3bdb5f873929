# The board side of the USB serial (rp2/esp32 stdin/stdout): non-blocking byte in, byte out.
# Hardware modules are imported lazily, so tests can pass fakes and CPython can import the file.
#
# Why byte by byte: on rp2 sys.stdin.buffer.read(n) waits for n bytes, and a write to the USB CDC
# waits up to 500 ms when the host holds the port open without reading. So input is read one
# byte at a time only while poll() says one is ready, and output is written in chunks small
# enough to fit whenever poll() reports the port writable.
#
# Ctrl-C: while the pump loop runs, kbd_intr(-1) turns 0x03 into an ordinary byte so protocol
# traffic, line noise or a terminal cannot raise KeyboardInterrupt; the app answers a 0x03 with
# an `err` and leaves its loop only for the `repl` command (docs/protocol.md). close() gives
# Ctrl-C back.
from pumpfw.compat import const

_POLLIN = const(1)
_POLLOUT = const(4)


class UsbSerial:
    tx_chunk_bytes = 1  # bytes per write after a POLLOUT: 1 can never block on the CDC FIFO
    max_tx_bytes = 64  # bytes written per write() call

    def __init__(self, stdin=None, stdout=None, new_poll=None, kbd_intr=None):
        """Defaults: sys.stdin.buffer, sys.stdout.buffer, select.poll, micropython.kbd_intr."""
        if stdin is None or stdout is None:
            import sys

            stdin = stdin or sys.stdin.buffer
            stdout = stdout or sys.stdout.buffer
        if new_poll is None:
            import select

            new_poll = select.poll
        if kbd_intr is None:
            import micropython

            kbd_intr = micropython.kbd_intr
        self.stdin = stdin
        self.stdout = stdout
        self.kbd_intr = kbd_intr
        # One poll object per direction, so "input ready" never hides "output blocked".
        self._rx = new_poll()
        self._rx.register(stdin, _POLLIN)
        self._tx = new_poll()
        self._tx.register(stdout, _POLLOUT)
        # poll() builds a new list per call; MicroPython's ipoll() reuses one tuple, so asking
        # "ready?" once per byte allocates nothing there.
        self._ipoll = hasattr(self._rx, "ipoll")
        self._new_poll = new_poll
        self._wait = self._rx  # what wait_readable() sleeps on: the input, and wake_on()'s
        self._one = bytearray(1)
        self._one_out = bytearray(1)  # 1-byte writes go through here: no slice allocated
        self.opened = False

    def _ready(self, poller):
        if self._ipoll:
            for _ in poller.ipoll(0):
                return True
            return False
        return bool(poller.poll(0))

    def open(self):
        self.kbd_intr(-1)
        self.opened = True

    def close(self):
        """Give Ctrl-C back to the REPL. Call it from the main loop's finally."""
        self.kbd_intr(3)
        self.opened = False

    def read_into(self, buf):
        """Bytes already waiting, up to len(buf) (hw.port.read_into): never blocks."""
        one = self._one
        n = 0
        while n < len(buf) and self._ready(self._rx):
            if not self.stdin.readinto(one):
                break
            buf[n] = one[0]
            n += 1
        return n

    def wake_on(self, pollable):
        """wait_readable() also returns once pollable is readable (the buttons' events)."""
        self._wait = self._new_poll()
        self._wait.register(self.stdin, _POLLIN)
        self._wait.register(pollable, _POLLIN)

    def wait_readable(self, timeout_ms):
        """Sleep until input is waiting (or wake_on()'s object is readable) or timeout_ms pass
        (the CPU idles meanwhile: on rp2 poll() waits with WFE and wakes on any interrupt).
        True if something is."""
        if self._ipoll:
            for _ in self._wait.ipoll(timeout_ms):
                return True
            return False
        return bool(self._wait.poll(timeout_ms))

    def write(self, data):
        """Non-blocking sink: returns the number of bytes written (maybe 0)."""
        return self.write_from(data, 0, len(data))

    def write_from(self, buf, start, end):
        """buf[start:end] without slicing it (a slice is a heap object on MicroPython): the
        sink LogOut.drain uses on a board. Returns the number of bytes written (maybe 0)."""
        total = 0
        n = end - start
        if n > self.max_tx_bytes:
            n = self.max_tx_bytes
        step = self.tx_chunk_bytes
        if step == 1 and self._ipoll:
            # The common path, inlined: a Python call per byte costs as much as the write.
            tx = self._tx
            one = self._one_out
            out = self.stdout
            while total < n:
                for _ in tx.ipoll(0):
                    break
                else:
                    break  # the host is not reading: the rest waits for a later drain
                one[0] = buf[start + total]
                if not out.write(one):
                    break
                total += 1
            return total
        while total < n:
            if not self._ready(self._tx):
                break
            if step == 1:
                self._one_out[0] = buf[start + total]
                written = self.stdout.write(self._one_out)
            else:
                stop = total + step if total + step < n else n
                written = self.stdout.write(buf[start + total : start + stop])
            if not written:
                break
            total += written
        return total

# Bounded output queue for the serial: frames lines, keeps them in a fixed ring, never blocks.
# When the host stops reading, records are dropped (counted), never waited for.
from pumpfw import protocol
from pumpfw.compat import const

_HEX = b"0123456789ABCDEF"
_TAIL_BYTES = const(7)  # "*XXXX\r\n"


class LogOut:
    """A byte ring of framed lines, filled by send() and emptied by drain().

    Every line gets the next sequence number when it is offered, whether it is queued or dropped,
    so a drop is also a visible gap in the sequence. `dropped` counts dropped lines since boot
    (modulo protocol.SEQ_MOD); records carry it as their `drop` field.

    Records are `droppable`: they may only fill the ring up to capacity - reserve, so events and
    responses still find room when the host has stopped reading. Those are dropped too (and
    counted) only if even the reserve is full.
    """

    def __init__(self, capacity_bytes=2048, reserve_bytes=512):
        self.buf = bytearray(capacity_bytes)
        self._mv = memoryview(self.buf)
        self._tail = bytearray(_TAIL_BYTES)
        self._tail[0] = 42  # '*'
        self._tail[5] = 13
        self._tail[6] = 10
        self.capacity_bytes = capacity_bytes
        self.reserve_bytes = reserve_bytes
        self.head = 0  # index of the next byte to hand to the sink
        self.used = 0  # bytes queued
        self.seq = 0  # sequence number of the next line
        self.dropped = 0
        self.queued = 0  # lines queued since boot (for tests and diagnostics)

    def send(self, body, droppable=False):
        """Queue one line; returns its sequence number, or -1 if it was dropped."""
        seq = self.seq
        self.seq = (seq + 1) % protocol.SEQ_MOD
        head = ("%d %s" % (seq, body)).encode()
        limit = self.capacity_bytes - (self.reserve_bytes if droppable else 0)
        if self.used + len(head) + _TAIL_BYTES > limit:
            self.dropped = (self.dropped + 1) % protocol.SEQ_MOD
            return -1
        crc = protocol.crc16(head)
        tail = self._tail
        tail[1] = _HEX[(crc >> 12) & 15]
        tail[2] = _HEX[(crc >> 8) & 15]
        tail[3] = _HEX[(crc >> 4) & 15]
        tail[4] = _HEX[crc & 15]
        self._put(head)
        self._put(tail)
        self.queued += 1
        return seq

    def _put(self, data):
        n = len(data)
        cap = self.capacity_bytes
        at = (self.head + self.used) % cap
        first = cap - at if n > cap - at else n
        src = memoryview(data)
        self.buf[at : at + first] = src[:first]
        if first < n:
            self.buf[0 : n - first] = src[first:]
        self.used += n

    def drain(self, write, max_bytes=256, write_from=None):
        """Offer queued bytes to write(view) -> bytes accepted (0 or None: not now), or to
        write_from(buf, start, end) if given: no memoryview slice, so nothing allocated.

        Stops at max_bytes, when the queue is empty, or at the first short write, so one call
        costs at most a few sink calls. Returns the number of bytes the sink accepted.
        """
        total = 0
        cap = self.capacity_bytes
        while self.used and total < max_bytes:
            end = self.head + self.used
            if end > cap:
                end = cap
            if end - self.head > max_bytes - total:
                end = self.head + max_bytes - total
            want = end - self.head
            if write_from is not None:
                n = write_from(self.buf, self.head, end)
            else:
                n = write(self._mv[self.head : end])
            if not n:
                break
            self.head = (self.head + n) % cap
            self.used -= n
            total += n
            if n < want:
                break
        return total


class RecordClock:
    """Says when the next volume record is due: every interval_ms, without drift.

    If the loop falls behind by more than one interval, the missed records are skipped rather
    than sent in a burst (the next record's times show the gap).
    """

    def __init__(self, interval_ms=1000):
        self.interval_ms = interval_ms
        self.next_ms = -1

    def set_interval(self, now_ms, interval_ms):
        self.interval_ms = interval_ms
        self.next_ms = now_ms + interval_ms

    def due(self, now_ms):
        if self.next_ms < 0:
            self.next_ms = now_ms + self.interval_ms
            return True
        if now_ms < self.next_ms:
            return False
        self.next_ms += self.interval_ms
        if self.next_ms <= now_ms:
            self.next_ms = now_ms + self.interval_ms
        return True

# Bounded output queue, record clock and the USB serial output side: both lanes.
from serialkit import FakeApp, Rig, Sink

from pumpfw import controller as ctl
from pumpfw import logout
from pumpfw import protocol as P
from pumpfw.hw import usbserial


def drain_all(out, sink):
    while out.used:
        if not out.drain(sink.write):
            break


def test_lines_are_framed_with_consecutive_sequence_numbers():
    out = logout.LogOut(1024)
    assert [out.send("ok - id"), out.send("ev pause t_ms=5")] == [0, 1]
    sink = Sink()
    drain_all(out, sink)
    assert bytes(sink.data) == P.frame(0, "ok - id") + P.frame(1, "ev pause t_ms=5")
    assert out.used == 0 and out.queued == 2 and out.dropped == 0


def test_partial_writes_and_wrap_around_keep_every_byte_in_order():
    out = logout.LogOut(100, reserve_bytes=0)
    sink = Sink(room=7)
    expected = b""
    for i in range(60):
        body = "ev alarm t_ms=%d code=%d" % (i * 1000, i)
        seq = out.send(body)
        assert seq == i, (seq, i)  # fits: the sink is drained every time
        expected += P.frame(i, body)
        drain_all(out, sink)
    assert bytes(sink.data) == expected
    assert [m.seq for m in sink.lines()] == list(range(60))


def test_drain_respects_its_byte_budget():
    out = logout.LogOut(1024)
    for i in range(10):
        out.send("ev pause t_ms=%d" % i)
    sink = Sink()
    assert out.drain(sink.write, max_bytes=50) == 50
    assert len(sink.data) == 50


def test_a_full_queue_drops_records_but_keeps_room_for_events_and_responses():
    out = logout.LogOut(400, reserve_bytes=150)
    app = FakeApp()
    seqs = [out.send(P.encode_record(i, app.controller, 0, out.dropped), True) for i in range(10)]
    kept = [s for s in seqs if s >= 0]
    assert 0 < len(kept) < 10 and out.used <= 400 - 150
    assert out.dropped == 10 - len(kept)
    assert out.send("ev pause t_ms=10") >= 0  # the reserve is there for it
    assert out.send(P.encode_err(3, "start", P.E_STATE, "start is not allowed")) >= 0


def test_a_host_that_stops_reading_never_stalls_the_producer_and_drops_are_counted():
    # Two hours of 1 s records with a host that reads nothing for the first 90 minutes.
    rig = Rig(capacity_bytes=2048)
    c = rig.app.controller
    blocked = Sink(room=0)
    reader = Sink()
    clock = logout.RecordClock(1000)
    emitted = []

    def on_event(code, now_ms, a, b):
        emitted.append(ctl.EVENT_NAMES[code])
        rig.disp.event(code, now_ms, a, b)

    c.on_event = on_event
    c.start(0, 1)
    produced = 0
    for now_ms in range(0, 2 * 3600 * 1000 + 1, 250):
        c.tick(now_ms, now_ms // 100)
        if clock.due(now_ms):
            rig.disp.record(now_ms)
            produced += 1
        if now_ms == 45 * 60 * 1000:
            c.pause(now_ms)  # an event while the host is not reading
        if now_ms == 50 * 60 * 1000:
            c.resume(now_ms)
        rig.out.drain(blocked.write if now_ms < 90 * 60 * 1000 else reader.write)
    drain_all(rig.out, reader)
    assert blocked.data == bytearray() and blocked.calls > 0
    assert produced == 2 * 3600 + 1
    msgs = reader.lines()
    recs = [m for m in msgs if m.kind == "rec"]
    events = [m.name for m in msgs if m.kind == "ev"]
    # Every event is kept although records were being dropped meanwhile.
    assert events == emitted and "pause" in events and "resume" in events
    dropped = recs[-1].fields["drop"]
    assert dropped == rig.out.dropped > 0
    assert len(recs) + dropped == produced
    # Every dropped line left a gap in the sequence numbers, and only those.
    gaps = msgs[0].seq + sum(b.seq - a.seq - 1 for a, b in zip(msgs, msgs[1:]))
    assert gaps == dropped
    # Each record's drop count is exactly the lines missing before it.
    for i, m in enumerate(msgs):
        if m.kind == "rec":
            assert m.fields["drop"] == m.seq - i, (m.seq, i)


def test_record_clock_has_no_drift_and_skips_missed_records_instead_of_bursting():
    clock = logout.RecordClock(1000)
    due = [t for t in range(0, 5001, 10) if clock.due(t)]
    assert due == [0, 1000, 2000, 3000, 4000, 5000]
    clock = logout.RecordClock(1000)
    assert clock.due(0) and not clock.due(999) and clock.due(1003)
    assert clock.next_ms == 2000  # not 2003: no drift
    assert clock.due(7500) and not clock.due(8000) and clock.due(8500)
    clock.set_interval(9000, 250)
    assert not clock.due(9100) and clock.due(9250)


class TxStream:
    def __init__(self, room):
        self.room = room
        self.out = bytearray()
        self.writes = 0

    def write(self, buf):
        self.writes += 1
        assert len(buf) <= self.room, "a write that would block"
        self.out += bytes(buf)
        self.room -= len(buf)
        return len(buf)


class TxPoll:
    def register(self, stream, mask):
        self.stream = stream
        self.mask = mask

    def poll(self, timeout_ms):
        assert timeout_ms == 0
        if self.mask == 4 and self.stream.room > 0:
            return [(self.stream, 4)]
        return []


def test_usbserial_writes_only_what_the_port_can_take_without_blocking():
    stream = TxStream(room=10)
    port = usbserial.UsbSerial(stream, stream, TxPoll, lambda v: None)
    out = logout.LogOut(512)
    out.send("ok - id")
    assert out.drain(port.write) == 10
    assert stream.out == bytearray(P.frame(0, "ok - id")[:10])
    assert out.drain(port.write) == 0  # port full: nothing written, nothing waited for
    stream.room = 1000
    drain_all(out, port)
    assert bytes(stream.out) == P.frame(0, "ok - id")


class TxIPoll(TxPoll):
    """Like MicroPython's poll object: ipoll() iterates over the ready streams (the board path)."""

    def ipoll(self, timeout_ms):
        return iter(self.poll(timeout_ms))


def test_usbserial_board_path_writes_byte_by_byte_only_while_the_port_has_room():
    stream = TxStream(room=10)
    port = usbserial.UsbSerial(stream, stream, TxIPoll, lambda v: None)
    out = logout.LogOut(512)
    out.send("ok - id")
    assert out.drain(port.write, 256, port.write_from) == 10
    assert stream.writes == 10  # one byte a write: a write never finds the port full
    assert out.drain(port.write, 256, port.write_from) == 0
    stream.room = 1000
    assert out.drain(port.write, 256, port.write_from) == len(P.frame(0, "ok - id")) - 10
    assert bytes(stream.out) == P.frame(0, "ok - id")
    out.send("x" * 100)
    assert out.drain(port.write, 256, port.write_from) == port.max_tx_bytes  # at most a call

# Line assembler and the USB serial input side (fake stdin/poll): both lanes.
import sys

from fwtest import seeded_rng

from pumpfw import linein as L
from pumpfw.hw import usbserial


def feed_all(lines, data):
    """Feed bytes; return [(status, bytes of the line or None)] for every non-NONE result."""
    out = []
    for b in data:
        status = lines.feed(b)
        if status != L.NONE:
            out.append((status, bytes(lines.line()) if status == L.LINE else None))
    return out


def test_cr_lf_and_crlf_each_end_one_line_and_empty_lines_are_ignored():
    got = feed_all(L.LineIn(16), b"a\rb\nc\r\n\r\n\n\rd\n")
    assert got == [(L.LINE, b"a"), (L.LINE, b"b"), (L.LINE, b"c"), (L.LINE, b"d")]


def test_a_new_line_starts_fresh_after_a_finished_one():
    lines = L.LineIn(16)
    assert feed_all(lines, b"status\n") == [(L.LINE, b"status")]
    assert feed_all(lines, b"id\n") == [(L.LINE, b"id")]
    assert lines.lines == 2


def test_over_long_line_is_reported_once_and_the_next_line_is_clean():
    lines = L.LineIn(8)
    got = feed_all(lines, b"0123456789abcdef\nok\n")
    assert got == [(L.TOO_LONG, None), (L.LINE, b"ok")]
    assert lines.too_long == 1
    # Exactly max_bytes fits.
    assert feed_all(lines, b"01234567\n") == [(L.LINE, b"01234567")]


def test_nul_control_and_non_ascii_spoil_only_their_line():
    lines = L.LineIn(32)
    got = feed_all(lines, b"pa\x00use\nst\xffop\nx\x1by\nid\n")
    assert got == [(L.BAD_BYTES, None)] * 3 + [(L.LINE, b"id")]
    assert lines.bad == 3


def test_terminal_editing_keys():
    got = feed_all(L.LineIn(32), b"staX\x08tus\n\x15junk\x15id\nst\tx\x7f\n")
    assert got == [(L.LINE, b"status"), (L.LINE, b"id"), (L.LINE, b"st ")]


def test_ctrl_c_is_reported_and_drops_the_partial_line():
    lines = L.LineIn(32)
    assert feed_all(lines, b"sto\x03p\n") == [(L.INTR, None), (L.LINE, b"p")]
    assert lines.intr == 1


def test_random_bytes_never_crash_and_lines_are_always_printable_ascii():
    rng = seeded_rng(4)
    lines = L.LineIn(40)
    for _ in range(3000):
        b = rng.randint(0, 255) if rng.randint(0, 3) else rng.randint(9, 13)
        status = lines.feed(b)
        assert 0 <= status < len(L.STATUS_NAMES)
        if status == L.LINE:
            line = bytes(lines.line())
            assert 0 < len(line) <= 40
            for c in line:
                assert 32 <= c <= 126


def test_feeding_bytes_allocates_nothing_on_micropython():
    if sys.implementation.name != "micropython":
        return  # CPython allocates for every int; the claim is about the MCU
    import gc

    lines = L.LineIn(64)
    data = b"status\r\n" + b"x" * 100 + b"\n\x00\xff\n"
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for b in data:
            lines.feed(b)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    assert used <= 64, used  # the loop's iterator at most, nothing per byte


# ---- usbserial input, with fakes -------------------------------------------------------
class FakeStream:
    def __init__(self, data=b""):
        self.data = bytearray(data)
        self.pos = 0  # bytes already read
        self.out = bytearray()
        self.room = 1 << 20

    def readinto(self, buf):
        if self.pos >= len(self.data):
            return 0
        buf[0] = self.data[self.pos]
        self.pos += 1
        return 1

    def write(self, buf):
        n = min(len(buf), self.room)
        self.out += bytes(buf[:n])
        self.room -= n
        return n


class FakePoll:
    def __init__(self):
        self.stream = None
        self.mask = 0

    def register(self, stream, mask):
        self.stream = stream
        self.mask = mask

    def poll(self, timeout_ms):
        self.waited = timeout_ms  # a fake never sleeps: nothing arrives meanwhile
        s = self.stream
        ready = len(s.data) > s.pos if self.mask == 1 else s.room > 0
        return [(s, self.mask)] if ready else []


class FakeIPoll(FakePoll):
    """Like MicroPython's poll object: ipoll() is an iterator over ready streams."""

    def ipoll(self, timeout_ms):
        return iter(self.poll(timeout_ms))


class KbdIntr:
    def __init__(self):
        self.calls = []

    def __call__(self, value):
        self.calls.append(value)


def make_port(data, new_poll=FakePoll):
    stream = FakeStream(data)
    kbd = KbdIntr()
    port = usbserial.UsbSerial(stream, stream, new_poll, kbd)
    port.open()
    return port, stream, kbd


def test_usbserial_reads_only_ready_bytes():
    for new_poll in (FakePoll, FakeIPoll):
        port, stream, kbd = make_port(b"id\r\nsta", new_poll)
        buf = bytearray(64)
        n = port.read_into(buf)
        assert bytes(buf[:n]) == b"id\r\nsta" and kbd.calls == [-1]
        assert port.read_into(buf) == 0  # nothing waiting: returns at once
        stream.data += b"tus\n"
        assert bytes(buf[: port.read_into(buf)]) == b"tus\n"


def test_usbserial_reads_at_most_the_buffer():
    port, stream, _ = make_port(b"x" * 1000)
    buf = bytearray(64)
    assert port.read_into(buf) == 64 and stream.pos == 64


def test_usbserial_waits_for_input_only_up_to_the_timeout():
    for new_poll in (FakePoll, FakeIPoll):
        port, stream, _ = make_port(b"", new_poll)
        assert port.wait_readable(5) is False and port._rx.waited == 5
        stream.data += b"x"
        assert port.wait_readable(5) is True
        buf = bytearray(4)
        assert port.read_into(buf) == 1 and port._rx.waited == 0  # reading never waits



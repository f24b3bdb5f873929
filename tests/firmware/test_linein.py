# Line assembler and the USB serial input side (fake stdin/poll): both lanes.
import sys

from fwtest import seeded_rng
from serialkit import Rig

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


def test_at_probe_detection():
    for probe in (b"AT", b"ATE0", b"at+gcap", b"AT+CGMI", b"ATZ"):
        assert L.is_at_probe(probe), probe
    for line in (b"A", b"status", b"7 start 1*ABCD", b""):
        assert not L.is_at_probe(line), line


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
        assert timeout_ms == 0  # never wait
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


def test_usbserial_reads_only_ready_bytes_and_hands_over_lines():
    port, stream, kbd = make_port(b"id\r\nsta")
    got = []
    lines = L.LineIn(32)
    port.poll_input(lines, lambda s, line: got.append((s, bytes(line))))
    assert got == [(L.LINE, b"id")] and kbd.calls == [-1]
    stream.data += b"tus\n"
    port.poll_input(lines, lambda s, line: got.append((s, bytes(line))))
    assert got[-1] == (L.LINE, b"status")


def test_usbserial_reads_a_bounded_number_of_bytes_per_call():
    for new_poll in (FakePoll, FakeIPoll):
        port, stream, _ = make_port(b"x" * 1000 + b"\nid\n", new_poll)
        lines = L.LineIn(8)
        got = []
        port.poll_input(lines, lambda s, line: got.append(s))
        assert stream.pos == port.max_rx_bytes and got == []
        for _ in range(20):
            port.poll_input(lines, lambda s, line: got.append(s))
        assert got == [L.TOO_LONG, L.LINE] and bytes(lines.line()) == b"id"
        assert stream.pos == len(stream.data)


def test_usbserial_hands_ctrl_c_to_the_dispatcher_and_never_breaks_the_loop():
    port, _, kbd = make_port(b"\x03")
    rig = Rig()
    port.poll_input(rig.lines, lambda s, line: rig.disp.handle(s, line, 0))
    msgs = rig.read()
    assert [(m.kind, m.reason) for m in msgs] == [("err", "state")]
    assert kbd.calls == [-1] and port.opened  # Ctrl-C stays an ordinary byte

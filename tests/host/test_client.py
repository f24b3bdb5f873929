"""The protocol client against a fake device speaking the real firmware protocol over TCP."""

import socket

import pytest
from fakedevice import FakeDevice

from host_tools.link import client as cl
from host_tools.link.errors import (
    CommandError,
    DeviceTimeout,
    IntegrityError,
    ProtocolError,
    TransportError,
)
from host_tools.link.seqcheck import SeqTracker
from pumpfw import controller as ctl
from pumpfw import protocol as P


@pytest.fixture
def dev():
    d = FakeDevice()
    yield d
    d.close()


@pytest.fixture
def pump(dev):
    with cl.Client(dev.url, timeout_s=5) as c:
        yield c


def test_port_shortcuts():
    assert cl.resolve_port("a0") == "/dev/ttyACM0"
    assert cl.resolve_port("u12") == "/dev/ttyUSB12"
    assert cl.resolve_port("socket://h:1") == "socket://h:1"


def test_connect_failure_is_one_clear_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(TransportError) as exc:
        cl.Client("socket://127.0.0.1:%d" % port).connect()
    assert "cannot open" in str(exc.value) and "\n" not in str(exc.value)


def test_identify_and_a_reboot_hello(pump, dev):
    # The hello sent when the port opens may be flushed by the host's open(): identify() is
    # the reliable way to learn who is there.
    ident = pump.identify()
    assert ident["proto"] == P.PROTO_VERSION and ident["steps_per_ml"] == 20_000
    pump.status()
    dev.reboot_next = True
    hello = next(pump.messages(("hello",)))
    assert hello.seq == 0 and hello.fields["board"] == "fake" and pump.hello == hello.fields
    pump.status()
    assert pump.check.restarts == 1 and pump.check.lost == 0 and pump.check.reordered == 0


def test_a_command_and_its_events(pump, dev):
    ok = pump.command("start", 2)
    assert ok.kind == "ok" and ok.fields == {"inf": 2}
    ok = pump.command("pause")  # a state change's ok says where the pump is now
    assert (ok.fields["inf"], ok.fields["st"], ok.fields["rate_ul_h"]) == (2, "paused", 0)
    pump.command("resume")
    names = []
    for ev in pump.events():
        names.append(ev.name)
        if ev.name == "rate":
            break
    assert names == ["start", "rate"]
    pump.command("interval", 100)
    rec = next(pump.records())
    assert rec.fields["inf"] == 2 and rec.fields["st"] == "running"
    with pytest.raises(CommandError) as exc:
        pump.command("resume")
    assert exc.value.reason == "state" and "resume" in str(exc.value)
    pump.command("ir", 3)
    assert dev.app.controller.state == ctl.DISCONTINUED
    with pytest.raises(CommandError) as exc:
        pump.command("start", 1)
    assert exc.value.reason == "latched"
    ok = pump.clear_latch()
    assert ok.name == "clear" and dev.app.controller.state == ctl.IDLE
    pump.raise_on_integrity()
    assert pump.check.lost == 0 and pump.check.lines > 5


def test_a_pty_path_works_like_a_usb_port():
    dev = FakeDevice(pty=True)
    try:
        with cl.Client(dev.url, timeout_s=5) as pump:
            assert pump.identify()["board"] == "fake"
            assert pump.command("start", 1).fields["inf"] == 1
            assert pump.status()["st"] == "running"
            pump.raise_on_integrity()
    finally:
        dev.close()


def test_unknown_commands_are_refused_before_sending(pump):
    with pytest.raises(ProtocolError):
        pump.command("frobnicate")


def test_timeouts_are_errors(dev):
    with cl.Client(dev.url, timeout_s=0.2) as pump:
        dev.hang()  # the device stops answering but keeps the port open
        with pytest.raises(DeviceTimeout) as exc:
            pump.command("status")
        assert "no answer to status" in str(exc.value)
        # Records it sent before it hung are still delivered; then the silence is an error.
        records = pump.records()
        with pytest.raises(DeviceTimeout) as exc:
            for _ in range(10_000):
                next(records)
        assert "sent nothing" in str(exc.value)


def test_a_corrupted_line_is_detected_and_not_delivered(pump, dev):
    pump.identify()
    pump.command("interval", 100)
    dev.corrupt_next = True  # the next bytes written: records only, no response is pending
    records = pump.records()
    for _ in range(50):
        next(records)
        if pump.check.corrupted:
            break
    pump.status()  # its drop field reconciles the gap the corrupt line left
    assert pump.check.corrupted == 1 and pump.check.lost == 0
    with pytest.raises(IntegrityError) as exc:
        pump.raise_on_integrity()
    assert "1 corrupt" in str(exc.value)


def test_a_lost_answer_is_fetched_again_without_running_the_command_twice(dev):
    with cl.Client(dev.url, timeout_s=0.5) as pump:
        pump.command("interval", 60_000)
        pump.status()
        dev.corrupt_next = True  # the next bytes out: the answer to setcal
        ok = pump.command("setcal", 30_000, retries=2)
        assert ok.fields == {"steps_per_ml": 30_000}
        assert dev.app.cal_sets == 1 and pump.check.corrupted == 1
        with pytest.raises(DeviceTimeout) as exc:
            dev.hang()
            pump.command("status", retries=1)
        assert "(2 tries)" in str(exc.value)


def test_lost_and_reordered_lines_are_counted():
    check = SeqTracker()
    lines = [P.frame(s, "ev pause t_ms=%d" % s) for s in range(10)]
    lines.append(P.frame(10, P.encode_ok(None, "status", "drop=0")))
    for i in (0, 1, 2, 4, 3, 5, 7, 8, 9, 10):  # 6 lost, 3 late
        check.see(P.parse_line(lines[i]))
    assert (check.lost, check.reordered, check.dropped) == (2, 1, 0)
    # A reboot (hello with seq 0) restarts the numbering without a false alarm.
    check.see(P.parse_line(P.frame(0, "hello proto=1")))
    check.see(P.parse_line(P.frame(1, "ev pause t_ms=1")))
    assert (check.lost, check.restarts) == (2, 1)
    assert (check.gaps, check.missing) == (2, 2)


def test_a_corrupted_line_used_its_number_and_drops_explain_a_gap():
    check = SeqTracker()
    assert check.check(0, "rec", drop=0) == (0, False)
    check.corrupt()  # number 1 arrived damaged
    assert check.check(2, "ev") == (0, False)  # not missing: it came, corrupted
    assert check.check(6, "rec", drop=3) == (3, False)  # 3, 4, 5 missing: all dropped
    assert (check.dropped, check.lost, check.corrupted) == (3, 0, 1)
    assert check.check(9, "rec", drop=4) == (2, False)  # 7, 8 missing, only one dropped
    assert (check.dropped, check.lost) == (4, 1)
    assert check.problems() == ["1 lost", "1 corrupt"]


def test_host_stops_reading_producer_never_stalls_and_drop_count_is_right(dev):
    # Unshared: the device itself must see the host stop (a port broker would read for it).
    with cl.Client(dev.url, timeout_s=10, share=False) as pump:
        pump.command("interval", 60_000)
        start = pump.status()  # baseline for the drop counter
        # The host reads nothing while the device produces 20 000 records back to back.
        dev.burst(20_000)
        assert dev.burst_done.wait(60), "the producer stalled"
        (t0_ms, dropped0), (t1_ms, dropped1) = dev.burst_start, dev.burst_end
        dropped = dropped1 - dropped0
        assert dropped > 0  # the socket and the queue really filled up
        final = pump.status()  # every line before it is now in the backlog
        recs = [m for m in pump.backlog if m.kind == "rec" and t0_ms <= m.fields["t_ms"] <= t1_ms]
        assert len(recs) + dropped == 20_000
        # The drops are reported by the first line after the stall that carries `drop`. (Clock
        # records made while the queue is still full are dropped and counted too.)
        assert final["drop"] - start["drop"] == pump.check.dropped
        assert dropped <= pump.check.dropped <= dev.out.dropped
        assert pump.check.lost == 0
        pump.raise_on_integrity()


def test_joining_mid_line_is_a_fragment_and_later_damage_is_corruption():
    with cl.Client("loop://", timeout_s=1) as c:
        good = P.frame(7, "ev pause t_ms=5")
        bad = bytearray(P.frame(8, "ev resume t_ms=6 rate_ul_h=25000"))
        bad[5] ^= 0x01
        c.ser.write(good[9:] + good + bytes(bad) + P.frame(9, "ev pause t_ms=7"))
        assert c.read_message(1).seq == 7
        assert c.read_message(1).seq == 9
        assert (c.partial_lines, c.check.corrupted) == (1, 1)


def test_a_new_session_is_never_taken_for_a_retry_of_an_old_one():
    # The device answers a recent identical checked line from memory (a retry). Sessions that
    # each numbered from 1 would send the very same `1 pause` twice: the second would never run.
    from clikit import FakePump

    pump = FakePump()
    try:
        c = pump.app.controller
        with cl.Client(pump.url) as first:
            first.command("start", 1)
        for name, state in (("pause", ctl.PAUSED), ("resume", ctl.RUNNING),
                            ("pause", ctl.PAUSED), ("resume", ctl.RUNNING)):
            with cl.Client(pump.url) as session:
                session.command(name)
            assert c.state == state, (name, ctl.STATE_NAMES[c.state])
    finally:
        pump.close()

"""Capture file format (lossless round trip) and the capture loop across a USB reconnect."""

import pytest
from capkit import VirtualDevice, corrupt
from hypothesis import given
from hypothesis import strategies as st

from host_tools import logs
from host_tools.commands import capture
from host_tools.commands.cli import main
from host_tools.logs import capfile


@given(st.binary(max_size=200))
def test_escape_round_trip_any_bytes(raw):
    text = capfile.escape(raw)
    assert capfile.unescape(text) == raw
    assert all(" " <= ch <= "~" for ch in text)  # no TAB, CR, LF: one file line per line


class FakePort:
    """pyserial-like: readline() hands out scripted chunks; an OSError item is a lost USB."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.closed = False

    def readline(self):
        if not self.chunks:
            return b""
        item = self.chunks.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self):
        self.closed = True


class Clock:
    """Virtual time: each readline() or sleep advances it; no test waits for real time."""

    def __init__(self):
        self.s = 0.0

    def mono(self):
        self.s += 0.01
        return self.s

    def ns(self):
        return int(self.s * 1e9)

    def sleep(self, seconds):
        self.s += seconds


def device_lines():
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(3)
    return [raw for _, raw in dev.lines]


def test_loop_survives_reconnect_keeps_every_byte(tmp_path):
    lines = device_lines()
    bad = corrupt(lines[5])
    cut = lines[20][:9]  # the USB went away in the middle of this line
    first = lines[:5] + [bad] + lines[6:20]
    second = lines[23:]  # lines 20..22 never arrived: a gap of 3
    # line 7 arrives in two reads (a pyserial readline timeout in between)
    first[7:8] = [first[7][:4], first[7][4:]]
    ports = [FakePort(first + [cut, OSError("device reports readiness to read but returned no "
                                            "data")]),
             OSError("No such file or directory"),  # not back yet
             FakePort(second)]

    def open_port():
        item = ports.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    clock = Clock()
    stats = capture.CaptureStats()
    path = tmp_path / "s.cap"
    with capfile.CaptureWriter(path, port="fake", host_ns=0) as w:
        capture.run(open_port, w, stats, duration_s=60, clock_ns=clock.ns,
                    monotonic_s=clock.mono, sleep_s=clock.sleep)
    entries = list(capfile.read_capture(path))
    got = [e[3] for e in entries if e[1] == "line"]
    assert got == lines[:5] + [bad] + lines[6:20] + [cut] + second
    markers = [e[3][0] for e in entries if e[1] == "marker"]
    assert markers == ["gap", "reconnect", "note"]  # the note: the 3 lines missing, in words
    assert stats.reconnects == 1
    assert stats.checksum_failures == 1
    assert stats.partial == 1
    # lines[20] cut short fails too (undecodable); the seq gap: 20, 21, 22 missing before 23
    assert stats.seq_gaps == 1 and stats.seq_missing == 3
    assert "sequence gaps: 1 (3 lines missing)" in stats.summary_lines()[1]
    host = [e[2] for e in entries if e[1] == "line"]
    assert host == sorted(host)


def test_do_capture_exports_csv_and_parquet(tmp_path, capsys):
    lines = device_lines()

    class Args:
        output = str(tmp_path / "c.cap")
        port = "fake"
        duration = 1.0
        csv = str(tmp_path / "c.csv")
        parquet = str(tmp_path / "c.parquet")

    port = FakePort(lines)
    assert capture.do_capture(Args, open_port=lambda: port) == 0
    err = capsys.readouterr().err
    assert "checksum failures: 0" in err and "sequence gaps: 0 (0 lines missing)" in err
    assert port.closed
    import pandas as pd

    log = logs.load(Args.output)
    assert len(log.messages) == len(lines)
    from_csv = pd.read_csv(Args.csv)
    from_parquet = pd.read_parquet(Args.parquet)
    for frame in (from_csv, from_parquet):
        assert list(frame["seq"]) == list(range(len(lines)))
        recs = frame[frame["kind"] == "rec"]
        assert list(recs["vol_ul"].astype(int)) == list(log.records["vol_ul"])


def test_capture_with_a_subject_keeps_it_in_the_header(tmp_path, capsys):
    class Args:
        output = str(tmp_path / "s.cap")
        port = "fake"
        duration = 1.0
        csv = parquet = None
        subject = "P-07"

    assert capture.do_capture(Args, open_port=lambda: FakePort(device_lines())) == 0
    assert logs.load(Args.output).subjects == {Args.output: "P-07"}
    Args.subject = "P-08"
    opened = []
    with pytest.raises(capfile.UserError, match="subject P-07, not P-08"):
        capture.do_capture(Args, open_port=lambda: opened.append(1) or FakePort([]))
    assert main(["capture", "-o", str(tmp_path / "t.cap"), "--subject", "a b"]) == 1
    assert "letters, digits" in capsys.readouterr().err and not (tmp_path / "t.cap").exists()


def test_user_mistakes_are_one_line(tmp_path, capsys):
    assert main(["capture", "-o", str(tmp_path / "x.cap"), "--port", "/dev/nonexistent9"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("pumpctl capture: no such port /dev/nonexistent9: check the cable, or list"
                   " the boards with `pumpctl ports`")  # the explanation every command gives
    with pytest.raises(SystemExit):
        main(["capture", "-o", str(tmp_path / "x.cap"), "--duration", "0"])
    assert capsys.readouterr().err.strip() == (
        "pumpctl capture: error: --duration must be > 0 seconds, not 0")
    assert not (tmp_path / "x.cap").exists()


def test_it_says_when_it_is_ready_and_how_it_goes(tmp_path, capsys):
    lines = device_lines()
    lines[30:33] = []  # three lines lost on the way

    class Args:
        output = str(tmp_path / "p.cap")
        port = "fake"
        duration = 1.0
        csv = parquet = None

    assert capture.do_capture(Args, open_port=lambda: FakePort(lines)) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "capture: recording fake to %s for 1 s" % Args.output
    # Not a terminal: what happened in words, one line when the counts change, the summary.
    assert err[1] == "capture: lines missing: 3 lines the board sent never arrived (sequence gap)"
    assert err[2].startswith("capture: 31 lines, 1 gaps (3 missing), 0 checksum failures")
    assert err[3].startswith("captured %d lines" % len(lines))


def test_a_board_that_is_not_ours_is_named(tmp_path):
    stats = capture.CaptureStats()
    for raw in (b"MicroPython v1.22 on 2024-01-01\r\n", b">>> \r\n"):
        stats.feed(raw)
    assert stats.decoded == 0 and stats.undecodable == 2
    assert any("running this firmware" in w for w in stats.warnings())


@pytest.mark.parametrize("text", ["\\q", "\\x4"])
def test_bad_escape_is_refused(text):
    with pytest.raises(ValueError):
        capfile.unescape(text)

"""One board, many pumpctl processes: the port broker on the virtual board. A capture loses
nothing while control commands run beside it; when the serving process exits, the others carry
on and one of them serves (only the lines in flight at that moment may be missing, visibly); a
device path and `--port auto` find the same board."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from clikit import LineServer, run_cli
from simkit import need_node

from host_tools.harness.served import REPO_ROOT
from host_tools.link import broker, portshare, registry
from host_tools.link.client import Client
from host_tools.link.seqcheck import SeqTracker
from host_tools.logs import capfile
from host_tools.sim.simboard import SimBoard
from pumpfw import protocol as P

PUMPCTL = [sys.executable, "-c",
           "import sys; from host_tools.commands.cli import main; sys.exit(main())"]


def pumpctl(*argv):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(PUMPCTL + [str(a) for a in argv], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_server(url, *pids, timeout_s=60):
    """The holder of url once it is one of pids."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        who = portshare.holder(url)
        if who is not None and who["pid"] in pids:
            return who
        time.sleep(0.02)
    raise AssertionError("none of %s served %s (now: %s)" % (pids, url, portshare.holder(url)))


def until(condition, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def finish(proc, timeout_s=60):
    out, err = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


def read_capture(path):
    """(seq tracker over the decoded lines, names of the oks, markers) of a capture file; the
    tracker's `gaps_elsewhere` counts gaps anywhere but just after a reconnect."""
    seq, oks, markers = SeqTracker(), [], []
    seq.gaps_elsewhere = 0
    seq.notes = []  # the capture's words for lines missing, one per gap (issue 21)
    at_reconnect = False
    for _, kind, _, payload in capfile.read_capture(path):
        if kind == "marker" and payload[0] == "note":
            seq.notes.append(payload[1])
            continue
        if kind == "marker":
            markers.append(payload[0])
            at_reconnect = payload[0] == "reconnect"
            continue
        if kind != "line":
            continue
        msg, reason, _ = capfile.decode(payload)
        if msg is None:
            seq.corrupt()
            continue
        missing, _ = seq.see(msg)
        if missing and not at_reconnect:
            seq.gaps_elsewhere += 1
        at_reconnect = False
        if msg.kind == "ok":
            oks.append(msg.name)
    return seq, oks, markers


@pytest.fixture
def board():
    """A virtual board at 20x real time with a pty, records every 100 ms (200 lines a second)."""
    need_node()
    with SimBoard(scale=20, pty=True) as sim:
        with Client(sim.serial_url) as c:
            c.command("interval", 100)
        yield sim


@pytest.fixture
def registered(board):
    """The board in the registry, as `make sim SERVE=1` puts it, while the test runs."""
    path = registry.register(board.endpoints)
    yield board
    registry.unregister(path)


def test_the_capture_loses_nothing_while_control_commands_run_on_the_same_pty(
        capsys, tmp_path, board):
    path = tmp_path / "beside.cap"
    capture = pumpctl("capture", "-o", path, "--port", board.pty)
    try:
        recording(capture)
        assert portshare.holder(board.pty)["pid"] == capture.pid  # it opened the pty: it serves
        script = [("start", "--infusion", 1), ("pause",), ("resume",), ("ir", 1), ("resolved",),
                  ("status",), ("monitor", "--once"), ("status", "--json"), ("stop",)]
        for argv in script:
            rc, _, err = run_cli(capsys, *argv, "--port", board.pty)
            assert rc == 0, err
        time.sleep(1)  # the records go on
        stop(capture)
    finally:
        kill(capture)
    seq, oks, markers = read_capture(path)
    assert (seq.missing, seq.corrupted, seq.reordered, seq.lost) == (0, 0, 0, 0)
    assert seq.gaps_elsewhere == 0
    assert markers == ["end"]  # no gap, no reconnect
    assert seq.lines > 150  # the records kept coming meanwhile
    for name in ("start", "pause", "resume", "ir", "resolved", "status", "stop"):
        assert name in oks  # every answer reached the capture too


def recording(proc, timeout_s=60):
    """Wait until a capture says it records (its port is open); its stderr is drained after."""
    box = []

    def read():
        for line in proc.stderr:
            box.append(line.decode(errors="replace"))

    threading.Thread(target=read, daemon=True).start()
    until(lambda: any("capture: recording" in line for line in box), timeout_s)
    return box


def kill(*procs):
    """After a failure: no process of the test is left running."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc):
    """Ctrl-C, as a user ends a capture or a monitor; it must end cleanly."""
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0


def test_when_the_serving_process_exits_the_others_carry_on(capsys, tmp_path, registered):
    board = registered  # --port auto finds it; its pty leads to the same broker
    path = tmp_path / "handover.cap"
    monitor = pumpctl("monitor", "--port", "auto")
    capture = None
    try:
        wait_for_server(board.serial_url, monitor.pid)
        capture = pumpctl("capture", "-o", path, "--port", board.pty)
        recording(capture)
        client = Client(board.serial_url).connect()  # this process joins too
        assert portshare.holder(board.pty)["pid"] == monitor.pid  # joined, not opened
        stop(monitor)
        assert client.status()["st"]  # it carries on: joins (or becomes) the next server
        assert client.reconnects >= 1
        # The first to reconnect serves: the capture or this process.
        wait_for_server(board.serial_url, capture.pid, os.getpid())
        client.close()  # if it was this process, the capture carries on once more
        who = wait_for_server(board.serial_url, capture.pid)
        assert "capture" in who["command"]
        assert who["device"] == board.serial_url  # given the pty, it serves the board's socket
        rc, out, _ = run_cli(capsys, "status", "--port", board.serial_url)
        assert rc == 0
        stop(capture)
    finally:
        kill(monitor, capture)
    seq, _, markers = read_capture(path)
    # Only the lines in flight at the hand-over itself may be missing, and that shows: a gap
    # right after the reconnect marker, counted; nothing else lost, nothing corrupted.
    assert (seq.gaps_elsewhere, seq.corrupted, seq.reordered) == (0, 0, 0)
    assert seq.gaps <= len(markers) // 2
    assert markers[-1] == "end" and 1 <= len(markers) // 2 <= 2
    assert markers[:-1] == ["gap", "reconnect"] * (len(markers) // 2)
    missing = [n for n in seq.notes if n.startswith("lines missing: ")]
    assert len(missing) == seq.gaps  # every gap said in words in the file


def test_a_killed_server_leaves_a_stale_socket_that_the_next_one_replaces(tmp_path, board):
    first = pumpctl("capture", "-o", tmp_path / "a.cap", "--port", board.serial_url)
    second = None
    try:
        recording(first)
        second = pumpctl("capture", "-o", tmp_path / "b.cap", "--port", board.serial_url)
        recording(second)
        assert portshare.holder(board.serial_url)["pid"] == first.pid
        first.kill()  # SIGKILL: no clean-up, its socket file stays
        first.wait()
        wait_for_server(board.serial_url, second.pid)
        time.sleep(0.5)  # it records on
        stop(second)
    finally:
        kill(first, second)
    seq, _, markers = read_capture(tmp_path / "b.cap")
    assert markers == ["gap", "reconnect", "end"] and seq.lines > 20
    # Whatever the killed process held is a visible gap at the reconnect, at most.
    assert (seq.gaps_elsewhere, seq.corrupted, seq.reordered) == (0, 0, 0)


def test_two_clients_lines_never_interleave_and_each_has_its_own_numbers():
    device = LineServer(lambda line: b"")
    try:
        a = Client(device.url, timeout_s=1)
        a.connect()
        b = Client(device.url, timeout_s=1)
        b.connect()
        assert a.seq_block != b.seq_block and a.seq_block[1] == broker.SEQ_BLOCK
        a.ser.write(b"sta")  # half a line: held until its end comes...
        b.ser.write(b"pause\r\n")  # ...so another client's whole line cannot mix into it
        until(lambda: device.lines == [b"pause"])
        a.ser.write(b"rt 1\r\n")
        until(lambda: device.lines == [b"pause", b"start 1"])
        a.close()
        b.close()
    finally:
        device.close()


def test_sharing_can_be_turned_off(monkeypatch):
    monkeypatch.setenv(portshare.ENV_SHARE, "0")
    device = LineServer(lambda line: b"")
    try:
        with Client(device.url) as c:
            assert c.seq_block is None and portshare.holder(device.url) is None
    finally:
        device.close()


def test_a_long_runtime_dir_still_gets_a_socket(monkeypatch, tmp_path):
    deep = tmp_path / ("d" * 90)
    monkeypatch.setenv(registry.ENV_DIR, str(deep))
    sock_path, info_path = portshare._paths("socket://127.0.0.1:1")
    assert len(os.fsencode(sock_path)) <= 100 and info_path.parent == deep
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(sock_path))  # a path the kernel accepts
    finally:
        s.close()
        Path(sock_path).unlink()


def test_ports_names_the_serving_process_and_flash_will_not_share(capsys, registered):
    board = registered
    server = pumpctl("monitor", "--port", board.serial_url)
    try:
        wait_for_server(board.serial_url, server.pid)
        rc, out, _ = run_cli(capsys, "ports")
        line = next(ln for ln in out.splitlines() if board.serial_url in ln)
        assert "[shared by" in line and "pid %d]" % server.pid in line
        rc, _, err = run_cli(capsys, "flash", "--board", "pico", "--port", board.serial_url)
        assert rc == 1 and "is shared by" in err and "pid %d" % server.pid in err
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


class _ScriptedDevice:
    """A device for the broker alone: once `go` is set, read() hands out `chunks` one by one."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.written = bytearray()
        self.go = threading.Event()

    @property
    def in_waiting(self):
        return len(self.chunks[0]) if self.chunks else 0

    def read(self, n):
        if not self.chunks or not self.go.is_set():
            time.sleep(0.01)
            return b""
        return self.chunks.pop(0)

    def write(self, data):
        self.written += data

    def close(self):
        pass


@pytest.mark.parametrize("first, passed_on", [
    # The server opened the port while the board was halfway through a record: its tail goes.
    ([b"66 steps=5*1234\r\n"], False),
    # The first bytes are a whole line (the answer to the first command, which a pump that
    # sends nothing unasked gives first): it goes on, even arriving a byte at a time.
    ([bytes([b]) for b in P.frame(3, P.encode_ok(7, "id", "proto=1"))], True),
])
def test_a_new_server_drops_only_a_fragment_it_opened_the_device_in(tmp_path, first, passed_on):
    last = P.frame(4, P.encode_ok(8, "status"))
    device = _ScriptedDevice(first + [last])
    path = str(tmp_path / "b.sock")
    served = broker.Broker(device, path, "t")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        sock.settimeout(5)
        got = sock.recv(4096)  # the handshake: this client is in, the board may speak
        device.go.set()
        while not got.endswith(last):
            data = sock.recv(4096)
            assert data, "the broker ended the connection"
            got += data
    finally:
        sock.close()
        served.close()
    lines = got.split(b"\n", 1)[1]
    assert lines == (b"".join(first) if passed_on else b"") + last

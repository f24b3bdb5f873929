"""The virtual board through a pty path (as /dev/ttyACM0) and `make sim SERVE=1`; an unread pty
never holds the board up."""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import serial
from simkit import FIXTURE_ENTRY, FIXTURE_LIB, Line, fixture_board, need_node

from host_tools.harness.ptybridge import PtyBridge
from host_tools.harness.served import REPO_ROOT


def test_serial_round_trip_through_the_pty():
    with fixture_board(pty=True) as sim:
        assert sim.pty.startswith("/dev/")
        assert sim.endpoints["pty"] == sim.pty
        line = Line(sim, url=sim.pty)
        try:
            assert line.ask("echo via the pty") == "via the pty"
            assert line.ask("cause") == "cause power_on"
        finally:
            line.close()


def _first_line(proc, timeout_s):
    box = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout_s)
    assert box and box[0], "make sim SERVE=1 printed no endpoints"
    return json.loads(box[0])


def test_serve_prints_endpoints_and_serves_until_ctrl_c():
    need_node()
    cmd = [sys.executable, "-m", "host_tools.sim.run", "--serve", "--scale", "1",
           "--entry", FIXTURE_ENTRY, "--lib", str(FIXTURE_LIB)]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        endpoints = _first_line(proc, 60)
        assert endpoints["serial"].startswith("socket://127.0.0.1:")
        port = serial.Serial(endpoints["pty"], timeout=5)  # opens like a USB serial device
        try:
            port.write(b"echo served\r\n")
            got = port.readline()
            if got.startswith(b"fixture boot"):  # the banner, if it beat the open's flush
                got = port.readline()
            assert got == b"served\r\n"
        finally:
            port.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert b"miniterm" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_an_unread_pty_drops_and_counts_instead_of_holding_up_the_board():
    # Nobody has the pty open (or nobody reads it): the bridge keeps taking the board's output
    # and drops what the pty cannot hold, so the board's other clients are never held up.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    bridge = PtyBridge("127.0.0.1", server.getsockname()[1])
    conn, _ = server.accept()
    try:
        conn.settimeout(20)  # a guard: with backpressure this sendall never completes
        line = b"y" * 63 + b"\n"
        flood = line * ((8 << 20) // len(line))  # 8 MB, nobody reading
        conn.sendall(flood)
        deadline = time.monotonic() + 20
        while bridge.taken_bytes < len(flood):
            assert time.monotonic() < deadline, "the bridge stopped taking the board's output"
            time.sleep(0.01)
        assert bridge.dropped_bytes >= len(flood) - (1 << 20)  # the pty holds tens of KB
        fd = os.open(bridge.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        got = bytearray()
        try:
            while select.select([fd], [], [], 0.5)[0]:
                got += os.read(fd, 1 << 16)  # what the pty kept: old, but whole lines
            conn.sendall(b"marker\n")  # the board's next line reaches the reader
            while b"marker\n" not in got:
                assert select.select([fd], [], [], 5)[0], "no marker (%d bytes)" % len(got)
                got += os.read(fd, 1 << 16)
        finally:
            os.close(fd)
        pieces = bytes(got).split(b"\n")[:-1]
        assert pieces[-1] == b"marker" and set(pieces[:-1]) <= {b"y" * 63}  # whole lines
    finally:
        conn.close()
        bridge.close()
        server.close()

"""The virtual board through a pty path (as /dev/ttyACM0) and `make sim SERVE=1`."""

import json
import os
import signal
import subprocess
import sys
import threading

import serial

from host_tools.sim.board import REPO_ROOT
from simkit import FIXTURE_ENTRY, FIXTURE_LIB, Line, fixture_board, need_node


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

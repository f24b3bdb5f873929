"""pumpctl ports, --port auto and vN: serial ports and registered virtual boards, each asked
`id`; the endpoints file `make sim SERVE=1` keeps."""

import json
import os
import signal
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest
from clikit import garbage_device, one_error_line, run_cli
from simkit import need_node, real_time_board

from host_tools.harness.served import REPO_ROOT
from host_tools.link import discovery, registry


@pytest.fixture(scope="module")
def board():
    yield from real_time_board()


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.ENV_DIR, str(tmp_path))
    return tmp_path


@pytest.fixture
def usb(monkeypatch):
    """The serial ports pyserial would list: loop:// echoes what it is sent (not a pump)."""
    found = []
    monkeypatch.setattr(discovery.list_ports, "comports", lambda: list(found))
    return found


def fake_usb(device):
    return SimpleNamespace(device=device, description="USB loop", vid=0x2E8A, pid=5)


def test_registry_lists_live_boards_and_drops_dead_ones(runtime):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    registry.register({"serial": "socket://127.0.0.1:9"}, pid=dead.pid)
    mine = registry.register({"serial": "socket://127.0.0.1:8"})
    assert [b["serial"] for b in registry.running()] == ["socket://127.0.0.1:8"]
    assert sorted(p.name for p in runtime.iterdir()) == [mine.name]  # the stale file is gone
    registry.unregister(mine)
    assert registry.running() == []


def test_ports_lists_identity_and_strangers(capsys, runtime, usb, board):
    usb.append(fake_usb("loop://"))
    registry.register(dict(board.endpoints, pty=None))
    rc, out, _ = run_cli(capsys, "ports")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["PORT", "BOARD", "FW"]
    loop = next(line for line in lines if "loop://" in line)
    assert "not this firmware" in loop
    sim = next(line for line in lines if board.serial_url in line)
    assert sim.split()[:4] == ["v0", board.serial_url, "sim", "0.1.0"]
    rc, out, _ = run_cli(capsys, "ports", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["ok"] for r in rows] == [False, True] and rows[1]["hello"]["proto"] == 1


def test_auto_and_v0_find_the_virtual_board(capsys, runtime, usb, board):
    usb.append(fake_usb("loop://"))  # asked first, answers nothing useful
    junk = garbage_device()
    try:
        registry.register({"serial": junk.url}, pid=os.getppid())  # a stranger registered first
        registry.register(dict(board.endpoints))
        assert discovery.resolve("v1") == board.serial_url
        rc, out, _ = run_cli(capsys, "status", "--port", "auto")
        assert rc == 0 and board.serial_url in out
        rc, out, _ = run_cli(capsys, "status", "--port", "v1")
        assert rc == 0 and "sim" in out
    finally:
        junk.close()


def test_auto_with_nothing_to_find(capsys, runtime, usb):
    rc, _, err = run_cli(capsys, "status")  # --port auto is the default
    assert rc == 1
    line = one_error_line(err)
    assert "no board answers as this firmware" in line and "make sim SERVE=1" in line
    rc, _, err = run_cli(capsys, "status", "--port", "v0")
    assert rc == 1 and "no virtual board v0: 0 running" in err


def test_serve_registers_its_endpoints_until_it_ends(runtime):
    need_node()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.sim.run", "--serve", "--no-pty"],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        box = []
        reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        assert box and box[0], "make sim SERVE=1 printed no endpoints"
        endpoints = json.loads(box[0])
        for _ in range(100):  # the file is written just after the line is printed
            if registry.running():
                break
            threading.Event().wait(0.02)
        (entry,) = registry.running()
        assert entry["serial"] == endpoints["serial"] and entry["host_pid"] == proc.pid
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert registry.running() == [] and list(runtime.iterdir()) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()

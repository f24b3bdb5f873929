"""Issue 21, what a bench engineer sees of the link: no runtime file outlives its owner, a
hand-over passes on the burst the board is sending, and a reply agrees with the next status."""

import json
import os
import subprocess

import pytest
from clikit import FakePump, run_cli

from host_tools.link import registry
from pumpfw import VERSION
from pumpfw import protocol as P


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    """A runtime folder of this test's own, ports opened alone unless a test shares them."""
    monkeypatch.setenv(registry.ENV_DIR, str(tmp_path / "run"))
    monkeypatch.setenv("ISAPUMP_SHARE", "0")
    return tmp_path / "run"



# ---- 9. stale runtime files ---------------------------------------------------------------


def dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_what_dead_owners_left_goes_and_a_shared_port_leaves_no_lock(runtime, capsys):
    from host_tools.link import portshare

    runtime.mkdir(parents=True)
    for i in range(23):  # what a day of virtual boards left behind
        (runtime / ("port-%016x.lock" % i)).write_text("")
    (runtime / "port-dead.json").write_text(json.dumps({"pid": dead_pid(), "key": "x"}))
    (runtime / "port-dead.sock").write_text("")
    (runtime / ("sim-%d.json" % dead_pid())).write_text(json.dumps(
        {"serial": "socket://127.0.0.1:1", "host_pid": dead_pid()}))
    (runtime / "port-live.json").write_text(json.dumps({"pid": os.getpid(), "key": "y"}))
    (runtime / "port-live.sock").write_text("")
    held = portshare._ElectionLock(runtime / "port-held.lock")
    held.acquire()
    try:
        assert run_cli(capsys, "ports", "--timeout", 0.2)[0] == 0
        left = sorted(p.name for p in runtime.iterdir())
    finally:
        held.release()
    assert left == ["port-held.lock", "port-live.json", "port-live.sock"]
    # a port shared and let go: its description, socket and lock all go with it
    pump = FakePump(board="pico", fw=VERSION)
    try:
        os.environ["ISAPUMP_SHARE"] = "1"
        rc, _, _ = run_cli(capsys, "status", "--port", pump.url)
    finally:
        os.environ["ISAPUMP_SHARE"] = "0"
        pump.close()
    assert rc == 0
    assert sorted(p.name for p in runtime.iterdir()) == ["port-live.json", "port-live.sock"]


# ---- 8b. a hand-over passes on the burst the board is sending ------------------------------


def test_a_server_letting_go_passes_on_the_whole_burst_already_on_its_way(tmp_path):
    """The board sends a record and its events in one loop pass: back to back. A server that
    lets go in the middle of it reads on until the board pauses, so the next server starts
    after the burst and nothing of it is lost (docs/port-sharing.md)."""
    import socket
    import threading
    import time

    from host_tools.link import broker
    from host_tools.link.sockport import SocketPort

    board_end, host_end = socket.socketpair()
    device = SocketPort(host_end, "pair", timeout=0.05)
    served = broker.Broker(device, str(tmp_path / "b.sock"), "pair")
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(tmp_path / "b.sock"))
    client.settimeout(10)  # a line that never comes fails the test, it does not hang it
    reader = client.makefile("rb")
    assert reader.readline().startswith(broker.HANDSHAKE)
    deadline = time.monotonic() + 10
    while not served.clients:  # it is passed the device's lines once it is on the list
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # Lines of the protocol: a new server passes on a first line only if it is one (broker.py)
    burst = [P.frame(i, P.encode_event(P.EV_ALARM, 1000 + i, i, 0)) for i in range(6)]
    board_end.sendall(burst[0])
    assert reader.readline() == burst[0]

    def rest_of_the_pass():  # on its way as the server lets go
        served.closing.wait(5)
        for line in burst[1:]:
            board_end.sendall(line)
            time.sleep(0.001)  # a USB packet or a socket write apart

    sender = threading.Thread(target=rest_of_the_pass)
    sender.start()
    served.close()  # the serving pumpctl is done, mid-burst
    sender.join()
    got = reader.read()  # up to the end of the connection
    board_end.close()
    client.close()
    assert got.splitlines(keepends=True) == burst[1:]


# ---- 6. a reply's volume is what the next status says ------------------------------------


def test_the_clear_reply_and_the_next_status_agree_on_the_volume():
    import time

    from simkit import need_node

    from host_tools.link.client import Client
    from host_tools.sim.simboard import SimBoard

    need_node()
    with SimBoard(scale=50, pty=False) as sim, Client(sim.serial_url) as c:
        c.command("start", 3)
        time.sleep(1.0)
        c.command("ir", 3)
        ask = c.command("clear")
        ok = c.command("confirm", ask.fields["token"]).fields
        status = c.status()
        assert ok["steps"] == status["steps"]  # nothing moved between the two
        assert (ok["vol_ul"], ok["remain_ul"]) == (status["vol_ul"], status["remain_ul"])

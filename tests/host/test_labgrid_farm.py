"""The HIL farm on labgrid (host_tools/farm.py, docs/hil.md): a coordinator and two exporters of
served virtual boards on loopback, started and stopped here; the HIL suite on two xdist workers
reserves one place each through the coordinator and runs on that place's exported serial."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools import farm

yaml = pytest.importorskip("yaml")  # labgrid's own dependency, so present with it
REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


def test_a_real_board_is_a_raw_serial_port_and_a_served_one_a_network_serial_port():
    real = yaml.safe_load(farm.exporter_config("pump-a", "/dev/ttyACM0", "/dev/ttyUSB0"))
    assert real == {"pump-a": {
        "serial": {"cls": "RawSerialPort", "port": "/dev/ttyACM0", "speed": 115200},
        "balance": {"cls": "RawSerialPort", "port": "/dev/ttyUSB0", "speed": 9600}}}
    served = yaml.safe_load(farm.exporter_config("pump-b", "socket://127.0.0.1:40001"))
    assert served == {"pump-b": {"serial": {"cls": "NetworkSerialPort", "host": LOOPBACK,
                                            "port": 40001, "protocol": "raw", "speed": 115200}}}
    with pytest.raises(farm.FarmError, match="device path or socket"):
        farm.exporter_config("pump-c", "ttyACM0")


def test_the_env_file_names_the_place_each_worker_acquired(tmp_path):
    pytest.importorskip("labgrid")
    from labgrid import Environment

    assert farm.main(["env", "-o", str(tmp_path / "env.yaml")]) == 0
    os.environ["LG_PLACE"] = "pump-x"
    try:
        env = Environment(str(tmp_path / "env.yaml"))
    finally:
        del os.environ["LG_PLACE"]
    resources = env.config.get_targets()["main"]["resources"]
    assert resources == {"RemotePlace": {"name": "pump-x"}}


def _free_port():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _start(cmd, log, cwd=REPO):
    """A process in its own group (its children are stopped with it)."""
    return subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _wait_for(what, ready, timeout_s, procs, log):
    deadline = time.monotonic() + timeout_s
    while not ready():
        ended = [p.args[:4] for p in procs if p.poll() is not None]
        if ended or time.monotonic() > deadline:
            raise AssertionError("%s: not within %d s (ended: %s)\n%s" % (
                what, timeout_s, ended, Path(log.name).read_text()[-3000:]))
        time.sleep(1)


def test_two_exporters_and_the_hil_suite_on_one_place_per_worker(tmp_path):
    pytest.importorskip("labgrid")
    coordinator = "%s:%d" % (LOOPBACK, _free_port())
    procs = []
    with open(tmp_path / "farm.log", "w") as log:
        try:
            # The coordinator keeps its places and resources in its working directory.
            procs.append(_start([farm._tool("labgrid-coordinator"), "-l", coordinator], log,
                                cwd=tmp_path))
            for n in range(2):  # two exporters, each serving a virtual board of its own
                procs.append(_start([
                    sys.executable, "-m", "host_tools.farm", "export", "pump-%d" % n,
                    "--serve", "sim", "-c", coordinator, "--exporter", "exp-%d" % n,
                    "--hostname", LOOPBACK, "-o", str(tmp_path / ("pump-%d.yaml" % n))], log))
            _wait_for("both exporters at the coordinator", lambda: all(
                "exp-%d/pump-%d/NetworkSerialPort" % (n, n) in _resources(coordinator)
                for n in range(2)), 120, procs, log)
            for n in range(2):
                farm.add_place(coordinator, "pump-%d" % n, "exp-%d" % n)
            assert farm.main(["env", "-o", str(tmp_path / "env.yaml")]) == 0
            run = subprocess.run([
                sys.executable, "-m", "pytest", "hil_tests", "-p", "labgrid", "-p",
                "no:cacheprovider", "--lg-env", str(tmp_path / "env.yaml"), "--lg-coordinator",
                coordinator, "--lg-places", farm.TAG, "-n", "2", "-q", "--record-dir",
                str(tmp_path / "rec"), "-k", "stray_ctrl_c or stuck_button_never_starts"],
                cwd=REPO, capture_output=True, text=True, timeout=420)
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
            served = {_serial_url(tmp_path / ("pump-%d.yaml" % n)) for n in range(2)}
            rigs = {}
            for path in (tmp_path / "rec").glob("*/*.json"):
                record = json.loads(path.read_text())
                rigs[record["rig"]["name"]] = record["rig"]["port"]
                assert record["outcome"] in ("passed", "skipped"), record
            # One place per worker, each the serial its exporter published.
            assert set(rigs) == {"labgrid place pump-0", "labgrid place pump-1"}, rigs
            assert set(rigs.values()) == served
            for n in range(2):  # released when the workers ended
                shown = farm.client(coordinator, "-p", "pump-%d" % n, "show")
                assert "acquired: None" in shown, shown
        finally:
            for proc in reversed(procs):
                _stop(proc)


def _resources(coordinator):
    try:
        return farm.client(coordinator, "resources", timeout_s=30)
    except farm.FarmError:
        return ""


def _serial_url(config):
    serial = yaml.safe_load(config.read_text())[config.stem]["serial"]
    return "socket://%s:%d" % (serial["host"], serial["port"])


def test_a_real_boards_serial_is_served_by_ser2net_and_reached_through_the_place(tmp_path):
    """A real board's path: its tty (here a virtual board's pty, which is one) exported as a
    RawSerialPort; labgrid's exporter serves it with ser2net (RFC 2217), and a client that
    acquired the place talks to the pump through it."""
    pytest.importorskip("labgrid")
    if farm.shutil.which("ser2net") is None and not Path("/usr/sbin/ser2net").exists():
        pytest.skip("ser2net is not installed (apt-get install ser2net): a real board's export")
    from labgrid import Environment

    from host_tools.link.client import Client
    from host_tools.sim.simboard import SimBoard

    coordinator = "%s:%d" % (LOOPBACK, _free_port())
    procs = []
    with open(tmp_path / "farm.log", "w") as log, SimBoard(scale=1, pty=True) as board:
        try:
            procs.append(_start([farm._tool("labgrid-coordinator"), "-l", coordinator], log,
                                cwd=tmp_path))
            procs.append(_start([
                sys.executable, "-m", "host_tools.farm", "export", "pump-r", "--port",
                board.pty, "-c", coordinator, "--exporter", "exp-r", "--hostname", LOOPBACK,
                "-o", str(tmp_path / "pump-r.yaml")], log))
            _wait_for("the exporter at the coordinator", lambda: "exp-r/pump-r/NetworkSerialPort"
                      in _resources(coordinator), 120, procs, log)
            farm.add_place(coordinator, "pump-r", "exp-r")
            assert farm.acquire(coordinator, "pump-r") == "pump-r"
            farm.main(["env", "-o", str(tmp_path / "env.yaml")])
            os.environ["LG_PLACE"] = "pump-r"
            try:
                env = Environment(str(tmp_path / "env.yaml"))
                env.config.set_option("coordinator_address", coordinator)
                urls = farm.place_urls(env.get_target("main"))
            finally:
                del os.environ["LG_PLACE"]
            assert urls["serial"].startswith("rfc2217://%s:" % LOOPBACK), urls
            pump = Client(urls["serial"], timeout_s=10).connect()
            try:
                assert pump.identify()["board"] == "sim"
            finally:
                pump.close()
            farm.release(coordinator, "pump-r")
        finally:
            for proc in reversed(procs):
                _stop(proc)

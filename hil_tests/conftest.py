"""The HIL pytest plugin: --port/--sim/--balance/--record-dir, the rig and pump fixtures, records.

    pytest hil_tests                                  # a fresh virtual board per test
    pytest hil_tests --port /dev/ttyACM0 [--balance /dev/ttyUSB0]
    pytest hil_tests --port a0,a1,a2 -n 3             # a farm: worker gwN takes the N-th port
    pytest hil_tests --pico -n 2 --dist loadgroup     # emulated Picos (make hil-rp2)
    pytest hil_tests -p labgrid --lg-env E --lg-places rig=isapump -n 3   # a labgrid farm

Tests ask for capabilities with @pytest.mark.needs("power", ...) and are skipped, with the
reason, on a rig that lacks one. Every test writes <record-dir>/<run>/<test>.json (measurements
with limits, outcome) and <test>.log (the raw device log). See docs/hil.md.
"""

import os
import shutil
import sys
import time

import pytest

from hil_tests.device import Pump
from hil_tests.hilkit import session_folder
from hil_tests.rig import CAPABILITIES, SerialRig, SimRig, lacks
from hil_tests.testrecord import TestRecord
from host_tools import farm
from host_tools.harness.served import REPO_ROOT, HarnessError
from host_tools.link import discovery
from host_tools.link.errors import CommandError, DeviceTimeout
from host_tools.link.session import open_failure
from host_tools.pico.picoboard import PicoBoard, flashed_once
from host_tools.pico.picoboard import missing as missing_pico
from host_tools.sim.simboard import SimBoard

NODE_PKG = REPO_ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
RECORD_INTERVAL_MS = 60_000  # the pump fixture's record interval: long runs stay fast


def pytest_addoption(parser):
    group = parser.getgroup("hil", "hardware-in-the-loop rig")
    group.addoption("--port", help="the board's serial port or pyserial URL; a comma-separated"
                    " list gives one board per pytest-xdist worker (gw0 takes the first)")
    group.addoption("--sim", action="store_true",
                    help="a fresh virtual board per test (the default without --port)")
    group.addoption("--pico", action="store_true",
                    help="a fresh emulated Pico per test: the real MicroPython rp2 port on"
                    " rp2040js, flashed once per run by pumpctl flash (docs/emulated-pico.md)")
    group.addoption("--balance", help="an MT-SICS balance's port or URL (a list: one per board)")
    group.addoption("--record-dir", default=str(REPO_ROOT / "records"),
                    help="where each run writes its records (default: records/)")
    group.addoption("--max-wait-s", type=float, default=120.0,
                    help="longest real-time wait a test may make without time_warp (skip above)")
    group.addoption("--lg-places",
                    help="a labgrid farm (with -p labgrid --lg-env FILE, docs/hil.md): places"
                    " for the workers (gwN acquires the N-th), or tag=value (each worker"
                    " reserves a free place with that tag through the coordinator)")
    group.addoption("--no-pico-lane", action="store_true",
                    help="on the virtual board, do not also run the pico_lane tests on an"
                    " emulated Pico (make test runs them on both)")


@pytest.hookimpl(tryfirst=True)  # before labgrid's plugin reads --lg-env (it uses $LG_PLACE)
def pytest_configure(config):
    config.hil_lg_place = _acquire_place(config)
    config.addinivalue_line(
        "markers", "needs(*capabilities): skip unless the rig has them (%s)" % ", ".join(
            sorted(CAPABILITIES)))
    config.addinivalue_line(
        "markers", "pico_lane: a short test of its own firmware path; on the virtual board it"
        " runs on an emulated Pico too (the make test subset of make hil-rp2)")
    config.addinivalue_line(
        "markers", "device_min(n): about n minutes of device time pass in the test (a slow rig"
        " starts the longest first)")
    if sum(bool(config.getoption(o)) for o in ("--port", "--sim", "--pico")) > 1:
        raise pytest.UsageError("--port, --sim and --pico exclude each other")
    if config.getoption("--port") and not hasattr(config, "workerinput"):
        _check_boards(config.getoption("--port"))
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "hil_run_id" in workerinput:
        config.hil_run_id = workerinput["hil_run_id"]
    else:
        config.hil_run_id = time.strftime("run-%Y%m%d-%H%M%S-") + str(os.getpid())


def _acquire_place(config):
    """With --lg-places: this process's labgrid place, acquired (none in an xdist controller:
    its workers acquire theirs). $LG_PLACE names it for the environment file."""
    choice = config.getoption("--lg-places")
    if not choice:
        return None
    if not getattr(config.option, "lg_env", None):
        raise pytest.UsageError("--lg-places needs labgrid's plugin and environment: -p labgrid"
                                " --lg-env FILE (python -m host_tools.farm env)")
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        os.environ.setdefault("LG_PLACE", "acquired-by-each-worker")
        return None
    coordinator = config.option.lg_coordinator or os.environ.get("LG_COORDINATOR",
                                                                 "127.0.0.1:20408")
    try:
        place = farm.acquire(coordinator, choice, _worker_index())
    except farm.FarmError as exc:
        raise pytest.UsageError("--lg-places %s: %s" % (choice, exc)) from None
    os.environ["LG_PLACE"] = place
    config.hil_lg_coordinator = coordinator
    return place


def pytest_sessionfinish(session):
    """Release this process's labgrid place (here: an xdist worker is still running)."""
    config = session.config
    place = getattr(config, "hil_lg_place", None)
    if place:
        config.hil_lg_place = None
        try:
            farm.release(config.hil_lg_coordinator, place)
        except farm.FarmError as exc:
            sys.stderr.write("hil: %s\n" % exc)


def _check_boards(option):
    """Before any test (and any record): every --port answers as this firmware, or one line
    says why and the run stops."""
    for port in (p.strip() for p in option.split(",") if p.strip()):
        url = discovery.resolve(port) if port != "auto" else port
        found = discovery.probe(url, timeout_s=2.0)
        if not found["ok"]:
            why = found["why"]
            if why.startswith("cannot open: "):
                why = open_failure(url, why[len("cannot open: "):])
            raise pytest.UsageError("--port %s: %s" % (port, why))


def pytest_generate_tests(metafunc):
    """Without --port/--pico, a pico_lane test runs twice: on the virtual board and on an
    emulated Pico (the make test subset of make hil-rp2; --no-pico-lane leaves it out)."""
    config = metafunc.config
    if "rig" not in metafunc.fixturenames or not metafunc.definition.get_closest_marker(
            "pico_lane"):
        return
    if any(config.getoption(o) for o in ("--port", "--pico", "--no-pico-lane")):
        return
    metafunc.parametrize("hil_board", ["sim", "pico"], indirect=True)


def pytest_collection_modifyitems(config, items):
    """On the emulated Pico or a real board, the HIL tests with the most device time first
    (their order does not matter, the wall time of an xdist run does: longest first), each
    allowed its device time at real-time speed plus the boot and 10 min before pytest-timeout
    calls it hung (the 600 s default is for the fast lanes)."""
    if not (config.getoption("--pico") or config.getoption("--port")):
        return
    hil = [i for i, item in enumerate(items) if item.nodeid.startswith("hil_tests/")]

    def minutes(item):
        mark = item.get_closest_marker("device_min")
        return mark.args[0] if mark else 0

    for i in hil:
        items[i].add_marker(pytest.mark.timeout(600 + 60 * (minutes(items[i]) + 10)))
    ordered = sorted((items[i] for i in hil), key=minutes, reverse=True)
    for i, item in zip(hil, ordered):
        items[i] = item


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist: every worker writes into the controller's run directory."""
    node.workerinput["hil_run_id"] = node.config.hil_run_id


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, "hil_rep_" + report.when, report)
    return report


def _worker_index():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def _run_dir(request):
    """This run's record folder (the same for every xdist worker)."""
    path = os.path.join(request.config.getoption("--record-dir"), request.config.hil_run_id)
    os.makedirs(path, exist_ok=True)
    return path


def _mine(option, what):
    """This worker's entry of a comma-separated list (the only one without xdist)."""
    if not option:
        return None
    items = [p.strip() for p in option.split(",") if p.strip()]
    index = _worker_index()
    if index >= len(items):
        pytest.exit("worker gw%d has no %s: %d given (%s), so run with -n %d at most" % (
            index, what, len(items), option, len(items)), returncode=4)
    return items[index]


# ---- fixtures ------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def hil_record(request):
    """This test's record; written when the test ends, whatever its outcome."""
    config = request.config
    record = TestRecord(request.node.nodeid, config.hil_run_id)
    yield record
    record.outcome, record.reason = _outcome(request.node)
    record.write(os.path.join(config.getoption("--record-dir"), config.hil_run_id))


def _outcome(item):
    for when in ("setup", "call"):
        rep = getattr(item, "hil_rep_" + when, None)
        if rep is None:
            continue
        if hasattr(rep, "wasxfail"):
            return ("xfailed" if rep.skipped else "xpassed"), rep.wasxfail or None
        if rep.skipped:
            return "skipped", rep.longrepr[2] if isinstance(rep.longrepr, tuple) else None
        if rep.failed:
            return "failed", str(rep.longrepr).strip().splitlines()[-1][:500]
    return "passed", None


@pytest.fixture(scope="session")
def serial_rig(request):
    """The real board of this worker (session-long), or None on the virtual board."""
    config = request.config
    port = _mine(config.getoption("--port"), "port")
    balance = _mine(config.getoption("--balance"), "balance")
    if config.hil_lg_place:  # a labgrid place: its exported serial (and balance)
        urls = farm.place_urls(request.getfixturevalue("target"))
        port, balance = urls["serial"], balance or urls["balance"]
    if port is None:
        yield None
        return
    max_wait_ms = int(config.getoption("--max-wait-s") * 1000)
    rig = SerialRig(port, balance, max_wait_ms)
    if config.hil_lg_place:
        rig.name = "labgrid place " + config.hil_lg_place
    yield rig
    rig.close()


@pytest.fixture
def hil_board(request):
    """Which board a test without --port gets: "pico" (--pico, or the pico_lane's second
    run), else "sim"."""
    return getattr(request, "param", "pico" if request.config.getoption("--pico") else "sim")


@pytest.fixture(scope="session")
def pico_flash(tmp_path_factory):
    """The emulated Pico's flash after one `pumpctl flash`, shared by every worker (and with
    the tests/rp2 lane): {"rc", "output", "flash"}; flashed when the first test asks."""
    why = missing_pico()
    if why:
        pytest.skip("the emulated Pico cannot start: " + why)
    flashed = flashed_once(session_folder(tmp_path_factory))
    if flashed["rc"] != 0:
        pytest.fail("pumpctl flash failed on the emulated Pico:\n" + flashed["output"])
    return flashed


@pytest.fixture
def rig(request, serial_rig, hil_record, hil_board):
    """The rig: capabilities, time, buttons, power, the balance. Skips what it lacks."""
    needs = [cap for mark in request.node.iter_markers("needs") for cap in mark.args]
    unknown = [cap for cap in needs if cap not in CAPABILITIES]
    if unknown:
        pytest.fail("unknown capabilities %s; known: %s" % (unknown, sorted(CAPABILITIES)))
    if serial_rig is not None:
        hil_record.rig = serial_rig.describe()
        for cap in needs:
            if cap not in serial_rig.capabilities:
                pytest.skip(lacks(cap, serial_rig))
        yield serial_rig
        serial_rig.pump = None
        return
    pico = hil_board == "pico"
    if pico:
        flashed = request.getfixturevalue("pico_flash")
    elif shutil.which("node") is None or not NODE_PKG.is_dir():
        pytest.skip("the virtual board needs node and the MicroPython package (make deps)")
    directory = _run_dir(request)
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in request.node.nodeid)
    balance = _mine(request.config.getoption("--balance"), "balance")
    rig_log = os.path.join(directory, stem + ".rig.log")  # the harness's stderr, if any
    with open(rig_log, "wb") as err:
        try:
            if pico:
                sim = PicoBoard(image=flashed["flash"], scale=1, pty=False, stderr=err)
            else:
                sim = SimBoard(scale=1, pty=False, stderr=err)
        except (HarnessError, OSError) as e:
            pytest.fail("the %s did not start: %s" % ("emulated Pico" if pico else
                                                      "virtual board", e))
        with sim:
            # The emulated Pico runs a few emulated s per wall s: 5 min chunks take minutes.
            # An emulator starved of CPU on a busy host lags real time (at scale 1 between
            # the rig's steps): a whole second of wall time may pass before it has run 0.1 s,
            # so the host waits longer for an answer. Device time is what tests judge.
            sim_rig = SimRig(sim, balance, name="pico" if pico else "sim",
                             advance_timeout_s=1800 if pico else 120,
                             answer_timeout_s=60.0 if pico else 5.0)
            hil_record.rig = sim_rig.describe()
            yield sim_rig
            sim_rig.close()
    if os.path.getsize(rig_log) == 0:
        os.remove(rig_log)


@pytest.fixture
def pump(rig, hil_record):
    """The pump: connected, identified, record interval set; left with no infusion active."""
    pump = Pump(rig.port, hil_record.device_lines, timeout_s=rig.answer_timeout_s)
    pump.connect()
    rig.pump = pump
    try:
        hil_record.device = _identify(pump, rig)
        pump.run("interval", RECORD_INTERVAL_MS)
        yield pump
    finally:
        rig.pump = None
        _leave_idle(pump)
        pump.close()


def _identify(pump, rig, tries=6):
    """id, retried: a board that just opened may still be booting or printing its banner. An
    emulated one boots in device time, which a loaded host gives slowly: between tries the
    rig lets 2 s of device time pass (on a served board, as fast as it can)."""
    for attempt in range(tries):
        try:
            return pump.identify()
        except DeviceTimeout:
            if attempt == tries - 1:
                raise
            rig.wait_ms(2000)
    return None


def _leave_idle(pump):
    """After a test, a real board must not keep infusing or stay latched for the next one."""
    try:
        state = pump.status()["st"]
        if state in ("running", "paused", "interrupted"):
            pump.run("stop")
            state = pump.status()["st"]
        if state == "discontinued":
            pump.clear_latch()
    except (AssertionError, CommandError, DeviceTimeout, OSError) as e:
        sys.stderr.write("hil: could not leave the pump idle: %s\n" % e)

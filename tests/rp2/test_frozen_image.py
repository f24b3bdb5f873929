"""The frozen image (`make image BOARD=pico`: the firmware frozen into MicroPython's rp2 build)
booted on the emulated Pico with a blank filesystem: the pump comes up from the frozen modules
with its frozen board file, answers `id`, and infuses with every step at the pin.

The image build takes minutes, so these run in their own lane: `make image-test` (pytest
--image) builds it once per key (build/image/pico-<key>/, reused while no input changes) and
runs them; `make test` skips them and says so. docs/install.md."""

import json

import pytest
from picokit import Bench, step_edges

from host_tools.commands import image, manifest
from host_tools.link.client import Client
from host_tools.pico.picoboard import PicoBoard, missing
from pumpfw import VERSION


@pytest.fixture(scope="module")
def frozen_uf2(request):
    if not request.config.getoption("--image"):
        pytest.skip("the frozen-image lane: `make image-test` builds the image (minutes, once"
                    " per manifest key) and runs these")
    why = missing()
    if why:
        pytest.skip(why)
    return image.build("pico") / "firmware.uf2"


def test_the_frozen_image_boots_the_pump_answers_id_and_steps_at_the_pin(frozen_uf2):
    with PicoBoard(image=frozen_uf2, hold=True, pty=False) as pico:
        bench = Bench(pico)
        try:
            hello = bench.booted.fields
            assert (hello["fw"], hello["board"], hello["reset"]) == (VERSION, "pico",
                                                                     "power_on")
            ident = bench.command("id")
            assert ident.kind == "ok" and ident.fields["fw"] == VERSION, ident
            assert not any(m.kind == "ev" and m.name == "fault" for m in bench.seen)
            assert bench.command("start", 3).kind == "ok"
            bench.wait_ms(3000)
            assert bench.command("pause").kind == "ok"
            bench.wait_ms(200)
            status = bench.status()
            edges = step_edges(pico)
            assert status["st"] == "paused" and len(edges) > 2000
            assert len(edges) == status["steps"] == pico.status()["steps"]
        finally:
            bench.close()


PROBE = """import os, sys, json, gc
import board, pumpfw.app, pumpfw.hw.stepper_rp2
def walk(d):
    out = []
    for name, kind, *_ in os.ilistdir(d):
        p = d.rstrip("/") + "/" + name
        out += walk(p) if kind == 0x4000 else [p]
    return out
def on_fs(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False
files = [m.__file__ for m in (board, pumpfw.app, pumpfw.hw.stepper_rp2)]
print("PROBE " + json.dumps({"fs": walk("/"), "path": sys.path, "files": files,
    "on_fs": [on_fs(f) for f in files], "pins": [board.STEP_PIN, board.NAME]}))
"""


def test_the_firmware_and_board_file_come_from_the_image_not_the_filesystem(frozen_uf2):
    from mpremote.transport_serial import SerialTransport

    with PicoBoard(image=frozen_uf2, fast=True) as pico:
        with Client(pico.serial_url, timeout_s=30) as c:
            c.identify()
            c.command("repl")  # the pump leaves its loop (as pumpctl flash asks it to)
        transport = SerialTransport(pico.pty, baudrate=115200)
        try:
            transport.enter_raw_repl(soft_reset=False)
            out, err = transport.exec_raw(PROBE, timeout=120)
        finally:
            transport.close()
    assert not err, err
    (line,) = [x for x in out.decode().splitlines() if x.startswith("PROBE ")]
    probe = json.loads(line[len("PROBE "):])
    # nothing of the firmware on the filesystem (the journal is all the pump wrote there) ...
    assert not [p for p in probe["fs"] if p.endswith((".py", ".mpy"))], probe["fs"]
    # ... so the modules are the frozen ones: named by their manifest paths, not on the fs
    assert probe["files"] == ["board.py", "pumpfw/app.py", "pumpfw/hw/stepper_rp2.py"]
    assert probe["on_fs"] == [False, False, False]
    assert {"pumpfw/app.py", "pumpfw/hw/stepper_rp2.py"} <= {r for r, _ in manifest.files("pico")}
    assert probe["path"] == ["", ".frozen", "/lib"]  # a /board.py would still win over it
    assert probe["pins"] == [2, "pico"]  # boards/pico.py, frozen

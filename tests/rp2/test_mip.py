"""`mpremote mip install` of the firmware from the project's own package index (pumpctl
mip-index), served over http://127.0.0.1 as micropython.org's index is, onto a factory-fresh
emulated Pico through its REPL: the files land in /lib, import, and the pump comes up on reset.
docs/install.md."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import serial

from host_tools.commands import manifest, mipindex
from host_tools.commands.flash import verify, wait_for_repl
from host_tools.pico.picoboard import PicoBoard, missing
from pumpfw import VERSION
from pumpfw.protocol import PROTO_VERSION

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


@pytest.fixture
def index_url(tmp_path):
    mipindex.build(tmp_path / "index", ("pico",))
    with mipindex.serve(tmp_path / "index") as url:  # what pumpctl mip-index --serve runs
        yield url


def _mpremote(pty, *args, timeout_s=600):
    proc = subprocess.run([MPREMOTE, "connect", pty, *args], capture_output=True, text=True,
                          timeout=timeout_s)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


LISTING = """import os, json
def walk(d):
    out = []
    for name, kind, *_ in os.ilistdir(d):
        p = (d.rstrip('/') + '/' + name)
        out += walk(p) if kind == 0x4000 else [p]
    return out
import pumpfw.app, pumpfw.hw.stepper_rp2, pumpfw
print(json.dumps([walk('/'), pumpfw.VERSION]))
"""


def test_mpremote_mip_installs_the_firmware_from_a_local_index_and_it_boots(index_url, request):
    if not request.config.getoption("--image"):
        pytest.skip("the install lane: `make image-test` (a mip install onto a fresh emulated Pico"
                    " takes minutes; tests/host/test_install_ways.py checks the index here)")
    why = missing()
    if why:
        pytest.skip(why)
    with PicoBoard(scale=1) as pico:  # the stock image, a blank filesystem
        wait_for_repl(pico.pty, 60)
        out = _mpremote(pico.pty, "mip", "install", "--index", index_url, "pumpfw-pico",
                        "+", "mip", "install", "--target", "/",
                        index_url + "/pumpfw-pico-boot/package.json")
        assert "Installing pumpfw-pico (latest) from %s to /lib" % index_url in out
        assert "Installing: /lib/pumpfw/app.mpy" in out  # the board asked for bytecode v6
        files, version = json.loads(_mpremote(pico.pty, "exec", LISTING).strip())
        lib = {"/lib/" + rel[: -len(".py")] + ".mpy" for rel, _ in manifest.files("pico")}
        assert sorted(files) == sorted(lib | {"/main.py", "/board.py"})
        assert version == VERSION
        with serial.Serial(pico.pty, 115200) as tty:  # Ctrl-D at the REPL: main.py runs
            tty.write(b"\x04")
        hello = verify(pico.serial_url, "pico", timeout_s=5, wait_s=60)  # as flash checks
        assert (hello["fw"], hello["board"], hello["proto"]) == (VERSION, "pico", PROTO_VERSION)

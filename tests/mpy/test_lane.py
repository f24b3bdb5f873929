"""The MicroPython lane inside pytest: tests/firmware on the official MicroPython WebAssembly
build (node tests/mpy/run.mjs), in a few groups so pytest-xdist runs them beside the rest."""

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODULES = sorted(p.stem for p in (REPO / "tests" / "firmware").glob("test_*.py"))
HEAVY = ("test_app", "test_safety", "test_powercut")  # whole infusions: their own processes
GROUPS = [[m] for m in HEAVY if m in MODULES] + [[m for m in MODULES if m not in HEAVY]]


@pytest.mark.parametrize("modules", GROUPS, ids=lambda g: g[0] if len(g) == 1 else "others")
def test_firmware_tests_pass_on_micropython(modules):
    if shutil.which("node") is None or not (REPO / "node_modules" / "@micropython").is_dir():
        pytest.skip("the MicroPython lane needs node and its package (make deps)")
    proc = subprocess.run(["node", str(HERE / "run.mjs"), *modules], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    summary = proc.stdout.strip().splitlines()[-1:] or [""]
    assert proc.returncode == 0 and summary[0].endswith(", 0 failed"), (
        proc.stdout[-4000:] + proc.stderr[-2000:])
    for module in modules:
        assert "%s: " % module in proc.stdout, "%s did not run on MicroPython" % module

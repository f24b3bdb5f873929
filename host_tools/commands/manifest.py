"""A board's firmware manifest (boards/manifests/<board>.py, MicroPython's manifest format):
which files of the firmware go onto that board, read without MicroPython's build tools.

    files("pico")  -> [("pumpfw/app.py", Path(".../firmware/pumpfw/app.py")), ...]
    parts("pico")  -> {"pico": (["pumpfw", "mcu"], [its own files]), "pumpfw": ([], [...]), ...}

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
    _run(path, found, {})
    return list(found.items())


def parts(board):
    """Each manifest file the board's manifest reaches, by stem: (the stems it includes, the
    files it adds itself, as files() lists them). A file added twice belongs to the first."""
    path = path_of(board)
    if not path.is_file():
        raise ManifestError("no manifest boards/manifests/%s.py" % board)
    out = {}
    _run(path, {}, out)
    return out


def _run(path, found, parts):
    here = path.parent
    includes, own = [], []
    parts[path.stem] = (includes, own)

    def include(name):
        child = (here / name).resolve()
        includes.append(child.stem)
        if child.stem not in parts:
            _run(child, found, parts)

    def package(package_path, files=None, base_path=".", opt=None):
        if files is None:
            raise ManifestError("%s: package(%r) without files=: list them" % (path.name,
                                                                            package_path))
        root = (here / base_path).resolve()
        for name in files:
            _add(found, own, "%s/%s" % (package_path, name), root / package_path / name)

    def module(module_path, base_path=".", opt=None):
        _add(found, own, module_path, (here / base_path).resolve() / module_path)

    code = compile(path.read_text(), str(path), "exec")
    exec(code, {"__builtins__": {}, "include": include, "package": package, "module": module})


def _add(found, own, dest, source):
    if not source.is_file():
        raise ManifestError("the manifest names %s, which does not exist" % source)
    if dest not in found:
        found[dest] = source
        own.append((dest, source))

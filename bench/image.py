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
    the first boot (a blank filesystem is formatted) is not counted."""
    times = []
    with PicoBoard(image=image_path, hold=True, pty=False) as pico:
        client = Client(pico.serial_url, timeout_s=0.05)
        client.connect()
        try:
            _until_hello(pico, client, 20_000)
            for _ in range(boots):
                t0 = pico.reset()["vtime_us"]
                times.append((_until_hello(pico, client, 20_000) - t0) / 1000)
        finally:
            client.close()
    times.sort()
    return times[len(times) // 2], times


def _until_hello(pico, client, limit_ms):
    for _ in range(limit_ms // SLICE_MS):
        vtime = pico.advance_ms(SLICE_MS)["vtime_us"]
        while True:
            msg = client.read_message(0.01)
            if msg is None:
                break
            if msg.kind == "hello":
                return vtime  # at most SLICE_MS after the line left the board
    raise RuntimeError("no hello within %d emulated ms" % limit_ms)


def heap(image_path):
    """(free before the App, free with it up): bench/rp2_board.py run for no time."""
    r = _board_run(image_path, "ticks", 0)
    return r["heap_free_before_app"], r["heap_free_after_start"]


def mip_install_s():
    """Wall s of `mpremote mip install` of pumpfw-pico and pumpfw-pico-boot from a local index
    served over HTTP, onto a factory-fresh emulated Pico at its REPL."""
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
            return time.perf_counter() - t0


def measure(quick=False):
    why = pico_board.missing()
    if why:
        return {"image_boot_ms_frozen": not_measured("ms", why)}
    try:
        t0 = time.perf_counter()
        had = (image.image_dir("pico") / "firmware.uf2").is_file()
        uf2 = image.build("pico") / "firmware.uf2"
        built_s = time.perf_counter() - t0
    except PumpError as exc:
        return {"image_boot_ms_frozen": not_measured("ms", "no frozen image: %s" % exc)}
    out = {}
    if not had:
        out["image_build_s"] = metric(
            round(built_s, 1), "s", None,
            "wall time of `pumpctl image --board pico` from the rp2 sources (a first build also"
            " unpacks them and builds picotool and mpy-cross); depends on the host's load")
    boots = 1 if quick else BOOTS
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        flashed = str(Path(tmp) / "flashed.bin")
        rc, text = pico_board.flash_new_board(flashed)
        if rc != 0:
            out["image_boot_ms_mpy"] = not_measured("ms", "pumpctl flash failed: " + text[-300:])
            return out
        figures = {}
        for name, path in (("frozen", str(uf2)), ("mpy", flashed)):
            figures[name] = (boot_ms(path, boots), heap(path))
    how_boot = ("emulated ms from a reset (RUN pin) to the pump's hello line, median of %d "
                "resets (%%s), %d ms resolution; the emulated RP2040 runs flash at full speed "
                "(no XIP cache misses)" % (boots, SLICE_MS))
    how_heap = ("gc.mem_free() after gc.collect() on the real rp2 port with the firmware "
                "imported and Hardware + App up (bench/rp2_board.py); %d bytes before the App")
    kinds = {"frozen": "the frozen image (build/image/%s/firmware.uf2)" % uf2.parent.name,
             "mpy": "the stock image + pumpctl flash (.mpy in /lib)"}
    for name, ((median_ms, all_ms), (before, after)) in figures.items():
        out["image_boot_ms_%s" % name] = metric(
            median_ms, "ms", None, "%s: %s" % (kinds[name], how_boot % ", ".join(
                "%g" % t for t in all_ms)))
        out["image_heap_free_%s_bytes" % name] = metric(
            after, "bytes", None, "%s: %s" % (kinds[name], how_heap % before))
    out["image_mip_install_s"] = metric(
        round(mip_install_s(), 1), "s", None,
        "wall time of `mpremote mip install --index http://127.0.0.1:... pumpfw-pico + mip "
        "install --target / pumpfw-pico-boot` onto a factory-fresh emulated Pico at its REPL "
        "(%d files; compare rp2_flash_s, which also compiles, takes the pump to its REPL and "
        "checks the banner); depends on the host's load"
        % sum(len(p["files"]) for n, p in mipindex.packages(("pico",)).items()))
    gain = figures["frozen"][1][1] - figures["mpy"][1][1]
    out["image_heap_gain_bytes"] = metric(
        gain, "bytes", None, "free heap of the frozen image minus the .mpy install's, App up:"
        " the firmware's bytecode stays in flash instead of RAM")
    return out


if __name__ == "__main__":
    print(json.dumps(measure(quick="--quick" in sys.argv), indent=1))

"""The figures in docs/figures/, made from the code: `python tests/host/docfigures.py OUT`
(make figures writes docs/figures; tests/host/test_docfigures.py runs it and checks them)."""

import dataclasses
import sys
from pathlib import Path

from capkit import MIN, VirtualDevice, ending_now, write_capture

from host_tools import cohort, logs
from host_tools.logs import figures, infusions, paperfigs
from pumpfw import preview

NAMES = ("fig2_simulated_cohort.png", "durations_simulated_cohort.png",
         "infusion_1_ir_and_pause.png")


def make(out):
    """Write every figure of NAMES into out; -> the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # A simulated Part B cohort: the paper scenario, 47 patients, seed 1 (docs/cohort.md).
    table = cohort.simulate(dataclasses.replace(cohort.PAPER), seed=1, replicates=1, workers=1)
    label = "cohort simulator, seed 1"
    paths = figures.save(paperfigs.plot_fig2(table, label, True), out, NAMES[0][:-4], ("png",))
    paths += figures.save(paperfigs.plot_durations(table, label, True), out, NAMES[1][:-4],
                          ("png",))
    # One infusion from the real controller on a virtual clock: a grade-2 reaction, a pause.
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(1, [(45 * MIN, preview.IR, 2), (65 * MIN, preview.RESOLVED, 0),
                     (120 * MIN, preview.PAUSE, 0), (128 * MIN, preview.RESUME, 0)])
    cap = write_capture(out / "example.cap", dev.lines, host_ns0=ending_now(dev.lines),
                        subject="P-07")
    fig, _, _ = figures.plot_infusion(infusions.split(logs.load(cap))[0])
    cap.unlink()
    paths += figures.save(fig, out, NAMES[2][:-4], ("png",))
    return paths


if __name__ == "__main__":
    for path in make(sys.argv[1] if len(sys.argv) > 1 else "docs/figures"):
        print(path)

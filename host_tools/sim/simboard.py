"""The virtual board from Python: starts host_tools/sim/simserve.mjs (through HarnessBoard), and
drives it.

    with SimBoard(fast=True) as sim:          # the pump firmware (pumpfw.app:App) on boards/sim
        port = serial.serial_for_url(sim.serial_url)   # or sim.pty, like /dev/ttyACM0
        sim.advance_ms(60_000); sim.balance_grams()

`make sim SERVE=1` (host_tools/sim/run.py --serve) serves one until Ctrl-C, registered for
`pumpctl ports` and `--port auto`. See docs/virtual-board.md.
"""

from pathlib import Path

from host_tools.harness.served import HarnessBoard

SIM_JS = Path(__file__).resolve().parent / "simserve.mjs"


class SimBoard(HarnessBoard):
    """The virtual board: the firmware on MicroPython (WebAssembly) on a virtual clock."""

    def __init__(self, entry=None, lib=(), fast=False, scale=None, hold=False, pty=True,
                 timeout_s=10.0, extra_args=(), stderr=None):
        cmd = [self.node(), str(SIM_JS), "--exit-on-stdin-eof"]
        if entry:
            cmd += ["--entry", entry]
        for d in lib:
            cmd += ["--lib", str(d)]
        cmd += self.clock_args(fast, scale, hold) + list(extra_args)
        HarnessBoard.__init__(self, cmd, pty, timeout_s, stderr)

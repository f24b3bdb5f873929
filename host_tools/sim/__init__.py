"""The virtual board ("sim"): the real firmware on MicroPython (WebAssembly) under Node, served
by simserve.mjs on the harness core (host_tools/harness/), driven from Python by simboard.py, and
`make sim` (run.py)."""

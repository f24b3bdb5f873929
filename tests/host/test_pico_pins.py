"""The emulated Pico's edge record (host_tools/pico/pins.mjs): a ring that keeps the newest edges,
counts what it dropped and answers `gpio since` in order, whatever its size."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import { EdgeRing } from "./host_tools/pico/pins.mjs";
const ring = new EdgeRing(5);
const out = { empty: ring.since(0) };
for (let k = 0; k < 12; k++) ring.push(100 * k, k % 3, k % 2);
out.all = ring.since(0);
out.from = ring.since(950);
out.none = ring.since(5000);
out.dropped = ring.dropped;
const big = new EdgeRing(200000);
for (let k = 0; k < 2000000; k++) big.push(k, 2, k & 1);
out.big_last = big.since(1999998);
out.big_dropped = big.dropped;
console.log(JSON.stringify(out));
"""


def test_the_edge_ring_keeps_the_newest_in_order_and_counts_the_dropped():
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    proc = subprocess.run(["node", "--input-type=module", "-e", SCRIPT], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["empty"] == []
    assert out["all"] == [[100 * k, k % 3, k % 2] for k in range(7, 12)]
    assert out["from"] == [[1000, 1, 0], [1100, 2, 1]]
    assert out["none"] == [] and out["dropped"] == 7
    assert out["big_last"] == [[1999998, 2, 0], [1999999, 2, 1]]
    assert out["big_dropped"] == 1_800_000

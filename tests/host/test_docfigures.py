"""docs/figures/ holds the figures tests/host/docfigures.py makes, at the size it makes them."""

import struct
from pathlib import Path

import docfigures

REPO = Path(__file__).resolve().parents[2]


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_docs_figures_are_the_ones_the_command_makes(tmp_path):
    made = docfigures.make(tmp_path)
    assert sorted(p.name for p in made) == sorted(docfigures.NAMES)
    kept = sorted(p.name for p in (REPO / "docs/figures").glob("*.png"))
    assert kept == sorted(docfigures.NAMES), "run: make figures"
    for path in made:
        assert _png_size(path) == _png_size(REPO / "docs/figures" / path.name), path.name

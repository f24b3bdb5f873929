"""ruff over the whole tree (pyproject.toml [tool.ruff]): pyflakes, pycodestyle, import order."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists() and shutil.which("ruff") is None:
        pytest.skip("ruff is not installed (make deps installs the pinned one)")
    proc = subprocess.run([str(ruff if ruff.exists() else "ruff"), "check", "--no-cache", "."],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]

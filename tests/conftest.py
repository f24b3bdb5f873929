"""Shared pytest setup: host tests may use the dual-lane helpers in tests/firmware."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "firmware"))

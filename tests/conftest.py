"""Shared pytest setup: host tests may use the dual-lane helpers in tests/firmware; each test
process gets its own runtime dir, so tests never meet a developer's boards or port brokers."""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "firmware"))
os.environ["ISAPUMP_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="isapump-test-")

"""Shared pytest setup (pyproject puts tests/firmware, the dual-lane helpers, on the path):
each test process gets its own runtime dir, so tests never meet a developer's boards or port
brokers."""

import os
import tempfile

os.environ["ISAPUMP_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="isapump-test-")

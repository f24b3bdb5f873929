"""Shared pytest setup (pyproject puts tests/firmware, the dual-lane helpers, on the path):
each test process gets its own runtime dir, so tests never meet a developer's boards or port
brokers."""

import os
import tempfile

os.environ["ISAPUMP_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="isapump-test-")


def pytest_addoption(parser):
    parser.addoption("--image", action="store_true",
                     help="the frozen-image lane (make image-test): build the board's frozen"
                     " MicroPython image if its key is not built yet (minutes), then boot it"
                     " on the emulated Pico (docs/install.md)")

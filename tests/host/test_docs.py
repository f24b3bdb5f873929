"""README.md and docs/*.md run as written (tests/host/doctool.py): every command block and
snippet against the virtual board, in a scratch root, or it says why it cannot run here."""

import shutil
import tempfile
from pathlib import Path

import pytest

from doctool import CHECKED_LANGS, REPO, DocRun, blocks, scratch_root
from simkit import need_node

DOCS = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
MODES = ("run", "serve", "python", "skip")


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_the_doc_runs_as_written(doc):
    found = [b for b in blocks(doc) if b.lang in CHECKED_LANGS]
    for b in found:
        assert b.mode in MODES, "%s: say how this block is checked (<!-- doctest: %s -->)" % (
            b.where, " | ".join(MODES))
        assert b.mode != "skip" or b.reason, "%s: a skipped block says why" % b.where
    runnable = [b for b in found if b.mode != "skip"]
    if not runnable:
        return
    need_node()
    root = scratch_root()
    runtime = Path(tempfile.mkdtemp(prefix="isapump-rt-"))
    doc_run = DocRun(root, runtime)
    try:
        for b in runnable:
            doc_run.run(b)
    finally:
        doc_run.close()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)

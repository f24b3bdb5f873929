"""README.md and docs/*.md run as written (tests/host/doctool.py): every command block and
snippet against the virtual board, in a scratch root, or it says why it cannot run here."""

import re
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


def _names(cell):
    """Every name in the backticked lists of a table cell: `a, b` + `c` -> {a, b, c}."""
    return {n.strip() for group in re.findall(r"`([^`]+)`", cell) for n in group.split(",")}


def test_logs_md_names_every_dataframe_column_the_code_makes():
    from host_tools import logs
    from host_tools.logs import infusions

    text = (REPO / "docs" / "logs.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(log\.\w+)` \|[^|]*\|(.*)\|$",
                                                         text, re.M)}
    assert _names(rows["log.lines"]) == set(logs.LINE_COLUMNS)
    assert _names(rows["log.records"]) - {"protocol.RECORD_FIELDS"} == set(logs.RECORD_COLUMNS)
    assert _names(rows["log.events"]) == set(logs.EVENT_COLUMNS)
    summary = text[text.index("`logs.summary(log)` gives one row per infusion"):]
    summary = summary[: summary.index("\n\n", summary.index("| column |"))]
    first = {line.split("|")[1] for line in summary.splitlines() if line.startswith("| `")}
    assert set().union(*map(_names, first)) == set(infusions.INFUSION_COLUMNS)

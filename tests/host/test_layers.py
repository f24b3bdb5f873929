"""The layers, declared once as import-linter contracts in pyproject.toml: `lint-imports` keeps
them, and docs/architecture.md's picture of them is drawn from the same contracts."""

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BEGIN = "<!-- layers: drawn from pyproject.toml [tool.importlinter] by tests/host/test_layers -->"
END = "<!-- /layers -->"


def contracts():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def picture():
    """The contracts as the doc shows them: a layer stack, then what may not import what."""
    lines = [BEGIN, "```"]
    for c in contracts():
        if c["type"] == "layers":
            lines.append("%s: %s (each imports only what is below it)" % (c["id"], c["name"]))
            for i, layer in enumerate(c["layers"]):
                lines.append("  %s %s" % ("│" if i else "┌", layer))
            lines.append("  ▼")
    for c in contracts():
        if c["type"] == "forbidden":
            lines.append("%s: %s" % (c["id"], c["name"]))
            lines.append("  %s  ✗→  %s" % (", ".join(c["source_modules"]),
                                           ", ".join(c["forbidden_modules"])))
    lines += ["```", END]
    return "\n".join(lines)


def test_every_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-1000:]
    assert "%d kept, 0 broken" % len(contracts()) in proc.stdout


def test_the_architecture_doc_draws_the_contracts():
    doc = (REPO / "docs" / "architecture.md").read_text()
    assert BEGIN in doc and END in doc, "docs/architecture.md has no layers picture"
    drawn = BEGIN + doc.split(BEGIN, 1)[1].split(END, 1)[0] + END
    assert drawn == picture(), "redraw it:\n" + picture()

"""docs/architecture.md stays true: every module it names exists, every module is named."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "architecture.md").read_text()


def _rows(heading):
    section = DOC.split("## " + heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, re.M)


def test_every_firmware_module_is_named_and_exists():
    root = REPO / "firmware" / "pumpfw"
    named = set(_rows("Firmware"))
    for rel in named:
        assert (root / rel).is_file(), "docs/architecture.md names %s, which is gone" % rel
    modules = {str(p.relative_to(root)) for p in root.rglob("*.py") if p.stem != "__init__"}
    assert modules <= named, "not in docs/architecture.md: %s" % sorted(modules - named)


def test_every_host_module_and_package_is_named_and_exists():
    root = REPO / "host_tools"
    named = set(_rows("Host"))
    for rel in named:
        assert (root / rel.rstrip("/")).exists(), "docs/architecture.md names %s" % rel
    modules = {p.name for p in root.glob("*.py") if p.stem != "__init__"}
    packages = {p.name + "/" for p in root.iterdir() if (p / "__init__.py").exists()}
    listed = {p + "/" for p in {rel.split("/", 1)[0] for rel in named if "/" in rel.rstrip("/")}}
    assert modules | packages <= named | listed, sorted((modules | packages) - named - listed)
    section = DOC.split("## Host", 1)[1]
    for package in packages:  # every module of a package has a row, or its package's row names it
        rows = [line for line in section.splitlines() if line.startswith("| `%s`" % package)]
        for p in (root / package).iterdir():
            if p.suffix in (".py", ".mjs") and p.stem != "__init__":
                own = package + p.name in named
                assert own or (rows and "`%s`" % p.name in rows[0]), (package, p.name)

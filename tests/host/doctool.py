"""Runs the commands and snippets of README.md and docs/*.md as written, so a doc that lies fails.

Every ```sh, ```python or ```console block says how it is checked, in an HTML comment on the
line before it:

    <!-- doctest: run -->            the lines run in bash (set -e), one after the other
    <!-- doctest: serve -->          one command that serves until Ctrl-C (a virtual board):
                                     started in the background for the rest of the doc
    <!-- doctest: python -->         the snippet runs in the project's Python
    <!-- doctest: skip REASON -->    not run, and the reason says why (a real board, ...)

`run` and `python` may add `; expect TEXT` (more than once): TEXT must appear in the output. A
line of a `run` block ending in `&` starts a background job (ended with the block); the next
line waits until a virtual board has registered. Blocks of one doc run in order in one scratch
root: a temporary folder that links to every top-level entry of the repository, with its own
empty `scratch/`, so walkthroughs write there, as the docs tell users to.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*doctest:\s*(.*?)\s*-->\s*$")
CHECKED_LANGS = ("sh", "python", "console", "bash")
BLOCK_TIMEOUT_S = 120
# Defined before each run block: wait until a virtual board is registered (after a `... &`).
_PRELUDE = """set -e -o pipefail
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
__wait_board() {
  for _ in $(seq 600); do ls "$ISAPUMP_RUNTIME_DIR"/sim-*.json >/dev/null 2>&1 && return 0
    sleep 0.1; done; echo "doctest: no virtual board registered" >&2; return 1; }
"""


class Block:
    def __init__(self, doc, line, lang, text, directive):
        self.doc, self.line, self.lang, self.text = doc, line, lang, text
        parts = [p.strip() for p in (directive or "").split(";") if p.strip()]
        head = parts[0].split(None, 1) if parts else [""]
        self.mode = head[0]
        self.reason = head[1] if len(head) > 1 else ""
        self.expects = [p[len("expect "):].strip().strip('"') for p in parts[1:]
                        if p.startswith("expect ")]

    @property
    def where(self):
        return "%s:%d" % (self.doc.relative_to(REPO), self.line)


def blocks(doc):
    """Every fenced block of a Markdown file with a language, with its directive."""
    out, lines = [], doc.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(k for k in range(i + 1, len(lines)) if lines[k].startswith("```"))
        before = DIRECTIVE.match(lines[i - 1]) if i else None
        if m.group(1):
            out.append(Block(doc, i + 1, m.group(1), "\n".join(lines[i + 1:end]) + "\n",
                             before.group(1) if before else None))
        i = end + 1
    return out


def scratch_root():
    """A folder that looks like the repository, with an empty scratch/ of its own."""
    root = Path(tempfile.mkdtemp(prefix="isapump-doc-"))
    for entry in REPO.iterdir():
        if entry.name not in ("scratch", ".git", "records"):
            (root / entry.name).symlink_to(entry)
    (root / "scratch").mkdir()
    return root


class DocRun:
    """Runs one doc's blocks in order; serve blocks stay up until close()."""

    def __init__(self, root, runtime_dir):
        self.root = root
        self.env = dict(os.environ, ISAPUMP_RUNTIME_DIR=str(runtime_dir),
                        PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.servers = []

    def run(self, block):
        if block.mode == "serve":
            return self._serve(block)
        if block.mode == "python":
            cmd = [str(REPO / ".venv" / "bin" / "python"), "-c", block.text]
        else:
            script = _PRELUDE + re.sub(r"&[ \t]*(#.*)?$", r"& __wait_board \1", block.text,
                                       flags=re.M)
            cmd = ["bash", "-c", script]
        proc = subprocess.run(cmd, cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=BLOCK_TIMEOUT_S, stdin=subprocess.DEVNULL)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, "%s failed (exit %d):\n%s" % (block.where,
                                                                   proc.returncode, out)
        for text in block.expects:
            assert text in out, "%s: %r is not in its output:\n%s" % (block.where, text, out)
        return out

    def _serve(self, block):
        command = block.text.strip().splitlines()[-1].split("#")[0].strip()
        proc = subprocess.Popen(["bash", "-c", "exec " + command], cwd=self.root, env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        self.servers.append(proc)
        deadline = time.monotonic() + 60
        folder = Path(self.env["ISAPUMP_RUNTIME_DIR"])
        while not list(folder.glob("sim-*.json")):
            assert proc.poll() is None, "%s: %s ended: %s" % (
                block.where, command, proc.stderr.read().decode())
            assert time.monotonic() < deadline, "%s: no virtual board registered" % block.where
            time.sleep(0.05)
        return ""

    def close(self):
        for proc in self.servers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as the doc says
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            proc.stderr.close()


if __name__ == "__main__":
    for path in sys.argv[1:]:
        for b in blocks(Path(path).resolve()):
            print(b.where, b.lang, b.mode or "(no directive)", b.reason)

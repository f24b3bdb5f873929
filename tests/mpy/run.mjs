// The MicroPython lane: loads the project's firmware files and tests/firmware into the official
// MicroPython WebAssembly build and runs every test there.
// Usage: node tests/mpy/run.mjs [-v] [module...]
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { copyTree, repoRoot } from "../../host_tools/sim/mpyfs.mjs";
import fs from "node:fs";
import path from "node:path";

const verbose = process.argv.includes("-v");
const only = process.argv.slice(2).filter((a) => a !== "-v");
// What a test prints (e.g. the traceback a test injects on purpose) is kept and shown only if
// the test fails, as pytest does; -v shows it always.
let captured = null;
const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (line) => {
    if (captured && !verbose) captured.push(line);
    else process.stdout.write(line + "\n");
  },
  stderr: (line) => process.stderr.write(line + "\n"),
});
mp.registerJsModule("lane", {
  capture(on, failed) {
    if (on) {
      captured = [];
      return;
    }
    if (failed && captured) for (const line of captured) process.stdout.write(line + "\n");
    captured = null;
  },
});
copyTree(mp.FS, path.join(repoRoot, "firmware", "pumpfw"), "/lib/pumpfw");
copyTree(mp.FS, path.join(repoRoot, "boards"), "/lib/boards");
copyTree(mp.FS, path.join(repoRoot, "tests", "firmware"), "/tests");
mp.FS.writeFile("/tests/_runner.py", fs.readFileSync(path.join(repoRoot, "tests", "mpy", "runner.py")));

let failed = 1;
try {
  mp.runPython(`
import sys
sys.path.insert(0, "/tests")
import _runner
_failed = _runner.main(${JSON.stringify(only)})
`);
  failed = mp.globals.get("_failed");
} catch (err) {
  // A Python error escaping the runner itself: print its message, not the VM's source.
  process.stderr.write(`micropython lane crashed: ${err.type || ""} ${err.message}\n`);
}
process.exit(failed === 0 ? 0 : 1);

// Loads the firmware into the MicroPython WebAssembly build and measures bench/mpy_app.py there:
// heap, bytes per control tick and per button IRQ, and tick time vs a reference loop (timed here,
// in JS). Prints one JSON line. Usage: node bench/mpy_run.mjs [ticks] [reps] [infusion]
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { copyTree, repoRoot } from "../host_tools/sim/mpyfs.mjs";
import fs from "node:fs";
import path from "node:path";

const n = Number(process.argv[2] || 5000);
const reps = Number(process.argv[3] || 7);
const infusion = Number(process.argv[4] || 3);
const mp = await loadMicroPython({
  heapsize: 2 * 1024 * 1024,
  stdout: (line) => process.stderr.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
copyTree(mp.FS, path.join(repoRoot, "firmware", "pumpfw"), "/lib/pumpfw");
mp.FS.writeFile("/lib/mpy_app.py", fs.readFileSync(path.join(repoRoot, "bench", "mpy_app.py")));

const py = (code) => mp.runPython(code);
const val = (expr) => {
  mp.runPython(`_r = ${expr}`);
  return mp.globals.get("_r");
};
const vmBaseline = val("__import__('gc').collect() or __import__('gc').mem_alloc()");
py(`import gc, mpy_app\n_b = mpy_app.Bench(${infusion})`);
const out = {
  heap_after_start_bytes: val("_b.heap_bytes"),
  app_bytes: val("_b.app_bytes"),
  vm_baseline_bytes: vmBaseline,
  tick_bytes: val(`mpy_app.allocated(_b.ticks, ${n})`),
  irq_bytes: val(`mpy_app.irq_bytes(_b, ${n})`),
  calls: n,
  parts_bytes_per_call: JSON.parse(val(`__import__("json").dumps(mpy_app.parts(_b, ${n}))`)),
  steps_made: 0,
  tick_us: [],
  ref_us: [],
  empty_us: [],
};

function timed(fn) {
  const t0 = performance.now();
  py(`_b.${fn}(${n})`);
  return ((performance.now() - t0) * 1000) / n;
}
py("gc.collect()");
for (let r = 0; r < reps; r++) {
  // Side by side: the three loops alternate, so each rep sees the same machine state.
  out.empty_us.push(timed("empty"));
  out.tick_us.push(timed("ticks"));
  out.ref_us.push(timed("ref"));
}
out.steps_made = val("_b.app.steps_made()");
out.state = val("mpy_app.ctl.STATE_NAMES[_b.app.controller.state]");
out.tx_bytes = val("_b.hw.port.tx_bytes");
process.stdout.write(JSON.stringify(out) + "\n");

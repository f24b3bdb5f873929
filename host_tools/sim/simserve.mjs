// The virtual board harness: the firmware on real MicroPython (WebAssembly) on a virtual clock,
// its USB serial, a control side channel and an MT-SICS balance, each on a 127.0.0.1 TCP port.
// Usage: node host_tools/sim/simserve.mjs [--fast | --scale K | --hold] [--entry mod:Factory] ...
// Prints one JSON line of endpoints once the board has booted; see docs/virtual-board.md.
import path from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "./mpyfs.mjs";
import { Balance } from "../harness/balance.mjs";
import { SimHw } from "./simhw.mjs";
import { ControlChannel, quitOn, socketUrl } from "../harness/control.mjs";
import { controlVerbs } from "../harness/verbs.mjs";

const { values: args } = parseArgs({
  options: {
    entry: { type: "string", default: "pumpfw.app:App" },
    board: { type: "string", default: "sim" },
    lib: { type: "string", multiple: true, default: [] },
    fast: { type: "boolean", default: false },
    hold: { type: "boolean", default: false },
    scale: { type: "string", default: "1" },
    "serial-port": { type: "string", default: "0" },
    "control-port": { type: "string", default: "0" },
    "balance-port": { type: "string", default: "0" },
    "heap-kb": { type: "string", default: "256" },
    "tick-us": { type: "string", default: "1000" },
    "tx-buffer": { type: "string", default: "4096" },
    "flash-write-ms": { type: "string", default: "50" }, // time one journal write takes
    "ticks-offset-ms": { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
    "exit-on-stdin-eof": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});

const num = (name) => {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a number >= 0: ${args[name]}`);
  return v;
};
const initialMode = args.fast
  ? { kind: "fast", scale: 1 }
  : args.hold
    ? { kind: "hold", scale: 1, targetUs: 0 }
    : { kind: "scale", scale: num("scale") };

const board = new SimHw({
  repoRoot,
  entry: args.entry,
  board: args.board,
  libDirs: args.lib.map((d) => path.resolve(d)),
  heapKb: num("heap-kb"),
  tickUs: Math.max(1, num("tick-us")),
  txBufferBytes: num("tx-buffer"),
  flashWriteUs: num("flash-write-ms") * 1000,
  ticksOffsetUs: num("ticks-offset-ms") * 1000,
  verbose: args.verbose,
  mode: initialMode,
});
const balance = new Balance(
  () => ({ worldUs: board.nowUs(), steps: board.steps(), stepsPerMl: board.stepsPerMl || 1 }),
  num("seed"),
);

// ---- the control channel: JSON lines in, JSON lines out (replies carry the request's id) -----
// The verbs both boards answer (harness/verbs.mjs), and this board's own.
const handle = controlVerbs(board, balance, () => quit(), {
  inject: (req) => (board.inject(req.what), {}), // an exception inside the firmware's next tick
});
const control = new ControlChannel(handle, () => board.worldUs / 1000);
const emit = (event, data) => control.emit(event, data);

// ---- events: on the control channel and on stderr ------------------------------------------
board.on("boot", (b) => emit("boot", b));
board.on("off", () => emit("power_off", {}));
board.on("reset", (cause) => {
  process.stderr.write(`sim: reset (${cause}) at ${Math.floor(board.worldUs / 1000)} ms\n`);
  emit("reset", { cause });
});
board.on("exit", (why) => emit("exit", { why }));
board.on("crash", (c) => {
  // Type and message only (and the firmware's own traceback): never the VM's JS source.
  process.stderr.write(`sim: firmware crashed: ${c.type}: ${c.message}\n${c.traceback}`);
  emit("crash", c);
});

const servers = [];
const quit = quitOn(servers, () => {
  control.close();
  board.shutdown();
}, args["exit-on-stdin-eof"]);

try {
  servers.push(await board.listenSerial(num("serial-port")));
  servers.push(await control.listen(num("control-port")));
  servers.push(await balance.listen(num("balance-port")));
  await board.powerOn("power_on");
} catch (err) {
  process.stderr.write(`sim: cannot start: ${err.type || err.name}: ${err.message}\n`);
  process.exit(2);
}
const [serial, controlUrl, bal] = servers.map(socketUrl);
const { pid } = process;
const endpoints = { serial, control: controlUrl, balance: bal, pty: null, pid, entry: args.entry };
process.stdout.write(JSON.stringify(endpoints) + "\n");

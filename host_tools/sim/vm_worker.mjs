// One power-on of the virtual board: a MicroPython VM in a worker thread, on the virtual clock.
// A power cycle or a watchdog reset ends this worker and starts a fresh one (simserve.mjs): the
// WebAssembly build keeps its proxies in globalThis, so one VM per thread keeps reboots clean.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { parentPort, workerData } from "node:worker_threads";
import { copyTree } from "./mpyfs.mjs";
import fs from "node:fs";
import path from "node:path";
import { writeFlash, readFlash } from "./flashfs.mjs";
import { Pace } from "../harness/pace.mjs";

const cfg = workerData;
const PERIOD = 2 ** 30;
const SLICE_MS = 8; // wall time per run slice before yielding to messages

// ---- the virtual world, as this board sees it ----------------------------------------------
let worldUs = cfg.worldUs; // harness time, monotonic across boots (a double: exact to 2^53)
const bootUs = cfg.worldUs - cfg.ticksOffsetUs; // board ticks = worldUs - bootUs
const pace = new Pace(cfg.mode, worldUs); // {kind: "fast" | "scale" | "hold", scale, targetUs}
let nextWakeUs = worldUs; // when the app wants its next tick
let inputPending = false;
let dead = false; // the firmware stopped (crash, exit): time still runs for the watchdog
let atRepl = false; // the loop ended for the REPL, which the virtual board does not have
const NO_REPL = "virtual board: no REPL here; Ctrl-D restarts the pump (a soft reset)";
let wdtTimeoutUs = 0;
let wdtFedUs = 0;
const rx = []; // Uint8Arrays the host sent, oldest first
let rxHead = 0; // bytes of rx[0] already taken
let txUsed = 0; // bytes in the device-side TX buffer, not yet taken by the host
let txOut = []; // bytes written since the last post
let lastState = "";
let runner = null;
let M = null;

const post = (msg, transfer) => parentPort.postMessage(msg, transfer);

// TX bytes pushed this boot, and those the host has taken (counted by the main thread in shared
// memory, so they are seen mid-slice): their difference is what fills the device's buffer.
let txPushed = 0;
function txFree() {
  txUsed = (txPushed - Atomics.load(cfg.txAcked, 0)) | 0;
  return cfg.txBufferBytes - txUsed;
}

function txPush(bytes) {
  const n = Math.min(bytes.length, txFree());
  if (n > 0) {
    txOut.push(bytes.slice(0, n));
    txPushed = (txPushed + n) | 0;
    txUsed += n;
  }
  return n;
}

// CRC-16/CCITT-FALSE, a byte at a time: the board's CRC unit (pumpfw.framing.use_crc_unit).
const CRC_TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  CRC_TABLE[i] = c;
}

const enc = new TextEncoder();
const simhw = {
  crc16(addr, n, crc) {
    const mem = M.HEAPU8;
    for (let i = addr; i < addr + n; i++) {
      crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[(crc >> 8) ^ mem[i]];
    }
    return crc;
  },
  ticks_us: () => Math.floor(worldUs - bootUs) % PERIOD,
  ticks_ms: () => Math.floor((worldUs - bootUs) / 1000) % PERIOD,
  reset_cause: () => cfg.resetCause,
  rx_into(addr, n) {
    let done = 0;
    while (done < n && rx.length) {
      const chunk = rx[0];
      const take = Math.min(n - done, chunk.length - rxHead);
      M.HEAPU8.set(chunk.subarray(rxHead, rxHead + take), addr + done);
      done += take;
      rxHead += take;
      if (rxHead === chunk.length) {
        rx.shift();
        rxHead = 0;
      }
    }
    return done;
  },
  tx: (addr, n) => txPush(M.HEAPU8.subarray(addr, addr + n)),
  wdt_start(timeoutMs) {
    wdtTimeoutUs = timeoutMs * 1000;
    wdtFedUs = worldUs;
  },
  wdt_feed() {
    wdtFedUs = worldUs;
  },
  // A journal write: the flash takes its time while the stepper (virtual PIO) runs on.
  flash_written(nbytes) {
    worldUs += cfg.flashWriteUs;
  },
  crash(type, message, traceback) {
    dead = true;
    post({ t: "crash", type, message, traceback, worldUs });
  },
  exited(why) {
    dead = true;
    if (why === "repl") {
      wdtTimeoutUs = 0; // a board resets into its REPL: no watchdog there
      atRepl = true;
      stdout(NO_REPL);
    }
    post({ t: "exit", why, worldUs });
  },
};

// ---- boot ----------------------------------------------------------------------------------
function stdout(line) {
  txPush(enc.encode(line + "\r\n")); // print() reaches the USB serial, as on a board
  if (cfg.verbose) process.stderr.write(`vm: ${line}\n`);
}

async function boot() {
  const mp = await loadMicroPython({
    heapsize: cfg.heapKb * 1024,
    stdout,
    stderr: (line) => process.stderr.write(`vm stderr: ${line}\n`),
  });
  M = mp._module;
  copyTree(mp.FS, path.join(cfg.repoRoot, "firmware", "pumpfw"), "/lib/pumpfw");
  const boardFile = path.join(cfg.repoRoot, "boards", `${cfg.board}.py`);
  mp.FS.writeFile("/lib/board.py", fs.readFileSync(boardFile));
  for (const dir of cfg.libDirs) copyTree(mp.FS, dir, "/lib");
  writeFlash(mp.FS, cfg.flash);
  mp.registerJsModule("simhw", simhw);
  mp.runPython(`
from pumpfw.hw.sim import Runner as _Runner
import simhw as _vb
_runner = _Runner(_vb, ${JSON.stringify(cfg.entry)})
`);
  runner = mp.globals.get("_runner");
  return mp;
}

// ---- the run loop --------------------------------------------------------------------------
function watchdogDue() {
  return wdtTimeoutUs > 0 && worldUs - wdtFedUs >= wdtTimeoutUs;
}

let ticks = 0; // app.step() calls this boot
let tickWallMs = 0; // wall time spent inside them
function tick() {
  const t0 = performance.now();
  const startUs = worldUs; // the app's wake time counts from its tick, even if a flash write
  const delayMs = runner.tick(); // inside it moved the clock on
  tickWallMs += performance.now() - t0;
  ticks += 1;
  if (delayMs < 0 || dead) return;
  const minUs = worldUs + cfg.tickUs;
  nextWakeUs = Math.max(minUs, startUs + delayMs * 1000);
}

// Runs until the slice budget or the mode's limit; returns ms to wait before the next slice
// (0: go on at once, -1: nothing to do until a message comes).
function slice() {
  const start = performance.now();
  for (;;) {
    const limit = pace.limitUs(worldUs);
    let due = nextWakeUs;
    if (dead) due = Infinity;
    else if (inputPending) due = Math.min(nextWakeUs, worldUs + cfg.tickUs);
    if (wdtTimeoutUs > 0) due = Math.min(due, wdtFedUs + wdtTimeoutUs);
    if (due > limit || due === Infinity) {
      if (limit !== Infinity && limit > worldUs) worldUs = limit;
      if (pace.mode.kind === "scale") {
        return Math.max(1, Math.min(10, (due - worldUs) / 1000 / pace.mode.scale));
      }
      return -1;
    }
    if (due > worldUs) worldUs = due;
    if (watchdogDue()) return "watchdog";
    inputPending = false;
    tick();
    if (performance.now() - start > SLICE_MS) return 0;
    // Half the device's TX buffer is waiting: hand it to the host now (it frees the buffer as
    // it reads, seen at once through the shared counter) rather than at the end of the slice,
    // or a fast clock would make the USB look slower than the host really reads.
    if (txUsed * 2 >= cfg.txBufferBytes && txOut.length) flushTx();
  }
}

function flushTx() {
  if (txOut.length) {
    const total = txOut.reduce((s, b) => s + b.length, 0);
    const data = new Uint8Array(total);
    let at = 0;
    for (const b of txOut) {
      data.set(b, at);
      at += b.length;
    }
    txOut = [];
    post({ t: "tx", data }, [data.buffer]);
  }
}

function state(force) {
  const s = {
    t: "state",
    worldUs,
    boardUs: worldUs - bootUs,
    steps: runner.steps(),
    motorOn: runner.motor_on(),
    dead,
    wdtMs: wdtTimeoutUs / 1000,
    txUsed,
    ticks,
  };
  const key = JSON.stringify(s);
  if (force || key !== lastState) {
    lastState = key;
    s.heapUsed = runner.heap_used();
    s.tickWallMs = tickWallMs;
    post(s);
  }
}

let timer = null;
function schedule(waitMs) {
  if (timer !== null) return;
  if (waitMs === 0) timer = setImmediate(run);
  else if (waitMs > 0) timer = setTimeout(run, waitMs);
}

function run() {
  timer = null;
  try {
    const wait = slice();
    flushTx();
    if (wait === "watchdog") {
      state(true);
      post({ t: "reset", cause: "watchdog", worldUs, flash: readFlash(M.FS) });
      return;
    }
    state(false);
    schedule(wait);
  } catch (err) {
    // A Python error outside app.step (the harness's own code): message only, never VM source.
    post({ t: "fatal", message: `${err.type || err.name}: ${err.message}` });
  }
}

function wake() {
  if (timer !== null) {
    clearTimeout(timer);
    clearImmediate(timer);
    timer = null;
  }
  schedule(0);
}

parentPort.on("message", (msg) => {
  switch (msg.t) {
    case "rx":
      if (atRepl) {
        // What a board's REPL would take: Ctrl-D soft-resets into the pump; a line is answered
        // with where the host is and how to come back.
        if (msg.data.includes(4)) {
          flushTx();
          state(true);
          post({ t: "reset", cause: "soft", worldUs, flash: readFlash(M.FS) });
          return;
        }
        if (msg.data.includes(10) || msg.data.includes(13)) stdout(NO_REPL);
        break;
      }
      rx.push(msg.data);
      inputPending = true;
      break;
    case "txack":
      txFree(); // the host took some: room again (and a tick soon, below)
      break;
    case "pin":
      runner.set_pin(msg.name, msg.level);
      inputPending = true;
      break;
    case "mode":
      pace.set(msg.mode, worldUs);
      break;
    case "inject":
      runner.inject(msg.what); // the firmware's next tick meets the fault
      inputPending = true;
      break;
    case "hang":
      // A hung control loop (fault injection): no more ticks, time runs on, the watchdog
      // decides. The motor is left as the loop left it, as a real hang would.
      dead = true;
      break;
    case "cut":
      // Power off between two ticks: the steps made so far stand, the flash is kept.
      flushTx();
      state(true);
      post({ t: "off", worldUs, flash: readFlash(M.FS) });
      return;
    default:
      break;
  }
  wake();
});

try {
  await boot();
  flushTx();
  post({ t: "ready", stepsPerMl: runner.steps_per_ml, activeLow: runner.active_low });
  state(true);
  schedule(0);
} catch (err) {
  post({ t: "fatal", message: `${err.type || err.name}: ${err.message}` });
}

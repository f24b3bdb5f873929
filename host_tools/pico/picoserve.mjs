// The emulated Pico as a board: the stock MicroPython rp2 image on rp2040js (chip.mjs), its USB
// serial, a control side channel and an MT-SICS balance, each on a 127.0.0.1 TCP port, like the
// virtual board (host_tools/sim/simserve.mjs) so the same tools and HIL tests drive either.
// Usage: node host_tools/pico/picoserve.mjs --bootrom ROM --image UF2|BIN --pins JSON [--fast|...]
// Prints one JSON line of endpoints once it listens; see docs/emulated-pico.md.
import fs from "node:fs";
import { parseArgs } from "node:util";
import { Balance } from "../harness/balance.mjs";
import { ControlChannel, quitOn, socketUrl } from "../harness/control.mjs";
import { SerialFanout } from "../harness/fanout.mjs";
import { EmulatedPico } from "./chip.mjs";
import { FLASH_BYTES, FLASH_TIMES } from "./flash.mjs";
import { recordPins } from "./pins.mjs";

const { values: args } = parseArgs({
  options: {
    bootrom: { type: "string" },
    image: { type: "string" },
    pins: { type: "string", default: "{}" },
    "steps-per-ml": { type: "string", default: "16000" },
    fast: { type: "boolean", default: false },
    hold: { type: "boolean", default: false },
    scale: { type: "string", default: "1" },
    "flash-times": { type: "string", default: "typical" },
    "record-edges": { type: "string", default: "200000" },
    seed: { type: "string", default: "1" },
    "exit-on-stdin-eof": { type: "boolean", default: false },
  },
});

const SLICE_MS = 15; // wall time per emulation slice before sockets get their turn
const pins = JSON.parse(args.pins); // {step, dir, enable, enable_active_low, pause, ir, ok, ...}
const stepsPerMl = Number(args["steps-per-ml"]);

const chip = new EmulatedPico({
  bootrom: args.bootrom,
  image: args.image,
  flashTimes: FLASH_TIMES[args["flash-times"]] ?? JSON.parse(args["flash-times"]),
});
chip.watchPins = [pins.step, pins.dir, pins.enable].filter((n) => n !== undefined);
if (pins.count !== undefined && pins.count !== null) chip.wires.push([pins.step, pins.count]);

// ---- what the pins did: STEP rising edges (the balance's truth), ENABLE and DIR (pins.mjs) -----
const { pinState, motorOn } = recordPins(chip, pins, Number(args["record-edges"]));

// ---- the clock ----------------------------------------------------------------------------
let mode = args.fast
  ? { kind: "fast", scale: 1 }
  : args.hold
    ? { kind: "hold", scale: 1, targetNs: 0 }
    : { kind: "scale", scale: Number(args.scale) };
let anchorWall = performance.now();
let anchorWorld = 0;
let offWorldNs = 0; // world time while the chip is off
let offWall = null;
const waiters = [];
const worldNs = () => (chip.powered ? chip.worldNs() : offWorldNs);

function setMode(m) {
  mode = m;
  anchorWall = performance.now();
  anchorWorld = worldNs();
  offWall = chip.powered ? null : anchorWall;
  kick();
}

function limitNs() {
  if (mode.kind === "fast") return Infinity;
  if (mode.kind === "hold") return mode.targetNs;
  const wall = performance.now();
  const limit = anchorWorld + (wall - anchorWall) * mode.scale * 1e6;
  if (limit - worldNs() > 250e6 * mode.scale && !chip.asleep()) {
    // Slower than this scale: let the lost time go, do not race after it. (A sleeping core is
    // behind only because the loop slept until its next alarm: it catches up at once.)
    anchorWall = wall;
    anchorWorld = worldNs();
  }
  return limit;
}

// The loop runs when there is emulation to do, and otherwise sleeps in one timer until the next
// thing that can happen: while the core waits (WFI/WFE) or is hung, nothing changes before its
// next clock alarm (timer, PIO, USB, flash), so at a scale the loop sleeps until that alarm's
// wall time; input from outside (serial, control, balance) wakes it at once (kick, sync).
let timer = null;
let sleeping = false; // timer is a setTimeout (a sleep), not a setImmediate
function kick() {
  if (timer !== null && sleeping) clearTimeout(timer);
  if (timer === null || sleeping) {
    sleeping = false;
    timer = setImmediate(loop);
  }
}

function sleepFor(ms) {
  sleeping = true;
  timer = setTimeout(loop, Math.max(1, Math.min(ms, 1000)));
}

// Before outside input is applied or the world time is read: the chip catches up with the
// wall clock (at a scale the loop may be asleep, the chip's clock at its last event).
function sync() {
  if (mode.kind === "scale" && chip.powered && !(chip.worldNs() >= cutAtNs)) {
    chip.run(limitNs(), SLICE_MS);
  }
}

// Fault injection: a power cut planned at a world instant (e.g. inside a flash write).
let cutAtNs = Infinity;
chip.onFlash = (kind, startNs, endNs) => {
  if (cutDuringFlash === null || !chip.powered) return;
  const base = chip.bootWorldNs;
  cutAtNs = base + startNs + (endNs - startNs) * cutDuringFlash.fraction;
  chip.stopAtNs = cutAtNs;
  emit("flash_cut_armed", { kind, at_us: Math.floor(cutAtNs / 1000) });
  cutDuringFlash = null;
};
let cutDuringFlash = null; // {fraction}: cut the power that far into the next program/erase

function loop() {
  timer = null;
  sleeping = false;
  const limit = limitNs();
  if (chip.powered && chip.worldNs() >= cutAtNs) {
    cutAtNs = Infinity;
    chip.stopAtNs = Infinity;
    powerOff();
  }
  if (chip.powered) {
    chip.run(limit === Infinity ? worldNs() + 10e9 : limit, SLICE_MS);
  } else if (limit !== Infinity) {
    offWorldNs = Math.max(offWorldNs, limit); // off: nothing runs, time passes
  }
  const now = worldNs();
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (now >= waiters[i].targetNs) waiters.splice(i, 1)[0].resolve();
  }
  if (chip.powered && (mode.kind === "fast" || now < limit)) {
    timer = setImmediate(loop); // behind (the slice ended first): go on after the sockets
  } else if (chip.powered && mode.kind === "scale") {
    // Caught up with the wall clock: sleep until the next thing can happen. A waiting core
    // changes nothing before its next alarm; a running one is looked at again in 1 ms.
    let nextNs = now + 1e6;
    if (chip.asleep()) nextNs = Math.min(chip.nextEventNs(), cutAtNs);
    sleepFor((nextNs - anchorWorld) / (mode.scale * 1e6) + anchorWall - performance.now());
  } else if (mode.kind === "scale") {
    sleepFor(20); // off: only time passes
  } else if (waiters.length) {
    sleepFor(5);
  }
}

function reach(targetNs) {
  return new Promise((resolve) => {
    waiters.push({ targetNs, resolve });
    kick();
  });
}

function holdAt(targetNs) {
  setMode({ kind: "hold", scale: 1, targetNs });
  return reach(targetNs);
}

// ---- the USB serial, host side ---------------------------------------------------------------
// Every client gets every byte (one that stops reading is dropped for); what any client sends
// goes to the chip's USB (lost while it is off or not yet enumerated).
// A client that reads slowly holds the chip's USB IN transfers back, as a host polling late.
let rxLost = 0;
let hostReading = true; // the control channel's host_reading
let clientsBehind = false;
const applyReading = () => chip.setHostReading(hostReading && !clientsBehind);
const serial = new SerialFanout(
  (data) => {
    sync(); // the bytes arrive now, by the wall clock
    if (!chip.serialIn(new Uint8Array(data))) rxLost += data.length;
    kick();
  },
  () => {
    if (clientsBehind) {
      clientsBehind = false;
      applyReading();
      kick();
    }
  },
);
let txBytes = 0;
chip.onSerial = (data) => {
  txBytes += data.length;
  if (!serial.send(data) && !clientsBehind) {
    clientsBehind = true;
    applyReading();
  }
};
chip.onReset = (cause) => {
  pinState.stepsBoot = 0;
  emit("reset", { cause });
};

// ---- power, buttons ----------------------------------------------------------------------------
const buttons = { pause: false, ir: false, ok: false };
function applyButtons() {
  for (const [name, pressed] of Object.entries(buttons)) {
    if (pins[name] !== undefined) chip.setInput(pins[name], pressed ? 0 : 1); // to GND, pull-up
  }
}

function powerOn(cause) {
  if (chip.powered) return;
  chip.powerOn(offWorldNs, cause);
  pinState.stepsBoot = 0;
  applyButtons();
  emit("boot", { cause, boot: chip.boots });
  kick();
}

function powerOff() {
  if (!chip.powered) return;
  chip.powerOff();
  serial.discard(); // what the device had not sent yet is gone
  offWorldNs = chip.worldNs();
  offWall = performance.now();
  pinState.enable = null; // an unpowered driver's ENABLE input floats: the motor is off
  emit("power_off", {});
}

// ---- status ----------------------------------------------------------------------------------
function status() {
  const t = worldNs();
  return {
    vtime_ms: Math.floor(t / 1e6),
    vtime_us: Math.floor(t / 1e3),
    board_ms: chip.powered ? Math.floor(chip.mcu.clock.nanos / 1e6) : null,
    boot_us: Math.floor(chip.bootWorldNs / 1e3), // world time at which board ticks_us read 0
    mode: mode.kind,
    scale: mode.scale,
    powered: chip.powered,
    boots: chip.boots,
    reset_cause: chip.powered ? chip.cause : null,
    hung: chip.hung,
    steps: pinState.steps,
    steps_boot: pinState.stepsBoot,
    steps_per_ml: stepsPerMl,
    last_step_us: pinState.lastStepUs,
    motor_on: motorOn(),
    dir: pinState.dir,
    rx_bytes: serial.rxBytes,
    rx_lost: rxLost,
    tx_bytes: txBytes,
    tx_dropped: serial.txDropped,
    host_reading: hostReading,
    buttons: { ...buttons },
    flash: chip.powered ? { ...chip.flash.log, busy: chip.flash.isBusy() } : null,
    pio_instructions: chip.powered ? chip.pios.reduce((s, p) => s + p.instructions, 0) : 0,
    cpu_busy_us: Math.floor(chip.busyNs / 1e3), // emulated time the core was not asleep
    host_cpu_us: ((u) => u.user + u.system)(process.cpuUsage()), // this harness process, host CPU
  };
}

// ---- control channel ---------------------------------------------------------------------------
const control = new ControlChannel((req) => handle(req), () => worldNs() / 1e6);
const emit = (event, data) => control.emit(event, data);

async function handle(req) {
  sync();
  switch (req.cmd) {
    case "status":
      return status();
    case "press":
    case "release":
      if (!(req.button in buttons)) throw new Error(`no button ${JSON.stringify(req.button)}`);
      buttons[req.button] = req.cmd === "press";
      applyButtons();
      return {};
    case "fast":
      setMode({ kind: "fast", scale: 1 });
      return {};
    case "scale":
      if (!(req.k > 0)) throw new Error("scale needs k > 0");
      setMode({ kind: "scale", scale: req.k });
      return {};
    case "hold":
      setMode({ kind: "hold", scale: 1, targetNs: worldNs() });
      return status();
    case "advance":
      if (!(req.ms >= 0)) throw new Error("advance needs ms >= 0");
      if (req.after_rx) await received(req.after_rx);
      await holdAt(worldNs() + req.ms * 1e6);
      return status();
    case "run_until":
      if (!(req.ms >= 0)) throw new Error("run_until needs ms >= 0");
      await holdAt(Math.max(worldNs(), req.ms * 1e6));
      return status();
    case "power_cut":
      powerOff();
      return status();
    case "power_restore":
      powerOn("power_on");
      return status();
    case "reset": // the RUN pin: a chip reset that is not a power cycle
      chip.pressReset(worldNs());
      pinState.stepsBoot = 0;
      applyButtons();
      emit("boot", { cause: "run_pin", boot: chip.boots });
      kick();
      return status();
    case "hang":
      chip.hang();
      return {};
    case "cut_during_flash": // the power fails `fraction` of the way into the next write
      if (!(req.fraction >= 0 && req.fraction < 1)) throw new Error("fraction in [0, 1)");
      cutDuringFlash = { fraction: req.fraction };
      return {};
    case "flash_drop_writes": // fault injection: the flash stops taking writes
      chip.flashDropWrites = Boolean(req.on);
      if (chip.powered) chip.flash.dropWrites = chip.flashDropWrites;
      return {};
    case "host_reading":
      hostReading = Boolean(req.on);
      applyReading();
      kick();
      return {};
    case "gpio": {
      const from = Math.max(0, req.since_us ?? 0);
      return { edges: pinState.edges.filter((e) => e[0] >= from), dropped: pinState.edgesDropped };
    }
    case "flash_times":
      chip.flashTimes = { ...(FLASH_TIMES[req.preset] ?? {}), ...(req.times ?? {}) };
      if (chip.powered) chip.flash.setTimes(chip.flashTimes);
      return { times: chip.flashTimes };
    case "save_flash":
      fs.writeFileSync(req.path, chip.flashArray.subarray(0, FLASH_BYTES));
      return { bytes: FLASH_BYTES };
    case "balance":
      if (req.noise_g !== undefined) balance.noiseG = Number(req.noise_g);
      if (req.evap_g_per_h !== undefined) balance.setEvaporation(Number(req.evap_g_per_h));
      return { noise_g: balance.noiseG, evap_g_per_h: balance.evapGPerH, gross_g: balance.grossG() };
    case "quit":
      setImmediate(quit);
      return {};
    default:
      throw new Error(`unknown cmd ${JSON.stringify(req.cmd)}`);
  }
}

function received(n, timeoutMs = 5000) {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (serial.rxBytes >= n) resolve();
      else if (performance.now() > deadline) {
        reject(new Error(`only ${serial.rxBytes} of ${n} bytes`));
      }
      else setTimeout(check, 1);
    };
    check();
  });
}

const balance = new Balance(
  () => {
    sync();
    return { worldUs: worldNs() / 1000, steps: pinState.steps, stepsPerMl };
  },
  Number(args.seed),
);

const servers = [];
const quit = quitOn(servers, () => {
  control.close();
  serial.close();
}, args["exit-on-stdin-eof"]);

// DTR: up while any client is on the serial socket (the pty bridge is one), down with none.
function hostOpen() {
  sync();
  chip.setHostOpen(serial.clients.size > 0);
  kick();
}
chip.hostOpen = false;

try {
  servers.push(await serial.listen());
  servers[0].on("connection", (sock) => {
    hostOpen();
    sock.on("close", hostOpen);
  });
  servers.push(await control.listen());
  servers.push(await balance.listen(0));
  powerOn("power_on");
} catch (err) {
  process.stderr.write(`picoboard: cannot start: ${err.message}\n`);
  process.exit(2);
}
const [serialUrl, controlUrl, bal] = servers.map(socketUrl);
const endpoints = { serial: serialUrl, control: controlUrl, balance: bal, pty: null,
                    pid: process.pid, board: "pico" };
process.stdout.write(JSON.stringify(endpoints) + "\n");

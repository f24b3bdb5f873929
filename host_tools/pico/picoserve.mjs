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
import { Pace } from "../harness/pace.mjs";
import { controlVerbs } from "../harness/verbs.mjs";
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

// The emulated Pico's harness: the chip, its clock against the wall, power, buttons, the USB
// serial's host side and the fault injections; what harness/verbs.mjs asks of a board.
class PicoHarness {
  constructor(args, emit) {
    this.emit = emit;
    this.pins = JSON.parse(args.pins); // {step, dir, enable, enable_active_low, pause, ir, ...}
    this.stepsPerMl = Number(args["steps-per-ml"]);
    const pins = this.pins;
    const chip = new EmulatedPico({
      bootrom: args.bootrom,
      image: args.image,
      flashTimes: FLASH_TIMES[args["flash-times"]] ?? JSON.parse(args["flash-times"]),
    });
    this.chip = chip;
    chip.watchPins = [pins.step, pins.dir, pins.enable].filter((n) => n !== undefined);
    if (pins.count !== undefined && pins.count !== null) chip.wires.push([pins.step, pins.count]);
    // What the pins did: STEP rising edges (the balance's truth), ENABLE and DIR (pins.mjs).
    const recorded = recordPins(chip, pins, Number(args["record-edges"]));
    this.pinState = recorded.pinState;
    this.motorOn = recorded.motorOn;

    // The clock: world time in µs against the wall (harness/pace.mjs); the chip's own in ns.
    const mode = args.fast
      ? { kind: "fast", scale: 1 }
      : args.hold
        ? { kind: "hold", scale: 1, targetUs: 0 }
        : { kind: "scale", scale: Number(args.scale) };
    this.pace = new Pace(mode, 0);
    this.offWorldNs = 0; // world time while the chip is off
    this.waiters = []; // {targetNs, resolve}
    this.timer = null;
    this.sleeping = false; // timer is a setTimeout (a sleep), not a setImmediate

    // Fault injection: a power cut planned at a world instant (e.g. inside a flash write).
    this.cutAtNs = Infinity;
    this.cutDuringFlash = null; // {fraction}: cut the power that far into the next program/erase
    chip.onFlash = (kind, startNs, endNs) => {
      if (this.cutDuringFlash === null || !chip.powered) return;
      const at = chip.bootWorldNs + startNs + (endNs - startNs) * this.cutDuringFlash.fraction;
      this.cutAtNs = at;
      chip.stopAtNs = at;
      this.emit("flash_cut_armed", { kind, at_us: Math.floor(at / 1000) });
      this.cutDuringFlash = null;
    };

    // The USB serial, host side: every client gets every byte (one that stops reading is
    // dropped for); what any client sends goes to the chip's USB (lost while it is off or not
    // yet enumerated). A client that reads slowly holds the chip's USB IN transfers back, as a
    // host polling late.
    this.rxLost = 0;
    this.txBytes = 0;
    this.hostReading = true; // the control channel's host_reading
    this.clientsBehind = false;
    this.serial = new SerialFanout(
      (data) => {
        this.sync(); // the bytes arrive now, by the wall clock
        if (!chip.serialIn(new Uint8Array(data))) this.rxLost += data.length;
        this.kick();
      },
      () => {
        if (this.clientsBehind) {
          this.clientsBehind = false;
          this._applyReading();
          this.kick();
        }
      },
    );
    chip.onSerial = (data) => {
      this.txBytes += data.length;
      if (!this.serial.send(data) && !this.clientsBehind) {
        this.clientsBehind = true;
        this._applyReading();
      }
    };
    chip.onReset = (cause) => {
      this.pinState.stepsBoot = 0;
      this.emit("reset", { cause });
    };
    chip.hostOpen = false;
    this.buttons = { pause: false, ir: false, ok: false };
  }

  // ---- the clock ------------------------------------------------------------------------------
  worldNs() {
    return this.chip.powered ? this.chip.worldNs() : this.offWorldNs;
  }

  nowUs() {
    return this.worldNs() / 1000;
  }

  _limitNs() {
    return this.pace.limitUs(this.nowUs(), this.chip.asleep()) * 1000;
  }

  setMode(mode) {
    this.pace.set(mode, this.nowUs());
    this.kick();
  }

  holdAt(targetUs) {
    this.setMode({ kind: "hold", scale: 1, targetUs });
    return this._reach(targetUs * 1000);
  }

  _reach(targetNs) {
    return new Promise((resolve) => {
      this.waiters.push({ targetNs, resolve });
      this.kick();
    });
  }

  // The loop runs when there is emulation to do, and otherwise sleeps in one timer until the
  // next thing that can happen: while the core waits (WFI/WFE) or is hung, nothing changes
  // before its next clock alarm (timer, PIO, USB, flash), so at a scale the loop sleeps until
  // that alarm's wall time; input from outside (serial, control, balance) wakes it at once.
  kick() {
    if (this.timer !== null && this.sleeping) clearTimeout(this.timer);
    if (this.timer === null || this.sleeping) {
      this.sleeping = false;
      this.timer = setImmediate(() => this._loop());
    }
  }

  _sleepFor(ms) {
    this.sleeping = true;
    this.timer = setTimeout(() => this._loop(), Math.max(1, Math.min(ms, 1000)));
  }

  // Before outside input is applied or the world time is read: the chip catches up with the
  // wall clock (at a scale the loop may be asleep, the chip's clock at its last event).
  sync() {
    const chip = this.chip;
    if (this.pace.mode.kind === "scale" && chip.powered && !(chip.worldNs() >= this.cutAtNs)) {
      chip.run(this._limitNs(), SLICE_MS);
    }
  }

  _loop() {
    const chip = this.chip;
    const mode = this.pace.mode;
    this.timer = null;
    this.sleeping = false;
    const limit = this._limitNs();
    if (chip.powered && chip.worldNs() >= this.cutAtNs) {
      this.cutAtNs = Infinity;
      chip.stopAtNs = Infinity;
      this.powerOff();
    }
    if (chip.powered) {
      chip.run(limit === Infinity ? this.worldNs() + 10e9 : limit, SLICE_MS);
    } else if (limit !== Infinity) {
      this.offWorldNs = Math.max(this.offWorldNs, limit); // off: nothing runs, time passes
    }
    const now = this.worldNs();
    const waiters = this.waiters;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (now >= waiters[i].targetNs) waiters.splice(i, 1)[0].resolve();
    }
    if (chip.powered && (mode.kind === "fast" || now < limit)) {
      this.timer = setImmediate(() => this._loop()); // behind: go on after the sockets
    } else if (chip.powered && mode.kind === "scale") {
      // Caught up with the wall clock: sleep until the next thing can happen. A waiting core
      // changes nothing before its next alarm; a running one is looked at again in 1 ms.
      let nextNs = now + 1e6;
      if (chip.asleep()) nextNs = Math.min(chip.nextEventNs(), this.cutAtNs);
      this._sleepFor(this.pace.wallMsUntil(nextNs / 1000));
    } else if (mode.kind === "scale") {
      this._sleepFor(20); // off: only time passes
    } else if (waiters.length) {
      this._sleepFor(5);
    }
  }

  // ---- power, buttons, the host ------------------------------------------------------------
  _applyButtons() {
    for (const [name, pressed] of Object.entries(this.buttons)) {
      const pin = this.pins[name];
      if (pin !== undefined) this.chip.setInput(pin, pressed ? 0 : 1); // to GND, pull-up
    }
  }

  setButton(name, pressed) {
    if (!(name in this.buttons)) throw new Error(`no button ${JSON.stringify(name)}`);
    this.buttons[name] = pressed;
    this._applyButtons();
  }

  powerOn(cause) {
    const chip = this.chip;
    if (chip.powered) return;
    chip.powerOn(this.offWorldNs, cause);
    this.pinState.stepsBoot = 0;
    this._applyButtons();
    this.emit("boot", { cause, boot: chip.boots });
    this.kick();
  }

  powerOff() {
    const chip = this.chip;
    if (!chip.powered) return;
    chip.powerOff();
    this.serial.discard(); // what the device had not sent yet is gone
    this.offWorldNs = chip.worldNs();
    this.pinState.enable = null; // an unpowered driver's ENABLE input floats: the motor is off
    this.emit("power_off", {});
  }

  // The RUN pin: a chip reset that is not a power cycle (flash kept, RAM lost).
  pressReset() {
    const chip = this.chip;
    chip.pressReset(this.worldNs());
    this.pinState.stepsBoot = 0;
    this._applyButtons();
    this.emit("boot", { cause: "run_pin", boot: chip.boots });
    this.kick();
  }

  hang() {
    this.chip.hang();
  }

  _applyReading() {
    this.chip.setHostReading(this.hostReading && !this.clientsBehind);
  }

  setHostReading(on) {
    this.hostReading = on;
    this._applyReading();
    this.kick();
  }

  received(n) {
    return this.serial.received(n);
  }

  // DTR: up while any client is on the serial socket (the pty bridge is one), down with none.
  hostOpen() {
    this.sync();
    this.chip.setHostOpen(this.serial.clients.size > 0);
    this.kick();
  }

  // ---- status -------------------------------------------------------------------------------
  status() {
    const chip = this.chip;
    const pinState = this.pinState;
    const t = this.worldNs();
    return {
      vtime_ms: Math.floor(t / 1e6),
      vtime_us: Math.floor(t / 1e3),
      board_ms: chip.powered ? Math.floor(chip.mcu.clock.nanos / 1e6) : null,
      boot_us: Math.floor(chip.bootWorldNs / 1e3), // world time at which board ticks_us read 0
      mode: this.pace.mode.kind,
      scale: this.pace.mode.scale,
      powered: chip.powered,
      boots: chip.boots,
      reset_cause: chip.powered ? chip.cause : null,
      hung: chip.hung,
      steps: pinState.steps,
      steps_boot: pinState.stepsBoot,
      steps_per_ml: this.stepsPerMl,
      last_step_us: pinState.lastStepUs,
      motor_on: this.motorOn(),
      dir: pinState.dir,
      rx_bytes: this.serial.rxBytes,
      rx_lost: this.rxLost,
      tx_bytes: this.txBytes,
      tx_dropped: this.serial.txDropped,
      host_reading: this.hostReading,
      buttons: { ...this.buttons },
      flash: chip.powered ? { ...chip.flash.log, busy: chip.flash.isBusy() } : null,
      pio_instructions: chip.powered ? chip.pios.reduce((s, p) => s + p.instructions, 0) : 0,
      cpu_busy_us: Math.floor(chip.busyNs / 1e3), // emulated time the core was not asleep
      host_cpu_us: ((u) => u.user + u.system)(process.cpuUsage()), // this process, host CPU
    };
  }

  // ---- this board's own verbs (harness/verbs.mjs has the shared ones) -------------------------
  verbs() {
    const chip = this.chip;
    return {
      reset: () => (this.pressReset(), this.status()),
      cut_during_flash: (req) => { // the power fails `fraction` of the way into the next write
        if (!(req.fraction >= 0 && req.fraction < 1)) throw new Error("fraction in [0, 1)");
        this.cutDuringFlash = { fraction: req.fraction };
        return {};
      },
      flash_drop_writes: (req) => { // fault injection: the flash stops taking writes
        chip.flashDropWrites = Boolean(req.on);
        if (chip.powered) chip.flash.dropWrites = chip.flashDropWrites;
        return {};
      },
      gpio: (req) => {
        const from = Math.max(0, req.since_us ?? 0);
        const pinState = this.pinState;
        return { edges: pinState.edges.since(from), dropped: pinState.edges.dropped };
      },
      flash_times: (req) => {
        chip.flashTimes = { ...(FLASH_TIMES[req.preset] ?? {}), ...(req.times ?? {}) };
        if (chip.powered) chip.flash.setTimes(chip.flashTimes);
        return { times: chip.flashTimes };
      },
      pc_profile: (req) => { // PC samples, one every 64 instructions: {on} starts, else read
        const prof = chip.pcProfile;
        chip.pcProfile = req.on ? new Map() : null;
        return { samples: prof ? [...prof.entries()] : [] };
      },
      save_flash: (req) => {
        fs.writeFileSync(req.path, chip.flashArray.subarray(0, FLASH_BYTES));
        return { bytes: FLASH_BYTES };
      },
    };
  }
}

let control = null;
const pico = new PicoHarness(args, (event, data) => control?.emit(event, data));
const balance = new Balance(
  () => {
    pico.sync();
    return { worldUs: pico.nowUs(), steps: pico.pinState.steps, stepsPerMl: pico.stepsPerMl };
  },
  Number(args.seed),
);
const servers = [];
const quit = quitOn(servers, () => {
  control.close();
  pico.serial.close();
}, args["exit-on-stdin-eof"]);
control = new ControlChannel(controlVerbs(pico, balance, quit, pico.verbs()),
                             () => pico.worldNs() / 1e6);

try {
  servers.push(await pico.serial.listen());
  servers[0].on("connection", (sock) => {
    pico.hostOpen();
    sock.on("close", () => pico.hostOpen());
  });
  servers.push(await control.listen());
  servers.push(await balance.listen(0));
  pico.powerOn("power_on");
} catch (err) {
  process.stderr.write(`picoboard: cannot start: ${err.message}\n`);
  process.exit(2);
}
const [serialUrl, controlUrl, bal] = servers.map(socketUrl);
const endpoints = { serial: serialUrl, control: controlUrl, balance: bal, pty: null,
                    pid: process.pid, board: "pico" };
process.stdout.write(JSON.stringify(endpoints) + "\n");

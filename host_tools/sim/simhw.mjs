// The virtual board as the outside sees it: power, the VM worker of the current boot, the clock
// mode, button levels, the USB serial's host side (a TCP server) and the truth for the balance.
import { Worker } from "node:worker_threads";
import { EventEmitter } from "node:events";
import { SerialFanout } from "../harness/fanout.mjs";

const WORKER = new URL("./vm_worker.mjs", import.meta.url);

export class SimHw extends EventEmitter {
  constructor(opts) {
    super();
    this.opts = opts; // {repoRoot, entry, board, libDirs, heapKb, tickUs, txBufferBytes, ...}
    this.mode = opts.mode; // {kind, scale, targetUs}
    this.worldUs = 0;
    this.offWallMs = null; // wall time of the last world update while off (scale mode)
    this.powered = false;
    this.boots = 0;
    this.resetCause = null;
    this.stepsPrior = 0; // steps made in earlier boots: the liquid is still on the balance
    this.vm = null; // last state of the running VM
    this.stepsPerMl = null;
    this.activeLow = true;
    this.buttons = { pause: false, ir: false, ok: false }; // pressed?
    this.crash = null;
    this.exited = null;
    this.flash = [];
    this.worker = null;
    this.waiters = [];
    this.txQueue = []; // device bytes held while the host does not read (host_reading off)
    this.hostReading = true;
    // The serial's clients; bytes they send count even while off (a host can sync on them),
    // but an unpowered board loses them.
    this.serial = new SerialFanout(
      (data) => {
        if (this.worker) this.worker.postMessage({ t: "rx", data: new Uint8Array(data) });
      },
      (n) => {
        if (!this.worker) return;
        Atomics.add(this.txAcked, 0, n);
        this.worker.postMessage({ t: "txack" }); // wakes a VM that found its buffer full
      },
    );
  }

  // ---- power -------------------------------------------------------------------------------
  powerOn(cause) {
    if (this.powered) return;
    this._tickOff();
    this.powered = true;
    this.offWallMs = null;
    this.boots += 1;
    this.resetCause = cause;
    this.crash = null;
    this.exited = null;
    this.vm = null;
    this.txQueue = [];
    const o = this.opts;
    // Bytes of this boot's TX the host has taken: shared, so the VM sees them mid-slice.
    this.txAcked = new Int32Array(new SharedArrayBuffer(4));
    const w = new Worker(WORKER, {
      workerData: {
        repoRoot: o.repoRoot, entry: o.entry, board: o.board, libDirs: o.libDirs,
        heapKb: o.heapKb, tickUs: o.tickUs, txBufferBytes: o.txBufferBytes,
        flashWriteUs: o.flashWriteUs,
        ticksOffsetUs: o.ticksOffsetUs, verbose: o.verbose,
        worldUs: this.worldUs, mode: this.mode, resetCause: cause, flash: this.flash,
        txAcked: this.txAcked,
      },
      stdout: false,
      stderr: false,
    });
    this.worker = w;
    w.on("message", (msg) => this._onMessage(w, msg));
    w.on("error", (err) => this._onFatal(w, `${err.name}: ${err.message}`));
    return new Promise((resolve) => this.once("boot", resolve));
  }

  // Power off now; the next powerOn() boots a fresh VM on the same flash.
  powerOff() {
    if (!this.powered) return Promise.resolve();
    const w = this.worker;
    return new Promise((resolve) => {
      this.once("off", resolve);
      w.postMessage({ t: "cut" });
    });
  }

  _retire(w, msg) {
    if (this.vm) this.stepsPrior += this.vm.steps;
    this.vm = null;
    if (msg.flash) this.flash = msg.flash;
    this.worldUs = Math.max(this.worldUs, msg.worldUs ?? this.worldUs);
    this.powered = false;
    this.worker = null;
    this.offWallMs = performance.now();
    this.txQueue = [];
    this.serial.discard(); // an unpowered device's unsent bytes are gone
    w.terminate();
  }

  // ---- messages from the VM ------------------------------------------------------------------
  _onMessage(w, msg) {
    if (w !== this.worker) return; // a retired boot
    switch (msg.t) {
      case "ready":
        this.stepsPerMl = msg.stepsPerMl;
        this.activeLow = msg.activeLow;
        for (const [name, down] of Object.entries(this.buttons)) if (down) this._pin(name);
        this.emit("boot", { cause: this.resetCause, boot: this.boots });
        break;
      case "state":
        this.vm = msg;
        this.worldUs = msg.worldUs;
        this._settle();
        break;
      case "tx":
        if (this.hostReading) this.serial.send(msg.data);
        else this.txQueue.push(msg.data);
        break;
      case "crash":
        this.crash = { type: msg.type, message: msg.message, traceback: msg.traceback };
        this.emit("crash", this.crash);
        break;
      case "exit":
        this.exited = msg.why;
        this.emit("exit", msg.why);
        break;
      case "fatal":
        this._onFatal(w, msg.message);
        break;
      case "off":
        this._retire(w, msg);
        this.emit("off");
        this._settle();
        break;
      case "reset":
        this._retire(w, msg);
        this.emit("reset", msg.cause);
        this.powerOn(msg.cause);
        break;
      default:
        break;
    }
  }

  _onFatal(w, message) {
    if (w !== this.worker) return;
    this.crash = { type: "HarnessError", message, traceback: "" };
    this.emit("crash", this.crash);
  }

  // ---- the clock -----------------------------------------------------------------------------
  setMode(mode) {
    this.mode = mode;
    if (this.worker) this.worker.postMessage({ t: "mode", mode });
    else this._tickOff();
  }

  // While off there is no VM: the world clock moves here (hold targets at once, scale with wall).
  _tickOff() {
    if (this.powered) return;
    const wall = performance.now();
    const target = this.mode.targetUs;
    if (this.mode.kind === "hold" && target > this.worldUs) this.worldUs = target;
    if (this.mode.kind === "scale" && this.offWallMs !== null) {
      this.worldUs += (wall - this.offWallMs) * 1000 * this.mode.scale;
    }
    this.offWallMs = wall;
    this._settle();
  }

  // Resolves once world time reaches targetUs (the caller has set a hold target).
  reach(targetUs) {
    return new Promise((resolve) => {
      this.waiters.push({ targetUs, resolve });
      this._tickOff();
      this._settle();
    });
  }

  _settle() {
    const keep = [];
    for (const w of this.waiters) {
      if (this.worldUs >= w.targetUs) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  nowUs() {
    this._tickOff();
    return this.worldUs;
  }

  // Holds world time at targetUs; resolves once it is there.
  holdAt(targetUs) {
    this.setMode({ kind: "hold", scale: 1, targetUs });
    return this.reach(targetUs);
  }

  // ---- fault injection ---------------------------------------------------------------------
  hang() {
    if (this.worker) this.worker.postMessage({ t: "hang" });
  }

  // what: "exception" (the next serial read in the firmware raises; its crash path runs).
  inject(what) {
    if (what !== "exception") throw new Error(`unknown fault ${JSON.stringify(what)}`);
    if (this.worker) this.worker.postMessage({ t: "inject", what });
  }

  // ---- buttons -------------------------------------------------------------------------------
  setButton(name, pressed) {
    if (!(name in this.buttons)) throw new Error(`no button ${JSON.stringify(name)}`);
    this.buttons[name] = pressed;
    this._pin(name);
  }

  _pin(name) {
    const level = this.buttons[name] !== this.activeLow ? 1 : 0;
    if (this.worker) this.worker.postMessage({ t: "pin", name, level });
  }

  // ---- the USB serial, host side -------------------------------------------------------------
  listenSerial(port, host = "127.0.0.1") {
    return this.serial.listen(port, host);
  }

  received(n) {
    return this.serial.received(n);
  }

  setHostReading(on) {
    this.hostReading = on;
    if (on) {
      for (const data of this.txQueue) this.serial.send(data);
      this.txQueue = [];
    }
  }

  // ---- what the balance and the status report ------------------------------------------------
  steps() {
    return this.stepsPrior + (this.vm ? this.vm.steps : 0);
  }

  status() {
    const vm = this.vm;
    const worldUs = this.nowUs();
    return {
      vtime_ms: Math.floor(worldUs / 1000),
      vtime_us: Math.floor(worldUs),
      board_ms: vm ? Math.floor(vm.boardUs / 1000) : null,
      mode: this.mode.kind,
      scale: this.mode.scale,
      powered: this.powered,
      boots: this.boots,
      reset_cause: this.resetCause,
      crashed: this.crash ? { type: this.crash.type, message: this.crash.message } : null,
      exited: this.exited,
      steps: this.steps(),
      steps_boot: vm ? vm.steps : 0,
      steps_per_ml: this.stepsPerMl,
      motor_on: vm ? vm.motorOn === 1 && !vm.dead : false,
      wdt_ms: vm ? vm.wdtMs : 0,
      tx_pending: vm ? vm.txUsed : 0,
      rx_bytes: this.serial.rxBytes,
      host_reading: this.hostReading,
      tx_dropped: this.serial.txDropped,
      heap_used: vm ? vm.heapUsed : null,
      ticks: vm ? vm.ticks : 0,
      tick_wall_ms: vm ? Math.round(vm.tickWallMs) : 0,
      buttons: { ...this.buttons },
    };
  }

  shutdown() {
    if (this.worker) this.worker.terminate();
    this.worker = null;
    this.serial.close();
  }
}

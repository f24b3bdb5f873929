// The virtual board as the outside sees it: power, the VM worker of the current boot, the clock
// mode, button levels, the USB serial's host side (a TCP server) and the truth for the balance.
import { Worker } from "node:worker_threads";
import { EventEmitter } from "node:events";
import net from "node:net";

const WORKER = new URL("./vm_worker.mjs", import.meta.url);
const HOST_HIGH_WATER = 16 * 1024; // a client with this much unsent is "not reading"
const LF = 10;

export class VirtualBoard extends EventEmitter {
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
    this.clients = new Set();
    this.txQueue = [];
    this.hostReading = true;
    this.txDropped = 0; // bytes not sent to clients that did not read (all clients, all boots)
    this.rxBytes = 0; // bytes the host sent (counted even while off): lets a host sync to them
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
        this.txQueue.push(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length));
        this.pumpTx();
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
    const server = net.createServer((sock) => {
      sock.setNoDelay(true);
      this.clients.add(sock);
      sock.on("data", (data) => {
        this.rxBytes += data.length;
        // Bytes sent while the board is off are lost, as on an unpowered USB device.
        if (this.worker) this.worker.postMessage({ t: "rx", data: new Uint8Array(data) });
      });
      sock.on("drain", () => this.pumpTx());
      sock.on("close", () => this.clients.delete(sock));
      sock.on("error", () => this.clients.delete(sock));
      this.pumpTx();
    });
    return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
  }

  // Resolves once the host has sent `n` bytes in all (a host syncs its writes to a time step:
  // the control channel and the serial are separate connections, and either may arrive first).
  received(n, timeoutMs = 5000) {
    const deadline = performance.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.rxBytes >= n) resolve();
        else if (performance.now() > deadline) {
          reject(new Error(`only ${this.rxBytes} of ${n} bytes from the host arrived`));
        } else setTimeout(check, 1);
      };
      check();
    });
  }

  // Hands the device's TX bytes to the clients that read; the VM's 4 KB buffer frees as they do.
  // A client that does not read (HOST_HIGH_WATER unsent, after what the kernel buffers for it)
  // never holds up the others: its share is dropped and counted, and it resumes at a line
  // start once it reads again. Only when no client reads does the device see a host that does
  // not read, as a USB CDC would.
  pumpTx() {
    if (!this.txQueue.length || !this.hostReading || !this.clients.size) return;
    let reading = 0;
    for (const c of this.clients) if (c.writableLength <= HOST_HIGH_WATER) reading += 1;
    if (!reading) return;
    const data = Buffer.concat(this.txQueue);
    this.txQueue = [];
    for (const c of this.clients) this._send(c, data);
    if (this.worker) {
      Atomics.add(this.txAcked, 0, data.length);
      this.worker.postMessage({ t: "txack" }); // wakes a VM that found its buffer full
    }
  }

  // One client's share. Its stream stays in whole lines: when it is not reading, the line it
  // has begun is finished (one chunk at most) and the rest dropped; after a drop that ended
  // mid-line it resumes after the next line end.
  _send(c, data) {
    let out = data;
    if (c.txSkip) {
      const lf = out.indexOf(LF);
      this.txDropped += lf < 0 ? out.length : lf + 1;
      if (lf < 0) return;
      out = out.subarray(lf + 1);
      c.txSkip = false;
    }
    if (out.length && c.writableLength > HOST_HIGH_WATER) {
      let keep = 0;
      if (c.txMidLine) {
        const lf = out.indexOf(LF);
        keep = lf < 0 ? out.length : lf + 1;
      }
      if (keep < out.length) {
        this.txDropped += out.length - keep;
        c.txSkip = out[out.length - 1] !== LF;
        out = out.subarray(0, keep);
      }
    }
    if (out.length) {
      c.write(out);
      c.txMidLine = out[out.length - 1] !== LF;
    }
  }

  setHostReading(on) {
    this.hostReading = on;
    this.pumpTx();
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
      rx_bytes: this.rxBytes,
      host_reading: this.hostReading,
      tx_dropped: this.txDropped,
      heap_used: vm ? vm.heapUsed : null,
      ticks: vm ? vm.ticks : 0,
      tick_wall_ms: vm ? Math.round(vm.tickWallMs) : 0,
      buttons: { ...this.buttons },
    };
  }

  shutdown() {
    if (this.worker) this.worker.terminate();
    this.worker = null;
    for (const c of this.clients) c.destroy();
  }
}

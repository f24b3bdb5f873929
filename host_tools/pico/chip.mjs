// An emulated Raspberry Pi Pico: rp2040js 1.4.1 running a stock MicroPython rp2 image, with what
// a board harness must add to it (see docs/emulated-pico.md): a flash chip that programs and
// erases in the real chip's time, the watchdog's reset that keeps flash and REASON/scratch, the
// reset cause register, PIO on the emulated clock, and USB OUT transfers held until the host has
// bytes (stock rp2040js answers each with an empty packet, which keeps the CPU from idling).
import fs from "node:fs";
import { ConsoleLogger, LogLevel, BasePeripheral, RP2040, USBCDC } from "rp2040js";
import { FLASH_BYTES, FlashSsi, QspiIo, SpiFlash } from "./flash.mjs";
import { ClockedPio } from "./pio.mjs";

const FLASH_BASE = 0x10000000;
const ROM_END = 0x4000; // the 16 KB boot ROM: its flash routines spin there while the chip is busy
const UF2_MAGIC = [0x0a324655, 0x9e5d5157];
const CHIP_RESET_HAD_POR = 1 << 8;
const CHIP_RESET_HAD_RUN = 1 << 16;
const EP_IN_BUFFER_CONTROL = 0x80; // + 8 * endpoint, in the USB DPRAM
const BUF_AVAILABLE = 1 << 10;

// The flash contents of an image file: UF2 (blocks with target addresses) or a raw .bin.
export function imageBytes(file) {
  const data = fs.readFileSync(file);
  const out = new Uint8Array(FLASH_BYTES).fill(0xff);
  if (data.length >= 512 && data.readUInt32LE(0) === UF2_MAGIC[0]) {
    for (let off = 0; off + 512 <= data.length; off += 512) {
      if (data.readUInt32LE(off + 4) !== UF2_MAGIC[1]) throw new Error(`${file}: bad UF2 block`);
      const addr = data.readUInt32LE(off + 12) - FLASH_BASE;
      const size = data.readUInt32LE(off + 16);
      if (addr < 0 || addr + size > FLASH_BYTES) throw new Error(`${file}: block outside flash`);
      out.set(data.subarray(off + 32, off + 32 + size), addr);
    }
  } else if (data.length <= FLASH_BYTES) {
    out.set(data, 0);
  } else {
    throw new Error(`${file}: neither UF2 nor a flash image of at most 2 MB`);
  }
  return out;
}

// VREG_AND_CHIP_RESET: CHIP_RESET (0x08) says what reset the chip last (stock: unimplemented).
class ChipReset extends BasePeripheral {
  constructor(rp2040, name, chipReset) {
    super(rp2040, name);
    this.chipReset = chipReset;
    this.regs = new Map([[0x00, 0xb1], [0x04, 0x91]]);
  }

  readUint32(offset) {
    return offset === 0x08 ? this.chipReset : (this.regs.get(offset) ?? 0);
  }

  writeUint32(offset, value) {
    if (offset !== 0x08) this.regs.set(offset, value);
  }
}

export class EmulatedPico {
  // opts: {bootrom: path, image: path, flashTimes: {...} (µs), log: (text) => void}
  constructor(opts) {
    this.opts = opts;
    const rom = fs.readFileSync(opts.bootrom);
    if (rom.length !== 16384) throw new Error(`${opts.bootrom}: a boot ROM is 16384 bytes`);
    this.bootrom = new Uint32Array(rom.buffer.slice(rom.byteOffset, rom.byteOffset + rom.length));
    // One flash array for the board's whole life: resets and power cuts keep it.
    this.flashArray = new Uint8Array(16 * 1024 * 1024).fill(0xff);
    this.flashArray.set(imageBytes(opts.image), 0);
    this.flashTimes = { ...(opts.flashTimes || {}) };
    this.mcu = null;
    this.bootWorldNs = 0; // world time at which the running chip's clock read 0
    this.boots = 0;
    this.hung = false;
    this.resetPending = null;
    this.hostReading = true;
    this.hostOpen = true; // a host program has the port open (DTR): setHostOpen
    this.toDevice = []; // bytes from the host waiting for an OUT transfer
    this.heldIn = []; // IN buffer-control writes held while the host does not read
    this.pendingOut = null;
    this.onSerial = () => {}; // (Uint8Array) device -> host
    this.onPin = () => {}; // (gpio, high, worldNs)
    this.onReset = () => {}; // (cause) after the chip reset itself (watchdog)
    this.onFlash = () => {}; // (kind, startNs, endNs) chip time: a program or erase begins
    this.flashDropWrites = false;
    this.stopAtNs = Infinity; // world time at which run() returns (a power cut planned there)
    this.watchPins = [];
    this.busyNs = 0; // emulated time the core spent executing (not in WFI/WFE, not hung), all boots
    this.wires = []; // [from, to]: a board wire from one GPIO to another one's input
    this._pinTimeNs = null;
    this.pcProfile = null; // Map pc -> samples (one every 64 instructions) while profiling
  }

  get powered() {
    return this.mcu !== null;
  }

  worldNs() {
    return this.mcu ? this.bootWorldNs + this.mcu.clock.nanos : this.bootWorldNs;
  }

  // ---- power -------------------------------------------------------------------------------
  // cause: "power_on" (CHIP_RESET.HAD_POR), "run_pin" (HAD_RUN) or "watchdog" (REASON kept).
  powerOn(worldNs, cause = "power_on", watchdogState = null) {
    const mcu = new RP2040();
    mcu.logger = new ConsoleLogger(LogLevel.Error);
    mcu.loadBootrom(this.bootrom); // resets the core (and blanks rp2040js's own flash array)
    mcu.flash = this.flashArray;
    mcu.flash16 = new Uint16Array(this.flashArray.buffer);
    mcu.flashView = new DataView(this.flashArray.buffer);
    this.flash = new SpiFlash(mcu.clock, this.flashArray);
    this.flash.setTimes(this.flashTimes);
    this.flash.dropWrites = this.flashDropWrites;
    this.flash.onStart = (kind, startNs, endNs) => this.onFlash(kind, startNs, endNs);
    const qspi = new QspiIo(mcu, "IO_QSPI", this.flash);
    mcu.peripherals[0x18000] = new FlashSsi(mcu, "SSI", this.flash, qspi);
    mcu.peripherals[0x40018] = qspi;
    const chipReset = cause === "power_on" ? CHIP_RESET_HAD_POR : cause === "run_pin" ? CHIP_RESET_HAD_RUN : 0;
    mcu.peripherals[0x40064] = new ChipReset(mcu, "VREG_AND_CHIP_RESET", chipReset);
    const wdt = mcu.peripherals[0x40058];
    if (watchdogState) {
      wdt.reason = watchdogState.reason;
      wdt.scratchData.set(watchdogState.scratch);
    }
    wdt.onWatchdogTrigger = () => {
      // Stock rp2040js re-arms the expired alarm at the same instant forever: stop it, reset.
      wdt.timer.enable = false;
      wdt.alarm.enable = false;
      this.resetPending = "watchdog";
    };
    this.pios = mcu.pio.map((pio) => new ClockedPio(mcu, pio, (t) => (this._pinTimeNs = t)));
    for (const n of this.watchPins) {
      mcu.gpio[n].addListener((state) => {
        const t = this._pinTimeNs ?? mcu.clock.nanos;
        this.onPin(n, state === 1, this.bootWorldNs + t);
      });
    }
    for (const [from, to] of this.wires) {
      // A wire on the board: the pad of `to` reads what `from` drives (the pin's edge count
      // input, docs/wiring.md). A pin not driven yet reads low, as through its pull-down.
      mcu.gpio[from].addListener((state) => mcu.gpio[to].setInputValue(state === 1));
    }
    this._pwmEdgeCounter(mcu);
    this._core1Mailbox(mcu);
    // The BOOTSEL button pulls the flash chip select low: released, the pin reads high and the
    // boot ROM boots from flash instead of offering the USB mass-storage bootloader.
    mcu.qspi[1].padValue |= 0x40; // input enabled
    mcu.qspi[1].setInputValue(true);
    this._usb(mcu);
    this.mcu = mcu;
    this.bootWorldNs = worldNs;
    this.boots += 1;
    this.hung = false;
    this.resetPending = null;
    this.cause = cause;
    // The boot ROM's reset vector: it finds boot stage 2 in flash, as on a Pico.
    mcu.core.reset();
  }

  powerOff() {
    if (!this.mcu) return;
    const worldNs = this.worldNs();
    this.flash.powerCut();
    this.mcu = null;
    this.bootWorldNs = worldNs;
    this.toDevice = [];
    this.heldIn = [];
    this.pendingOut = null;
  }

  // The chip resets itself (watchdog, machine.reset()): flash and the watchdog's REASON and
  // scratch registers survive, RAM and every peripheral start over; USB re-enumerates.
  _reset(cause) {
    const wdt = this.mcu.peripherals[0x40058];
    const state = { reason: wdt.reason, scratch: Uint32Array.from(wdt.scratchData) };
    const worldNs = this.worldNs();
    this.powerOff();
    this.powerOn(worldNs, cause, cause === "watchdog" ? state : null);
    this.onReset(cause);
  }

  pressReset(worldNs) {
    this.powerOff();
    this.powerOn(worldNs, "run_pin");
  }

  hang() {
    this.hung = true; // the CPU stops; clocks, timers, PIO and the watchdog go on
  }

  // Core 1 is not emulated, only its boot ROM's side of the inter-core FIFO: out of reset it
  // pushes 0 (pico-sdk's multicore_reset_core1 waits for it at every soft reset), and it echoes
  // each word of a launch sequence. Code that needs core 1 to run would wait for it forever.
  _core1Mailbox(mcu) {
    const inbox = []; // words for core 0 (FIFO_RD)
    const sio = mcu.sio;
    const read = sio.readUint32.bind(sio);
    const write = sio.writeUint32.bind(sio);
    sio.readUint32 = (offset) => {
      if (offset === 0x50) return (inbox.length ? 1 : 0) | 2; // FIFO_ST: VLD, RDY
      if (offset === 0x58) return inbox.length ? inbox.shift() : 0; // FIFO_RD
      return read(offset);
    };
    sio.writeUint32 = (offset, value) => {
      if (offset === 0x54) inbox.push(value >>> 0); // FIFO_WR: core 1's boot ROM echoes it
      else write(offset, value);
    };
    const psm = mcu.peripherals[0x40010];
    const psmWrite = psm.writeUint32.bind(psm);
    psm.writeUint32 = (offset, value) => {
      const wasOff = psm.frceOff & (1 << 16); // PROC1
      psmWrite(offset, value);
      if (offset === 0x04 && wasOff && !(psm.frceOff & (1 << 16))) inbox.push(0);
    };
  }

  // rp2040js 1.4.1 counts B-pin edges (CSR.DIVMODE 2/3) only while no PWM output is enabled
  // anywhere: its input check reads `gpioDirection && 1 << index`, and reset() sets every
  // direction bit. The chip counts an edge on a B pin whenever that pin's function is PWM and
  // its slice is in an edge mode (RP2040 datasheet, 4.5.2.5): check that pin's bit. A read of
  // the counter first catches the PIO blocks up, as every other PIO access does (pio.mjs).
  _pwmEdgeCounter(mcu) {
    const pwm = mcu.pwm;
    pwm.gpioOnInput = function (index) {
      if (this.gpioDirection & (1 << index)) return;
      for (const channel of this.channels) {
        if (channel.pinB1 === index || channel.pinB2 === index) channel.gpioBChanged();
      }
    };
    const read = pwm.readUint32.bind(pwm);
    pwm.readUint32 = (offset) => {
      for (const pio of this.pios) pio.catchUp(mcu.clock.nanos);
      return read(offset);
    };
  }

  // ---- GPIO --------------------------------------------------------------------------------
  setInput(gpio, high) {
    if (this.mcu) this.mcu.gpio[gpio].setInputValue(high);
  }

  // ---- USB CDC -----------------------------------------------------------------------------
  _usb(mcu) {
    const usb = mcu.usbCtrl;
    const cdc = new USBCDC(usb);
    this.cdc = cdc;
    // DTR follows whether a host program has the port open (setHostOpen): rp2040js raises it at
    // enumeration; with nobody on the port it drops, as a host's tty closed, and MicroPython
    // then writes without waiting for a reader (its CDC keeps the latest bytes).
    this.lineOpen = false;
    this._lineAlarm = mcu.clock.createAlarm(() => {
      if (this.mcu === mcu && this.lineOpen !== this.hostOpen) {
        this.lineOpen = this.hostOpen;
        cdc.cdcSetControlLineState(this.hostOpen ? 3 : 0); // DTR | RTS, or neither
      }
    });
    cdc.onDeviceConnected = () => {
      this.lineOpen = true;
      this._applyLineState();
    };
    cdc.onSerialData = (data) => this.onSerial(data);
    usb.onEndpointRead = (endpoint, size) => {
      if (endpoint !== cdc.outEndpoint) return undefined; // (the CDC reads no other endpoint)
      if (!this.toDevice.length) {
        this.pendingOut = size; // answered once the host has something to send
        return undefined;
      }
      return this._completeOut(size);
    };
    const dpram = usb.DPRAMUpdated.bind(usb);
    usb.DPRAMUpdated = (offset, value) => {
      const inControl = EP_IN_BUFFER_CONTROL + 8 * cdc.inEndpoint;
      if (!this.hostReading && offset === inControl && value & BUF_AVAILABLE) {
        this.heldIn.push([offset, value]); // the host does not poll: the device's TX waits
        return;
      }
      dpram(offset, value);
    };
    this._dpram = dpram;
  }

  // Whether a host program has the serial port open (DTR), e.g. any client on the socket.
  setHostOpen(open) {
    this.hostOpen = open;
    this._applyLineState();
  }

  _applyLineState() {
    if (!this.mcu || !this.cdc.initialized || this.lineOpen === this.hostOpen) return;
    this._lineAlarm.schedule(1e6); // after the last setup ends (a fired alarm stays "scheduled")
  }

  // Bytes from the host. Lost while the chip is off or USB is not configured yet.
  serialIn(bytes) {
    if (!this.mcu || this.cdc.outEndpoint < 0) return false;
    this.toDevice.push(bytes);
    if (this.pendingOut !== null) {
      const size = this.pendingOut;
      this.pendingOut = null;
      this._completeOut(size);
    }
    return true;
  }

  // Answers the device's OUT transfer with up to `size` waiting host bytes.
  _completeOut(size) {
    const buffer = [];
    while (this.toDevice.length && buffer.length < size) {
      const chunk = this.toDevice[0];
      const n = Math.min(chunk.length, size - buffer.length);
      for (let i = 0; i < n; i++) buffer.push(chunk[i]);
      if (n === chunk.length) this.toDevice.shift();
      else this.toDevice[0] = chunk.subarray(n);
    }
    this.mcu.usbCtrl.endpointReadDone(this.cdc.outEndpoint, Uint8Array.from(buffer));
  }

  setHostReading(on) {
    this.hostReading = on;
    if (on && this.mcu) {
      const held = this.heldIn;
      this.heldIn = [];
      for (const [offset, value] of held) this._dpram(offset, value);
    }
  }

  // ---- running -----------------------------------------------------------------------------
  // The core executes nothing until an interrupt (WFI/WFE, or hung): only alarms change things.
  asleep() {
    return this.mcu !== null && (this.hung || this.mcu.core.waiting);
  }

  // World time of the chip's next clock alarm (timer, PIO, USB, flash), Infinity if none.
  nextEventNs() {
    const next = this.mcu ? this.mcu.clock.nextAlarm : null;
    return next ? this.bootWorldNs + next.nanos : Infinity;
  }

  // Runs the chip until world time `untilNs` or until `wallMs` of host time have passed.
  run(untilNs, wallMs) {
    const deadline = performance.now() + wallMs;
    let batches = 0;
    while (this.mcu) {
      const mcu = this.mcu;
      const clock = mcu.clock;
      const core = mcu.core;
      const target = Math.min(untilNs, this.stopAtNs) - this.bootWorldNs;
      if (clock.nanos >= target) return;
      if (this.hung || core.waiting) {
        // Nothing to execute until the next alarm (timer, PIO, USB, flash): skip to it.
        const next = clock.nextAlarm ? clock.nextAlarm.nanos : Infinity;
        clock.tick(Math.min(next, target) - clock.nanos);
      } else if (this.flash.busy !== null && core.PC < ROM_END) {
        // A program or erase runs and the core spins in the boot ROM on the flash's status
        // register (interrupts off) until it ends: nothing but the status can change what it
        // does, so jump to the next alarm (the flash's end, a PIO step...), counted busy as the
        // spinning core would be, then run one instruction (a pending interrupt is taken).
        const from = clock.nanos;
        const next = clock.nextAlarm ? clock.nextAlarm.nanos : Infinity;
        if (next > from) clock.tick(Math.min(next, target) - from);
        clock.tick(core.executeInstruction() * (1e9 / mcu.clkSys));
        this.busyNs += clock.nanos - from;
      } else {
        const cycleNs = 1e9 / mcu.clkSys;
        const from = clock.nanos;
        const prof = this.pcProfile;
        for (let i = 0; i < 2000 && !core.waiting && !this.resetPending; i++) {
          if (prof !== null && (i & 63) === 0) prof.set(core.PC, (prof.get(core.PC) || 0) + 1);
          clock.tick(core.executeInstruction() * cycleNs);
        }
        this.busyNs += clock.nanos - from; // emulated time the core was not asleep
      }
      if (this.resetPending) this._reset(this.resetPending);
      if ((++batches & 15) === 0 && performance.now() > deadline) return;
    }
  }
}

// The Pico's QSPI flash for rp2040js: a W25Q16JV-like SPI NOR chip behind the RP2040's SSI, so
// that MicroPython's littlefs can format, program and erase it, and each operation keeps the chip
// busy for the real chip's time (the CPU polls the status register meanwhile, the PIO runs on).
//
// Stock rp2040js 1.4.1 models the SSI as a register stub (issue #157): nothing is ever written.
// The boot ROM's flash routines (which MicroPython and the pico-sdk call) drive the chip in serial
// SPI mode through SSI DR0, with the chip select forced through IO_QSPI GPIO_QSPI_SS_CTRL.
import { BasePeripheral } from "rp2040js";

export const FLASH_BYTES = 2 * 1024 * 1024; // the Pico's W25Q16JV
const PAGE = 256;

// Busy times in microseconds: typical and maximum (Winbond W25Q16JV datasheet, tPP/tSE/tBE).
export const FLASH_TIMES = {
  typical: { page: 400, sector4k: 45_000, block32k: 120_000, block64k: 150_000 },
  max: { page: 3_000, sector4k: 400_000, block32k: 1_600_000, block64k: 2_000_000 },
};

const ERASE = { 0x20: ["sector4k", 4096], 0x52: ["block32k", 32768], 0xd8: ["block64k", 65536] };
const JEDEC_ID = [0xef, 0x40, 0x15];
const UNIQUE_ID = [0xe6, 0x60, 0x58, 0x38, 0x83, 0x4f, 0x22, 0x2c];

// The flash chip: one SPI transaction at a time (select, bytes, deselect).
export class SpiFlash {
  constructor(clock, array) {
    this.clock = clock;
    this.array = array; // Uint8Array; its first FLASH_BYTES are the chip (kept across resets)
    this.times = { ...FLASH_TIMES.typical };
    this.wel = false; // write enable latch
    this.busy = null; // {kind, start, end, apply(fraction)} while a program/erase runs
    this.cmd = null;
    this.bytes = []; // bytes after the command byte in this transaction
    this.selected = false;
    this.log = { programs: 0, erases: 0, cut: 0, dropped: 0 }; // for tests and benchmarks
    this.dropWrites = false; // fault injection: program/erase run their time but change nothing
    this.onStart = null; // (kind, startNs, endNs) when a program or erase begins
    this.alarm = clock.createAlarm(() => this._finish());
  }

  setTimes(times) {
    for (const [k, v] of Object.entries(times)) {
      if (!(k in this.times) || !(v >= 0)) throw new Error(`flash time ${k}: ${v}`);
      this.times[k] = v;
    }
  }

  isBusy() {
    return this.busy !== null;
  }

  select() {
    if (this.selected) this.deselect();
    this.selected = true;
    this.cmd = null;
    this.bytes = [];
  }

  // One byte in (MOSI), one byte out (MISO), as a full-duplex SPI transfer.
  transfer(byte) {
    if (!this.selected) return 0xff;
    if (this.cmd === null) {
      this.cmd = byte;
      return 0xff;
    }
    const n = this.bytes.length;
    this.bytes.push(byte);
    switch (this.cmd) {
      case 0x05: // read status register 1: BUSY (bit 0), WEL (bit 1)
        return (this.busy ? 1 : 0) | (this.wel ? 2 : 0);
      case 0x35: // status register 2: QE set (the quad XIP boot stage needs it)
        return 0x02;
      case 0x9f:
        return n < JEDEC_ID.length ? JEDEC_ID[n] : 0xff;
      case 0x4b: // 4 dummy bytes, then the 64-bit unique id
        return n >= 4 && n < 12 ? UNIQUE_ID[n - 4] : 0xff;
      case 0x03: // read data: 3 address bytes, then data
        return n >= 3 && !this.busy ? this.array[(this._addr() + n - 3) % FLASH_BYTES] : 0xff;
      case 0x0b: // fast read: 3 address bytes, a dummy, then data
        return n >= 4 && !this.busy ? this.array[(this._addr() + n - 4) % FLASH_BYTES] : 0xff;
      default:
        return 0xff;
    }
  }

  _addr() {
    const b = this.bytes;
    return ((b[0] << 16) | (b[1] << 8) | b[2]) % FLASH_BYTES;
  }

  deselect() {
    if (!this.selected) return;
    this.selected = false;
    const cmd = this.cmd;
    this.cmd = null;
    if (cmd === null || this.busy) return; // a busy chip ignores everything but status reads
    if (cmd === 0x06) this.wel = true;
    else if (cmd === 0x04) this.wel = false;
    else if (cmd === 0x02 && this.wel && this.bytes.length >= 3) this._program();
    else if (cmd in ERASE && this.wel && this.bytes.length >= 3) this._erase(cmd);
  }

  _program() {
    const addr = this._addr();
    const data = this.bytes.slice(3);
    const pageStart = addr - (addr % PAGE);
    const array = this.array;
    // Bytes past the page end wrap to its start, as on the chip; programming only clears bits.
    this._start("page", (fraction) => {
      const n = Math.floor(data.length * fraction);
      for (let i = 0; i < n; i++) {
        const a = pageStart + ((addr - pageStart + i) % PAGE);
        array[a] &= data[i];
      }
    });
    this.log.programs += 1;
  }

  _erase(cmd) {
    const [kind, size] = ERASE[cmd];
    const start = this._addr() - (this._addr() % size);
    const array = this.array;
    this._start(kind, (fraction) => array.fill(0xff, start, start + Math.floor(size * fraction)));
    this.log.erases += 1;
  }

  _start(kind, apply) {
    this.wel = false;
    const now = this.clock.nanos;
    const end = now + this.times[kind] * 1000;
    if (this.dropWrites) {
      this.log.dropped += 1;
      apply = () => {}; // a worn-out or write-protected chip: busy as usual, nothing changes
    }
    this.busy = { kind, start: now, end, apply };
    this.alarm.schedule(end - now);
    if (this.onStart) this.onStart(kind, now, end);
  }

  _finish() {
    if (!this.busy) return;
    this.busy.apply(1);
    this.busy = null;
  }

  // Power lost mid-operation: a program or erase is left partly done, in address order.
  powerCut() {
    this.alarm.cancel();
    if (this.busy) {
      const { start, end, apply } = this.busy;
      apply(Math.max(0, Math.min(1, (this.clock.nanos - start) / (end - start))));
      this.busy = null;
      this.log.cut += 1;
    }
    this.wel = false;
    this.selected = false;
  }
}

// SSI registers the boot ROM's flash routines use (RP2040 datasheet 4.10.13).
const SSI_SR = 0x28;
const SSI_TXFLR = 0x20;
const SSI_RXFLR = 0x24;
const SSI_DR0 = 0x60;
const SR_TFNF = 1 << 1;
const SR_TFE = 1 << 2;
const SR_RFNE = 1 << 3;

// The SSI: bytes written to DR0 go to the chip at once; its answers wait in the RX FIFO.
export class FlashSsi extends BasePeripheral {
  constructor(rp2040, name, flash, qspi) {
    super(rp2040, name);
    this.flash = flash;
    this.qspi = qspi;
    this.regs = new Map();
    this.rx = [];
    this.readSinceWrite = true;
  }

  readUint32(offset) {
    switch (offset) {
      case SSI_SR:
        return SR_TFE | SR_TFNF | (this.rx.length ? SR_RFNE : 0);
      case SSI_TXFLR:
        return 0;
      case SSI_RXFLR:
        return this.rx.length;
      case SSI_DR0:
        this.readSinceWrite = true;
        return this.rx.length ? this.rx.shift() : 0;
      case 0x58:
        return 0x51535049; // IDR
      case 0x5c:
        return 0x3430312a; // SSI_COMP_VERSION
      default:
        return this.regs.get(offset) ?? 0;
    }
  }

  writeUint32(offset, value) {
    if (offset !== SSI_DR0) {
      this.regs.set(offset, value);
      if (offset === 0x08 && !(value & 1)) this.rx = []; // SSIENR off clears the FIFOs
      return;
    }
    // With the chip select left to the SSI (the boot stage 2 configuring XIP), a transaction
    // ends once the program has read the answers of the previous one.
    if (!this.qspi.forced) {
      if (this.readSinceWrite && this.rx.length === 0) {
        this.flash.deselect();
        this.flash.select();
      }
      this.readSinceWrite = false;
    }
    this.rx.push(this.flash.transfer(value & 0xff));
  }
}

// IO_QSPI: only the chip select's output override matters (GPIO_QSPI_SS_CTRL, OUTOVER bits 8-9:
// 2 forces it low = selected, 3 high = deselected, 0 leaves it to the SSI).
export class QspiIo extends BasePeripheral {
  constructor(rp2040, name, flash) {
    super(rp2040, name);
    this.flash = flash;
    this.regs = new Map();
    this.forced = false;
  }

  readUint32(offset) {
    return this.regs.get(offset) ?? 0;
  }

  writeUint32(offset, value) {
    this.regs.set(offset, value);
    if (offset !== 0x0c) return;
    const over = (value >> 8) & 3;
    if (over === 2) this.flash.select();
    else if (over === 3 || this.forced) this.flash.deselect();
    this.forced = over >= 2;
  }
}

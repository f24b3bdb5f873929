// PIO on the emulated clock for rp2040js: every state machine runs at clk_sys / its clock
// divider, each instruction takes 1 + its delay cycles, a stall waits for the FIFO, and the
// FIFOs join (SHIFTCTRL FJOIN_TX/RX) into one of 8 words.
//
// Stock rp2040js 1.4.1 runs all four machines of a block 1000 instructions per setTimeout tick
// of wall time, ignoring dividers and delays: pin edges come at host speed, all stamped with one
// emulated instant. Here each block has one clock alarm at its next instruction; the CPU's
// accesses catch the block up first, so FIFO levels and pc read as they would on the chip.
// A `jmp x-- self` delay loop is skipped arithmetically (exact, and cheap at low step rates).
import { FIFO } from "rp2040js";

const CTRL = 0x000;
const SM_BASE = 0x0c8; // SM0_CLKDIV; each machine has 6 registers, 0x18 apart
const SM_STRIDE = 0x18;
const SHIFTCTRL = 0x08; // within a machine's block
const CLKDIV = 0x00;
const FJOIN_TX = 1 << 30;
const FJOIN_RX = 1 << 31;

export class ClockedPio {
  // clkSysHz() -> the system clock now; pinTime(ns) is told the instant of a PIO pin change.
  constructor(mcu, pio, pinTime) {
    this.mcu = mcu;
    this.pio = pio;
    this.pinTime = pinTime;
    this.clock = mcu.clock;
    this.alarm = this.clock.createAlarm(() => this.catchUp(this.clock.nanos));
    this.instructions = 0; // executed (a skipped delay loop counts as one), for the bench
    this.stepping = null; // the machine inside _step
    for (const sm of pio.machines) {
      sm.nextNs = Infinity; // when it executes next (Infinity: disabled or stalled)
      sm.joined = 0;
      this._wrapMachine(sm);
    }
    // The block's own wall-clock runner is replaced by the alarm.
    pio.run = () => this.schedule();
    pio.stop = () => {
      for (const sm of pio.machines) sm.enabled = false;
      this.schedule();
    };
    const read = pio.readUint32.bind(pio);
    const write = pio.writeUint32.bind(pio);
    pio.readUint32 = (offset) => {
      this.catchUp(this.clock.nanos);
      return read(offset);
    };
    pio.writeUint32 = (offset, value) => {
      this.catchUp(this.clock.nanos);
      const wasEnabled = pio.machines.map((sm) => sm.enabled);
      write(offset, value);
      if (offset === CTRL) {
        pio.machines.forEach((sm, i) => {
          if (sm.enabled && !wasEnabled[i]) sm.nextNs = this.clock.nanos;
        });
      }
      this.wake(this.clock.nanos);
    };
  }

  _wrapMachine(sm) {
    // A stall resolves only when the machine's own cycle comes (in _step): a FIFO write, pin
    // change or IRQ from elsewhere just wakes it (wake()), so its timing stays on its clock.
    const checkWait = sm.checkWait.bind(sm);
    sm.checkWait = () => {
      if (this.stepping === sm) checkWait();
    };
    const write = sm.writeUint32.bind(sm);
    sm.writeUint32 = (offset, value) => {
      const before = sm.shiftCtrl;
      write(offset, value);
      if (offset === SHIFTCTRL && ((before ^ sm.shiftCtrl) & (FJOIN_TX | FJOIN_RX))) {
        // Joining or splitting the FIFOs clears both (RP2040 datasheet, SHIFTCTRL).
        const tx = sm.shiftCtrl & FJOIN_TX ? 8 : sm.shiftCtrl & FJOIN_RX ? 0 : 4;
        const rx = sm.shiftCtrl & FJOIN_RX ? 8 : sm.shiftCtrl & FJOIN_TX ? 0 : 4;
        sm.txFIFO = new FIFO(tx);
        sm.rxFIFO = new FIFO(rx);
        sm.updateDMATx();
        sm.updateDMARx();
      }
    };
  }

  periodNs(sm) {
    const div = (sm.clockDivInt || 65536) + sm.clockDivFrac / 256;
    return (div * 1e9) / this.mcu.clkSys;
  }

  // A machine that was stalled (or just enabled) and can run again gets its next instruction.
  wake(now) {
    for (const sm of this.pio.machines) {
      if (!sm.enabled) sm.nextNs = Infinity;
      else if (sm.nextNs === Infinity) sm.nextNs = now; // runs, or re-checks its stall, now
    }
    this.schedule();
  }

  // Runs every enabled machine, in time order, up to and including instant `now`.
  catchUp(now) {
    const machines = this.pio.machines;
    for (;;) {
      let sm = null;
      for (const m of machines) {
        if (m.enabled && m.nextNs <= now && (sm === null || m.nextNs < sm.nextNs)) sm = m;
      }
      if (sm === null) break;
      this._step(sm, now);
    }
    this.schedule();
  }

  _delay(sm, opcode) {
    return ((opcode >> 8) & 0x1f) & ((1 << (5 - sm.sidesetCount)) - 1);
  }

  _step(sm, now) {
    this.stepping = sm;
    try {
      this._execute(sm, now);
    } finally {
      this.stepping = null;
      this.pinTime(null);
    }
    if (sm.nextNs !== Infinity) {
      for (const other of this.pio.machines) {
        if (other !== sm && other.enabled && other.waiting) other.nextNs = Math.min(other.nextNs, sm.nextNs);
      }
    }
  }

  _execute(sm, now) {
    const t = sm.nextNs;
    const period = this.periodNs(sm);
    this.pinTime(t);
    if (sm.waiting) {
      sm.checkWait(); // resolves at this cycle, then its delay follows
      if (sm.waiting) {
        sm.nextNs = Infinity; // a FIFO write, IRQ or pin change wakes it
      } else {
        sm.nextNs = t + (1 + Math.max(0, sm.waitDelay)) * period;
      }
      this.pio.checkChangedPins();
      return;
    }
    const opcode = this.pio.instructions[sm.pc];
    const cost = (1 + this._delay(sm, opcode)) * period;
    // `jmp x-- <itself>`: x + 1 passes, all alike but the last; skip the ones that fit by now.
    if (opcode >>> 13 === 0 && ((opcode >> 5) & 7) === 0b010 && (opcode & 0x1f) === sm.pc) {
      const x = sm.x >>> 0;
      const fit = Math.floor((now - t) / cost) + 1;
      if (x > 0) {
        const k = Math.min(x, fit);
        sm.x = x - k;
        sm.nextNs = t + k * cost;
        this.instructions += 1;
        return;
      }
    }
    sm.updatePC = true;
    sm.executeInstruction(opcode);
    if (sm.updatePC) sm.nextPC();
    this.instructions += 1;
    sm.nextNs = sm.waiting ? Infinity : t + cost;
    this.pio.checkChangedPins();
  }

  // Earliest instant something can change: a machine's next instruction (a delay loop: its end).
  _eventNs(sm) {
    if (!sm.enabled || sm.nextNs === Infinity) return Infinity;
    if (sm.waiting) return sm.nextNs;
    const opcode = this.pio.instructions[sm.pc];
    if (opcode >>> 13 === 0 && ((opcode >> 5) & 7) === 0b010 && (opcode & 0x1f) === sm.pc) {
      return sm.nextNs + (sm.x >>> 0) * (1 + this._delay(sm, opcode)) * this.periodNs(sm);
    }
    return sm.nextNs;
  }

  schedule() {
    let next = Infinity;
    for (const sm of this.pio.machines) next = Math.min(next, this._eventNs(sm));
    if (next === Infinity) {
      if (this.alarm.scheduled) this.alarm.cancel();
      return;
    }
    this.alarm.schedule(Math.max(0, next - this.clock.nanos));
  }
}

export { CLKDIV, SM_BASE, SM_STRIDE };

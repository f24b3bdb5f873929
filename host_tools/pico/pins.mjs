// The emulated Pico's pins as the rig sees them: STEP rising edges (the balance's truth), ENABLE
// and DIR, and a record of the latest edges stamped with world time (picoserve.mjs's `gpio`).

// The most recent `capacity` edges in a ring of typed arrays: recording one is O(1) and makes no
// garbage (an array that dropped its oldest edge with splice() moved every edge it held, ~200 000
// at 200 mL/h after a few minutes: that, not the CPU, set a long HIL test's speed).
export class EdgeRing {
  constructor(capacity) {
    this.capacity = Math.max(1, capacity);
    this.t = new Float64Array(this.capacity); // world us
    this.gpio = new Uint8Array(this.capacity);
    this.level = new Uint8Array(this.capacity);
    this.next = 0; // where the next edge goes
    this.count = 0;
    this.dropped = 0; // edges pushed out by newer ones
  }

  push(tUs, gpio, level) {
    const i = this.next;
    this.t[i] = tUs;
    this.gpio[i] = gpio;
    this.level[i] = level;
    this.next = i + 1 === this.capacity ? 0 : i + 1;
    if (this.count < this.capacity) this.count += 1;
    else this.dropped += 1;
  }

  // [[t_us, gpio, level], ...] of the edges at or after fromUs, oldest first (world time only
  // moves forward, so they are the ring's newest: a binary search finds the first).
  since(fromUs) {
    const oldest = this.count < this.capacity ? 0 : this.next;
    const at = (k) => (oldest + k) % this.capacity;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.t[at(mid)] >= fromUs) hi = mid;
      else lo = mid + 1;
    }
    const out = [];
    for (let k = lo; k < this.count; k++) {
      const i = at(k);
      out.push([this.t[i], this.gpio[i], this.level[i]]);
    }
    return out;
  }
}

// chip: an EmulatedPico whose onPin this takes; pins: {step, dir, enable, enable_active_low}.
export function recordPins(chip, pins, maxEdges) {
  const ring = new EdgeRing(maxEdges);
  const pinState = {
    steps: 0, // STEP rising edges at the pin, all boots
    stepsBoot: 0,
    lastStepUs: null,
    enable: null,
    dir: null,
    edges: ring, // the most recent maxEdges edges: edges.since(fromUs)
  };
  chip.onPin = (gpio, high, worldNs) => {
    const tUs = worldNs / 1000;
    if (gpio === pins.step && high) {
      pinState.steps += 1;
      pinState.stepsBoot += 1;
      pinState.lastStepUs = tUs;
    }
    if (gpio === pins.enable) pinState.enable = high;
    if (gpio === pins.dir) pinState.dir = high;
    ring.push(tUs, gpio, high ? 1 : 0);
  };
  const motorOn = () =>
    chip.powered && pinState.enable !== null && pinState.enable !== Boolean(pins.enable_active_low);
  return { pinState, motorOn };
}

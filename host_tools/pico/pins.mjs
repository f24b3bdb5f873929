// The emulated Pico's pins as the rig sees them: STEP rising edges (the balance's truth), ENABLE
// and DIR, and a record of the latest edges stamped with world time (picoserve.mjs's `gpio`).

// chip: an EmulatedPico whose onPin this takes; pins: {step, dir, enable, enable_active_low}.
export function recordPins(chip, pins, maxEdges) {
  const pinState = {
    steps: 0, // STEP rising edges at the pin, all boots
    stepsBoot: 0,
    lastStepUs: null,
    enable: null,
    dir: null,
    edges: [], // [t_us, gpio, level], the most recent maxEdges
    edgesDropped: 0,
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
    pinState.edges.push([tUs, gpio, high ? 1 : 0]);
    if (pinState.edges.length > maxEdges) {
      pinState.edges.splice(0, pinState.edges.length - maxEdges);
      pinState.edgesDropped += 1;
    }
  };
  const motorOn = () =>
    chip.powered && pinState.enable !== null && pinState.enable !== Boolean(pins.enable_active_low);
  return { pinState, motorOn };
}

// The world clock's pace against the wall clock, in µs, for both harnesses (the virtual board's
// VM worker and the emulated Pico). A mode is {kind: "fast"} (no limit), {kind: "hold",
// targetUs} (up to that world instant, then wait) or {kind: "scale", scale: K} (K µs of world
// time per µs of wall time). A board that falls more than 250 ms (x K) behind a scale lets the
// lost time go instead of racing after it, unless it is behind only because it slept until its
// next event (an emulated core in WFI): it then catches up at once.
export const BEHIND_LIMIT_US = 250_000;

export class Pace {
  constructor(mode, worldUs = 0) {
    this.set(mode, worldUs);
  }

  // A new mode from world instant worldUs (now, on the wall clock).
  set(mode, worldUs) {
    this.mode = mode;
    this.anchorWall = performance.now();
    this.anchorWorldUs = worldUs;
  }

  // How far world time may run now: Infinity (fast), the hold target, or the scale's instant.
  limitUs(worldUs, asleep = false) {
    const mode = this.mode;
    if (mode.kind === "fast") return Infinity;
    if (mode.kind === "hold") return mode.targetUs ?? worldUs;
    const wall = performance.now();
    const limit = this.anchorWorldUs + (wall - this.anchorWall) * mode.scale * 1000;
    if (limit - worldUs > BEHIND_LIMIT_US * mode.scale && !asleep) {
      this.anchorWall = wall;
      this.anchorWorldUs = worldUs;
      return worldUs;
    }
    return limit;
  }

  // Wall ms from now until world instant worldUs comes, at a scale.
  wallMsUntil(worldUs) {
    const mode = this.mode;
    return (worldUs - this.anchorWorldUs) / (mode.scale * 1000) + this.anchorWall
      - performance.now();
  }
}

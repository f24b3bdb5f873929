// The virtual gravimetric balance: MT-SICS subset over TCP, weighing what the motor really pumped.
// mass = steps made (all boots) / steps per mL (board file) x 1.000 g/mL, minus evaporation, plus
// optional noise; the firmware's own volume count is never consulted: it is the witness.
import net from "node:net";

const CAPACITY_G = 1000;
const SERIAL_NUMBER = "VB0000001";

// Small seeded PRNG (mulberry32) and Box-Muller, so noisy runs can be repeated.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Balance {
  // world() -> {worldUs, steps, stepsPerMl}: the harness's current truth.
  constructor(world, seed = 1) {
    this.world = world;
    this.densityGPerMl = 1.0;
    this.noiseG = 0; // standard deviation of the reading noise
    this.evapGPerH = 0;
    this._evapG = 0; // evaporated up to _evapSinceUs at the rate then in force
    this._evapSinceUs = 0;
    this.zeroG = 0; // subtracted by Z / T
    this.tareG = 0;
    this._rand = rng(seed);
  }

  setEvaporation(gPerH) {
    const { worldUs } = this.world();
    this._evapG = this.evaporatedG(worldUs);
    this._evapSinceUs = worldUs;
    this.evapGPerH = gPerH;
  }

  evaporatedG(worldUs) {
    return this._evapG + (this.evapGPerH * Math.max(0, worldUs - this._evapSinceUs)) / 3.6e9;
  }

  // The liquid in the beaker, before zero, tare and noise.
  grossG() {
    const { worldUs, steps, stepsPerMl } = this.world();
    const pumped = (steps / stepsPerMl) * this.densityGPerMl;
    return Math.max(0, pumped - this.evaporatedG(worldUs));
  }

  _noise() {
    if (!this.noiseG) return 0;
    const u = Math.max(this._rand(), 1e-12);
    return this.noiseG * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this._rand());
  }

  netG() {
    return this.grossG() - this.zeroG - this.tareG + this._noise();
  }

  static weight(prefix, grams) {
    return `${prefix} ${grams.toFixed(3).padStart(10)} g`;
  }

  // One MT-SICS command line (without CR LF) -> its response line.
  handle(line) {
    const cmd = line.trim();
    const gross = this.grossG();
    switch (cmd) {
      case "S":
      case "SI":
        // Both answer "S S <weight> g": the virtual balance is always stable.
        if (gross > CAPACITY_G) return "S +";
        return Balance.weight("S S", this.netG());
      case "Z":
      case "ZI":
        this.zeroG = gross;
        this.tareG = 0;
        return cmd === "Z" ? "Z A" : "ZI S";
      case "T":
        this.tareG = gross - this.zeroG;
        return Balance.weight("T S", this.tareG);
      case "TAC":
        this.tareG = 0;
        return "TAC A";
      case "@":
        this.zeroG = 0;
        this.tareG = 0;
        return `I4 A "${SERIAL_NUMBER}"`;
      case "I2":
        return `I2 A "isapump virtual balance ${CAPACITY_G.toFixed(3)} g"`;
      case "I4":
        return `I4 A "${SERIAL_NUMBER}"`;
      case "":
        return null;
      default:
        return "ES";
    }
  }

  // A TCP server: one command per line (CR LF or LF), one response per command.
  listen(port, host = "127.0.0.1") {
    const server = net.createServer((sock) => {
      let pending = "";
      sock.setNoDelay(true);
      sock.on("data", (chunk) => {
        pending += chunk.toString("latin1");
        let nl;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const reply = this.handle(pending.slice(0, nl).replace(/\r$/, ""));
          pending = pending.slice(nl + 1);
          if (reply !== null) sock.write(reply + "\r\n");
        }
      });
      sock.on("error", () => {});
    });
    return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
  }
}

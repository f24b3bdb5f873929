// The control channel's verbs, one table for both boards (docs/virtual-board.md lists them).
// The board supplies: status(), setButton(name, pressed), setMode(mode), nowUs(),
// holdAt(targetUs) -> Promise (world time held there once reached), received(n) -> Promise (the
// host's first n serial bytes are in), powerOff(), powerOn(cause) (either may return a Promise),
// hang(), setHostReading(on), and optionally sync() (catch up with the wall clock before a
// request is applied). `extra` holds a board's own verbs: {name: (request) => fields}.
export function controlVerbs(board, balance, quit, extra = {}) {
  const ms = (req, name) => {
    if (!(req.ms >= 0)) throw new Error(`${name} needs ms >= 0`);
    return req.ms;
  };
  const verbs = {
    status: () => board.status(),
    press: (req) => (board.setButton(req.button, true), {}),
    release: (req) => (board.setButton(req.button, false), {}),
    fast: () => (board.setMode({ kind: "fast", scale: 1 }), {}),
    scale: (req) => {
      if (!(req.k > 0)) throw new Error("scale needs k > 0");
      board.setMode({ kind: "scale", scale: req.k });
      return {};
    },
    hold: () => {
      board.setMode({ kind: "hold", scale: 1, targetUs: board.nowUs() });
      return board.status();
    },
    advance: async (req) => {
      const step = ms(req, "advance");
      if (req.after_rx) await board.received(req.after_rx); // the host's bytes first
      await board.holdAt(board.nowUs() + step * 1000);
      return board.status();
    },
    run_until: async (req) => {
      await board.holdAt(Math.max(board.nowUs(), ms(req, "run_until") * 1000));
      return board.status();
    },
    power_cut: async () => (await board.powerOff(), board.status()),
    power_restore: async () => (await board.powerOn("power_on"), board.status()),
    hang: () => (board.hang(), {}), // the firmware's loop stops; only the watchdog brings it back
    host_reading: (req) => (board.setHostReading(Boolean(req.on)), {}),
    balance: (req) => {
      if (req.noise_g !== undefined) balance.noiseG = Number(req.noise_g);
      if (req.evap_g_per_h !== undefined) balance.setEvaporation(Number(req.evap_g_per_h));
      return { noise_g: balance.noiseG, evap_g_per_h: balance.evapGPerH, gross_g: balance.grossG() };
    },
    quit: () => (setImmediate(quit), {}),
    ...extra,
  };
  return async (req) => {
    if (board.sync) board.sync();
    if (!Object.hasOwn(verbs, req.cmd)) throw new Error(`unknown cmd ${JSON.stringify(req.cmd)}`);
    return verbs[req.cmd](req);
  };
}

"""Driving the emulated Pico from a test: a protocol client whose commands move emulated time,
and the STEP pin's record turned into numbers (steps at the pin, the ideal integral)."""

from host_tools.link.client import Client
from pumpfw.planner import WORK_PER_STEP

STEP_PIN = 2  # boards/pico.py
ENABLE_PIN = 4


class Bench:
    """A held emulated Pico and a client on its serial. Time passes only in wait_ms() and while
    a command waits for its answer (in slices, so answers come as soon as they are made)."""

    def __init__(self, pico, timeout_s=60.0):
        self.pico = pico
        self.client = Client(pico.serial_url, timeout_s=0.2)
        self.timeout_s = timeout_s
        self.seen = []  # every message read, in order
        self.booted = self.wait_for_boot()

    def wait_for_boot(self):
        """Lets the board boot; returns its unsolicited hello (the boot banner) once the boot's
        `ev reboot` is in too (the two may come in separate USB transfers)."""
        self.client.connect()
        for _ in range(40):
            self.wait_ms(250)
            hello = [m for m in self.seen if m.kind == "hello"]
            if hello and self.events("reboot"):
                return hello[0]
        raise AssertionError("the emulated Pico printed no hello within 10 s of boot")

    def wait_ms(self, ms):
        self.pico.advance_ms(ms, timeout_s=self.timeout_s, after_rx=self.client.sent_bytes)
        self._read_all()

    def _read_all(self, timeout_s=0.05):
        while True:
            msg = self.client.read_message(timeout_s)
            if msg is None:
                return
            self.seen.append(msg)

    def command(self, name, *args):
        """Send a command; emulated time moves until its ok/ask/err arrives. Confirms an ask."""
        ref = self.client.send(name, *args)
        msg = self._answer(ref, name)
        if msg.kind == "ask":
            ref = self.client.send("confirm", msg.fields["token"])
            msg = self._answer(ref, "confirm")
        return msg

    def _answer(self, ref, name):
        mark = len(self.seen)
        for _ in range(200):
            self.wait_ms(20)
            for msg in self.seen[mark:]:
                if msg.kind in ("ok", "err", "ask") and msg.ref == ref:
                    return msg
        raise AssertionError("no answer to %s within 4 s of emulated time" % name)

    def status(self):
        msg = self.command("status")
        assert msg.kind == "ok", msg
        return msg.fields

    def events(self, name=None):
        return [m for m in self.seen if m.kind == "ev" and name in (None, m.name)]

    def close(self):
        self.client.close()


def step_edges(pico, since_us=0):
    """World times (us) of STEP rising edges at the pin."""
    return [t for t, gpio, level in pico.gpio_edges(since_us) if gpio == STEP_PIN and level]


def integral_spread_steps(edges_us, rate_ul_h, steps_per_ml):
    """How far apart, in steps, the edges sit from one ideal integral: edge k against the time
    the ideal count reaches k, k / rate. Its start instant is the board's own (app clock origin
    plus the PIO's pipeline, a constant): the spread is what no choice of it can explain, so
    <= 1 means every step is within one step of a single exact integral."""
    us_per_step = WORK_PER_STEP / (rate_ul_h * steps_per_ml)
    offsets = [t - k * us_per_step for k, t in enumerate(edges_us, 1)]
    return (max(offsets) - min(offsets)) / us_per_step

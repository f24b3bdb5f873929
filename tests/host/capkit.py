"""Test helper: device lines from the real controller on a virtual clock, and capture files."""

import time

from host_tools.logs import capfile
from pumpfw import controller as ctl
from pumpfw import preview
from pumpfw import protocol as P
from pumpfw.schedule import DEFAULT_REGIMEN

MIN = 60_000
HOST_NS0 = 1_800_000_000 * 10**9  # host clock of device t_ms = 0
STEPS_PER_ML = 20_000


class VirtualDevice:
    """The controller, an ideal pump and the protocol's encoders, as the firmware wires them:
    one framed line per event, and a record every interval_ms. lines: [(t_ms, raw bytes)]."""

    def __init__(self, regimen=DEFAULT_REGIMEN, interval_ms=MIN):
        self.regimen = regimen
        self.interval_ms = interval_ms
        self.seq = 0
        self.now = 0
        self.lines = []
        self.c = ctl.Controller(regimen, regimen.max_rate_ul_h(), self._on_event)
        self.pump = preview.IdealPump(regimen.volume_ul)
        self.results = []  # the controller's own numbers, per infusion

    def _emit(self, t_ms, body):
        self.lines.append((t_ms, P.frame(self.seq, body)))
        self.seq = (self.seq + 1) % P.SEQ_MOD

    def _on_event(self, code, now_ms, a, b):
        self._emit(now_ms, P.encode_event(code, now_ms, a, b))

    def hello(self):
        self._emit(self.now, P.encode_hello("0.1.0", "virtual", STEPS_PER_ML, 400_000, 60_000, 1))

    def record(self):
        steps = self.pump.delivered_ul() * STEPS_PER_ML // 1000
        self._emit(self.now, P.encode_record(self.now, self.c, steps, 0))

    def infusion(self, number, inputs=(), gap_before_ms=10 * MIN):
        """Run one infusion to its end; inputs: (t_ms from its start, kind, arg)."""
        self.now += gap_before_ms
        self.pump = preview.IdealPump(self.regimen.volume_ul)
        start = self.now
        assert self.c.start(start, number) == ctl.OK
        self.record()
        pending = sorted((start + t, kind, arg) for t, kind, arg in inputs)
        next_rec = start + self.interval_ms
        while self.c.active():
            candidates = [next_rec]
            if pending:
                candidates.append(pending[0][0])
            if self.c.next_change_ms() >= 0:
                candidates.append(self.c.next_change_ms())
            finish = self.pump.ms_to_finish(self.c.rate_ul_h)
            if finish >= 0:
                candidates.append(self.now + finish)
            nxt = min(candidates)
            self.pump.run(self.c.rate_ul_h, nxt - self.now)
            self.now = nxt
            self.c.tick(self.now, self.pump.delivered_ul())
            while pending and pending[0][0] <= self.now and self.c.active():
                _, kind, arg = pending.pop(0)
                assert preview._apply(self.c, self.now, kind, arg) == ctl.OK
            if self.now == next_rec or not self.c.active():
                self.record()
                next_rec += self.interval_ms
        self.results.append({"infusion": number, "elapsed_ms": self.c.elapsed_ms(),
                             "infusing_ms": self.c.infusing_ms(),
                             "delivered_ul": self.c.delivered_ul,
                             "interruptions": self.c.interruptions})
        return self.results[-1]


def write_capture(path, lines, markers=(), host_ns0=HOST_NS0, subject=None):
    """A capture file as `pumpctl capture` writes it; host time follows device time from
    host_ns0. markers: (index in lines, kind, text) placed before that line."""
    with capfile.CaptureWriter(path, port="virtual", host_ns=host_ns0, subject=subject) as w:
        for i, (t_ms, raw) in enumerate(lines):
            for at, kind, text in markers:
                if at == i:
                    w.mark(kind, host_ns0 + t_ms * 10**6, text)
            w.line(raw, host_ns0 + t_ms * 10**6 + 1000)
    return path


def ending_now(lines):
    """host_ns0 for write_capture() so that the capture's last line is received now: an example
    made today carries today's dates (its provenance says when it was made)."""
    return time.time_ns() - max(t for t, _ in lines) * 10**6 - 1000


def corrupt(raw):
    """Same length, one body digit changed, CRC kept: a checksum failure."""
    star = raw.rindex(b"*")
    i = next(k for k in range(star - 1, 0, -1) if raw[k : k + 1].isdigit())
    digit = b"1" if raw[i : i + 1] != b"1" else b"2"
    return raw[:i] + digit + raw[i + 1 :]


def example_patients(folder, patients=6, seed=1):
    """One capture per patient (subject P-01, ...): infusions 1 to 3-6, a grade-2 reaction in
    infusion 1 for some, an operator pause now and then; the real controller on a virtual clock,
    host times ending now. -> the paths."""
    import random
    from pathlib import Path

    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(1, patients + 1):
        device = VirtualDevice()
        device.hello()
        for number in range(1, rng.randint(3, 6) + 1):
            inputs = []
            if number == 1 and rng.random() < 0.5:
                onset = rng.randint(20, 80) * MIN
                inputs = [(onset, preview.IR, 2), (onset + rng.randint(10, 40) * MIN,
                                                   preview.RESOLVED, 0)]
            elif rng.random() < 0.3:
                at = rng.randint(5, 40) * MIN
                inputs = [(at, preview.PAUSE, 0), (at + rng.randint(2, 15) * MIN,
                                                   preview.RESUME, 0)]
            device.infusion(number, inputs, gap_before_ms=rng.randint(10, 30) * MIN)
        path = folder / ("P-%02d.cap" % k)
        write_capture(path, device.lines, host_ns0=ending_now(device.lines),
                      subject="P-%02d" % k)
        paths.append(path)
    return paths


if __name__ == "__main__":
    # Example captures for docs/logs.md and docs/notebooks: `capkit.py OUT.cap` writes infusion
    # 1 with a grade-2 IR at 45 min, resolved 20 min later, then infusion 2;
    # `capkit.py --patients N FOLDER` writes one capture per patient (example_patients()).
    import sys

    if sys.argv[1] == "--patients":
        for path in example_patients(sys.argv[3], int(sys.argv[2])):
            print(path)
        sys.exit(0)
    device = VirtualDevice()
    device.hello()
    device.infusion(1, [(45 * MIN, preview.IR, 2), (65 * MIN, preview.RESOLVED, 0)])
    device.infusion(2)
    print(write_capture(sys.argv[1], device.lines, host_ns0=ending_now(device.lines)))

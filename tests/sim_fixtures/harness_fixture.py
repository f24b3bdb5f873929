# Test double for the virtual-board harness (NOT the pump): a tiny app with the App(hw) contract
# whose serial commands exercise one harness feature each. Runs on MicroPython inside simserve.mjs.
import os

from pumpfw.ticks import ticks_add


class FixtureApp:
    """Line commands (LF or CRLF): echo TEXT | time | put NAME TEXT | get NAME | cause |
    spin N_STEPS_PER_S | stop | steps | buttons | wdt MS | starve | flood N | raise."""

    def __init__(self, hw):
        self.hw = hw
        self.line = bytearray()
        self.rx = bytearray(32)
        self.out = bytearray()
        self.edges = {}
        self.starving = False
        self.step_hz = 0
        self.flood = 0
        self.flood_at = 0  # bytes of the current flood line already written
        self.ticks = 0
        for name, pin in hw.buttons.items():
            self.edges[name] = 0
            pin.irq(handler=self._irq)
        self.say("fixture boot cause=%s" % hw.reset_cause)

    def _irq(self, pin):
        self.edges[pin.name] += 1  # like a real handler: count only

    def say(self, text):
        self.out += text.encode() + b"\r\n"

    def step(self):
        self.ticks += 1
        n = self.hw.port.read_into(self.rx)
        for i in range(n):
            b = self.rx[i]
            if b == 10:
                self.command(bytes(self.line).decode().strip())
                self.line = bytearray()
            elif b != 13:
                self.line.append(b)
        if self.step_hz:
            self._feed_stepper()
        if self.flood:
            chunk = b"x" * 63 + b"\n"
            while self.flood > 0:  # whole lines: a short write goes on where it stopped
                self.flood_at += self.hw.port.write(chunk[self.flood_at:])
                if self.flood_at < len(chunk):
                    break
                self.flood_at = 0
                self.flood -= 1
        if self.out and not self.flood:  # in order: a reply after a flood comes after it
            sent = self.hw.port.write(self.out)
            self.out = self.out[sent:]
        if not self.starving:
            self.hw.wdt_feed()

    def next_wake_ms(self):
        # docs/board-layer.md: a hw.ticks_ms() value.
        now = self.hw.ticks_ms()
        if self.out or self.flood:
            return now
        if self.step_hz:
            return ticks_add(now, 20)
        return ticks_add(now, 100 if self.hw.wdt_armed() else 1000)

    def shutdown(self):
        self.hw.stepper.halt()

    def _feed_stepper(self):
        st = self.hw.stepper
        interval_us = 1_000_000 // self.step_hz
        while st.room():
            st.push(interval_us, 100)

    def command(self, text):
        cmd, _, arg = text.partition(" ")
        hw = self.hw
        if cmd == "echo":
            self.say(arg)
        elif cmd == "time":
            self.say("ms=%d us=%d" % (hw.ticks_ms(), hw.ticks_us()))
        elif cmd == "put":
            name, _, body = arg.partition(" ")
            with open(hw.fs_root + "/" + name, "w") as f:
                f.write(body)
            self.say("put ok")
        elif cmd == "get":
            try:
                with open(hw.fs_root + "/" + arg) as f:
                    self.say("get " + f.read())
            except OSError:
                self.say("get missing")
        elif cmd == "ls":
            self.say("ls " + ",".join(sorted(os.listdir(hw.fs_root))))
        elif cmd == "cause":
            self.say("cause " + hw.reset_cause)
        elif cmd == "spin":
            self.step_hz = int(arg)
            hw.stepper.enable()
            hw.stepper.start(hw.ticks_us())
            self.say("spin ok")
        elif cmd == "stop":
            self.step_hz = 0
            hw.stepper.halt()
            self.say("stop ok")
        elif cmd == "steps":
            self.say("steps %d" % hw.stepper.steps())
        elif cmd == "buttons":
            parts = []
            for k in sorted(self.edges):
                parts.append("%s=%d/%d" % (k, self.edges[k], hw.buttons[k].value()))
            self.say("buttons " + " ".join(parts))
        elif cmd == "wdt":
            hw.wdt_start(int(arg))
            self.say("wdt ok")
        elif cmd == "starve":
            self.starving = True
            self.say("starve ok")
        elif cmd == "flood":
            self.flood = int(arg)
        elif cmd == "ticks":
            self.say("ticks %d" % self.ticks)
        elif cmd == "raise":
            raise ValueError("fixture asked to fail")
        else:
            self.say("? " + text)


# Operator buttons: IRQ handlers only count edges; debouncing and meaning live in poll().
# Map (docs/buttons.md): PAUSE short = pause, PAUSE long = resume; IR short = grade-2 interrupt,
# IR long = grade >= 3 discontinue; OK long = "IR resolved". Anything that can move the motor
# (resume, IR resolved) needs a deliberate long press on a button that was seen released first,
# with no other button down; a button held past stuck_ms is reported and then ignored.
from pumpfw.compat import const
from pumpfw.ticks import ticks_diff

SHORT = const(1)  # Button.poll() results
LONG = const(2)
STUCK = const(3)

EV_NONE = const(0)  # ButtonPanel.poll() results
EV_PAUSE = const(1)
EV_RESUME = const(2)
EV_IR_INTERRUPT = const(3)  # grade 2
EV_IR_DISCONTINUE = const(4)  # grade >= 3
EV_IR_RESOLVED = const(5)
EV_ACK = const(6)  # OK short: acknowledge an alarm (never moves the motor)
EV_STUCK = const(7)
EVENT_NAMES = ("", "pause", "resume", "ir_interrupt", "ir_discontinue", "ir_resolved", "ack",
               "stuck")


class Button:
    """One debounced button. Tunables are class attributes (override per board)."""

    debounce_ms = 25  # level must hold this long with no edge at all
    long_ms = 1500  # a press at least this long is LONG (decided on release)
    stuck_ms = 8000  # held this long: STUCK, reported once; its release does nothing

    def __init__(self, pin, active_low=True, now_ms=0):
        self.pin = pin
        self.active_low = active_low
        self.edges = 0  # bumped by the IRQ handler only
        self._seen = 0
        raw = self._raw()
        self.pressed = raw  # the debounced level
        self._cand = raw
        self._cand_ms = now_ms
        self._press_ms = now_ms
        self._armed = not raw  # pressed at start-up: ignored until seen released
        self._stuck = False

    def irq(self, pin):
        # Hard-IRQ safe: one small-int add, no allocation, no call.
        self.edges += 1

    def _raw(self):
        level = self.pin.value()
        return (not level) if self.active_low else bool(level)

    def down(self):
        """True if pressed or chattering (not cleanly released)."""
        return self.pressed or self._cand

    def busy(self):
        """Down, or an edge or level not yet settled: poll() needs to come back soon."""
        return self.down() or self.edges != self._seen or self._cand != self.pressed

    def poll(self, now_ms):
        """SHORT / LONG / STUCK once per press, else 0. Call every few ms."""
        raw = self._raw()
        if self.edges != self._seen or raw != self._cand:
            self._seen = self.edges
            self._cand = raw
            self._cand_ms = now_ms
            return 0
        if raw != self.pressed and ticks_diff(now_ms, self._cand_ms) >= self.debounce_ms:
            self.pressed = raw
            if raw:
                self._press_ms = self._cand_ms
                return 0
            held_ms = ticks_diff(self._cand_ms, self._press_ms)
            was_armed, was_stuck = self._armed, self._stuck
            self._armed = True
            self._stuck = False
            if not was_armed or was_stuck:
                return 0
            return LONG if held_ms >= self.long_ms else SHORT
        if self.pressed and not self._stuck and self._armed:
            if ticks_diff(now_ms, self._press_ms) >= self.stuck_ms:
                self._stuck = True
                return STUCK
        return 0


class ButtonPanel:
    """The three buttons and their meaning. poll(now_ms) returns one EV_* code (or EV_NONE)."""

    def __init__(self, pause, ir, ok):
        self.pause = pause
        self.ir = ir
        self.ok = ok

    def busy(self):
        """A button needs frequent polls (debounce, long-press timing)."""
        return self.pause.busy() or self.ir.busy() or self.ok.busy()

    def _others_down(self, button):
        n = 0
        for b in (self.pause, self.ir, self.ok):
            if b is not button and b.down():
                n += 1
        return n

    def poll(self, now_ms):
        result = EV_NONE
        r = self.pause.poll(now_ms)
        if r == SHORT:
            result = EV_PAUSE
        elif r == LONG and not self._others_down(self.pause):
            result = EV_RESUME
        elif r == STUCK:
            result = EV_STUCK
        r = self.ir.poll(now_ms)
        if r == SHORT:
            result = EV_IR_INTERRUPT  # stopping wins over anything polled above
        elif r == LONG:
            result = EV_IR_DISCONTINUE
        elif r == STUCK and result == EV_NONE:
            result = EV_STUCK
        r = self.ok.poll(now_ms)
        if result == EV_NONE:
            if r == LONG and not self._others_down(self.ok):
                result = EV_IR_RESOLVED
            elif r == SHORT:
                result = EV_ACK
            elif r == STUCK:
                result = EV_STUCK
        return result

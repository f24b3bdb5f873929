# Operator buttons: IRQ handlers count and latch edges; tick() debounces and gives meaning.
# Map (docs/buttons.md): PAUSE short = pause, PAUSE long = resume; IR short = grade-2 interrupt,
# IR long = grade >= 3 discontinue; OK long = "IR resolved". Anything that can move the motor
# (resume, IR resolved) needs a deliberate long press on a button that was seen released first,
# with no other button down; a button held past stuck_ms is reported and then ignored.
# While the motor runs, a PAUSE or IR press acts on its way down, once debounced: the panel
# freezes the motor itself (stopper.freeze(), from the sampling timer on a board) and the app
# pauses or interrupts at its next tick; that press's release then cannot resume.
# On a board the sampling timer runs only while a button is down or unsettled: a pin edge
# starts it (ButtonPanel.edge), and it stops itself once every button is released and settled.
from pumpfw.compat import const
from pumpfw.ticks import ticks_diff

SHORT = const(1)  # Button.poll() results
LONG = const(2)
STUCK = const(3)
DOWN = const(4)  # a press became certain (debounced), before its length is known

EV_NONE = const(0)  # ButtonPanel.poll() / take() results
EV_PAUSE = const(1)
EV_RESUME = const(2)
EV_IR_INTERRUPT = const(3)  # grade 2
EV_IR_DISCONTINUE = const(4)  # grade >= 3
EV_IR_RESOLVED = const(5)
EV_ACK = const(6)  # OK short: acknowledge an alarm (never moves the motor)
EV_STUCK = const(7)
EVENT_NAMES = ("", "pause", "resume", "ir_interrupt", "ir_discontinue", "ir_resolved", "ack",
               "stuck")
_RING = const(8)  # events waiting for the main loop


class Button:
    """One debounced button. Tunables are class attributes (override per board)."""

    debounce_ms = 25  # level must hold this long with no edge at all
    long_ms = 1500  # a press at least this long is LONG (decided on release)
    stuck_ms = 8000  # held this long: STUCK, reported once; its release does nothing

    def __init__(self, pin, active_low=True, now_ms=0):
        self.pin = pin
        self.active_low = active_low
        self.edges = 0  # bumped by the IRQ handler only
        self.edge_ms = 0  # when the last edge came (the IRQ's clock, once clocked())
        self._ticks_ms = None
        self._irq = None  # the pin's irq object, whose flags() say which edges were latched
        self._both = 0
        self.sample_ms = 0  # the sampler's period: a hold is judged to within it
        self.acted = False  # this press already acted on its way down (ButtonPanel)
        self._seen = 0
        raw = self._raw()
        self.pressed = raw  # the debounced level
        self._cand = raw
        self._cand_ms = now_ms
        self._press_ms = now_ms
        self._armed = not raw  # pressed at start-up: ignored until seen released
        self._stuck = False

    def clocked(self, ticks_ms, sample_ms, irq=None, both_flags=0):
        """On a board: the IRQ stamps each edge with ticks_ms(), poll() runs every sample_ms
        on that clock, and irq.flags() (both_flags: falling | rising) shows a press that began
        and ended while interrupts were off (a flash operation)."""
        self._ticks_ms = ticks_ms
        self.sample_ms = sample_ms
        self._irq = irq
        self._both = both_flags

    def irq(self, pin):
        # Hard-IRQ safe: small-int arithmetic and calls that allocate nothing.
        self.edges += 1
        if self._ticks_ms is not None:
            self.edge_ms = self._ticks_ms()

    def tapped(self):
        """Both edges latched and the button up again: pressed and released before the pin's
        IRQ could run (hard-IRQ safe). While interrupts are on that is a glitch of a few us;
        while a flash operation holds them off it can be a whole press (ButtonPanel.edge)."""
        irq = self._irq
        return (irq is not None and (irq.flags() & self._both) == self._both
                and not self._raw())

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
        """DOWN once a press is certain, then SHORT / LONG / STUCK once for it, else 0. Call
        every few ms while busy()."""
        raw = self._raw()
        edges = self.edges
        if edges != self._seen or raw != self._cand:
            clocked = self._ticks_ms is not None and edges != self._seen
            self._cand_ms = self.edge_ms if clocked else now_ms
            self._seen = edges
            self._cand = raw
            return 0
        if raw != self.pressed and (
                ticks_diff(now_ms, self._cand_ms) >= self.debounce_ms - self.sample_ms):
            self.pressed = raw
            if raw:
                self._press_ms = self._cand_ms
                self.acted = False
                return DOWN if self._armed else 0
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
    """The three buttons and their meaning. tick(now_ms) samples them (from a timer on a
    board, else from the main loop); take() gives the main loop one EV_* code (or EV_NONE).

    motion: set by the app while the motor may step. Then a PAUSE or IR press stops it as soon
    as it is certain: stopper.freeze() (allocates nothing) and `stops` is bumped.

    On a board (hw/mcu.py): edge(button) is the pins' hard IRQ and sample(now_ms) the sampling
    timer's; start_sampler() / stop_sampler() start and stop that timer. flash_busy is set by
    the journal while it writes the flash (flash_write), which holds interrupts off: a press
    made and released meanwhile is found by edge() (Button.tapped) and counts as a short one."""

    def __init__(self, pause, ir, ok):
        self.pause = pause
        self.ir = ir
        self.ok = ok
        self.motion = False
        self.stopper = None
        self.stops = 0  # presses that froze the motor (the app pauses, then thaws it)
        self.sampled = False  # True once a board's timer calls tick(): the loop only take()s
        self._ring = [0] * _RING
        self._w = 0
        self._r = 0
        self.flash_busy = False  # the journal is writing the flash: interrupts come and go
        self.sampling = False  # the board's sampling timer runs
        self.start_sampler = None  # () -> None: start the board's periodic sampling timer
        self.stop_sampler = None  # () -> None: stop it (called from its own callback)

    def pending(self):
        return self._w != self._r

    def busy(self):
        """An event waits, or (sampled by the loop) a button needs frequent polls."""
        if self._w != self._r:
            return True
        if self.sampled:
            return False
        return self.pause.busy() or self.ir.busy() or self.ok.busy()

    def take(self):
        if self._r == self._w:
            return EV_NONE
        ev = self._ring[self._r % _RING]
        self._r += 1
        return ev

    def poll(self, now_ms):
        """tick() and take() in one: the main loop's way when no timer samples the buttons."""
        self.tick(now_ms)
        return self.take()

    def _others_down(self, button):
        # Hard-IRQ code: no tuple to loop over (building one allocates, and a hard IRQ may
        # not: MemoryError, the press lost).
        n = 0
        if self.pause is not button and self.pause.down():
            n += 1
        if self.ir is not button and self.ir.down():
            n += 1
        if self.ok is not button and self.ok.down():
            n += 1
        return n

    def quiet(self):
        """Every button up and settled, every edge seen: nothing for the sampler to do."""
        return not (self.pause.busy() or self.ir.busy() or self.ok.busy())

    def flash_write(self, busy):
        """The journal brackets each flash write with this (True before, False after)."""
        self.flash_busy = busy

    def edge(self, button):
        """A pin's hard IRQ on a board (both edges; allocates nothing): stamp the edge, act on
        a press made wholly while a flash write held interrupts off, start the sampler."""
        button.irq(None)
        if self.flash_busy and button._armed and not button.pressed and button.tapped():
            # Its length is unknown, so it is a short press: one that can only stop the motor,
            # at once, here (the sampler sees the two edges settle back to up: no event).
            if button is self.pause:
                self._emit(EV_PAUSE)
            elif button is self.ir:
                self._emit(EV_IR_INTERRUPT)
            else:
                self._emit(EV_ACK)
        if not self.sampling and self.start_sampler is not None:
            self.sampling = True
            self.start_sampler()

    def sample(self, now_ms):
        """The board's sampling timer (hard IRQ): tick(), then stop once all is quiet; the
        next edge() starts it again."""
        self.tick(now_ms)
        if self.quiet() and self.stop_sampler is not None:
            self.sampling = False
            self.stop_sampler()
            if not self.quiet():  # an edge came meanwhile (on a port where its IRQ preempts)
                self.sampling = True
                self.start_sampler()

    def tick(self, now_ms):
        """Sample the buttons (hard-IRQ safe: allocates nothing)."""
        result = EV_NONE
        r = self.pause.poll(now_ms)
        if r == DOWN:
            if self.motion:
                self.pause.acted = True  # paused on the way down: the release does nothing
                result = EV_PAUSE
        elif self.pause.acted and (r == SHORT or r == LONG):
            pass
        elif r == SHORT:
            result = EV_PAUSE
        elif r == LONG and not self._others_down(self.pause):
            result = EV_RESUME
        elif r == STUCK:
            result = EV_STUCK
        r = self.ir.poll(now_ms)
        if r == DOWN:
            if self.motion:
                self.ir.acted = True  # interrupted on the way down; long still discontinues
                result = EV_IR_INTERRUPT  # stopping wins over anything polled above
        elif r == SHORT and not self.ir.acted:
            result = EV_IR_INTERRUPT
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
        if result != EV_NONE:
            self._emit(result)

    def _emit(self, ev):
        if self.motion and (ev == EV_PAUSE or ev == EV_IR_INTERRUPT or ev == EV_IR_DISCONTINUE):
            self.motion = False
            if self.stopper is not None:
                self.stopper.freeze()  # the motor stops now, not at the loop's next wake
            self.stops += 1
        if self._w - self._r < _RING:
            self._ring[self._w % _RING] = ev
            self._w += 1

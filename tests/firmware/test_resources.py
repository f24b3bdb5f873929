# Resource discipline on real MicroPython: 0 bytes per steady-state service() and per button IRQ.
# gc.mem_alloc() only means something on MicroPython; on CPython these tests check nothing more
# than that the loops run.
import gc
import sys

from fwtest import Irq, Sampler

from pumpfw import buttons as bt
from pumpfw.drive import Drive
from pumpfw.hw.stepper_sim import FakePin, SimStepper
from pumpfw.ticks import TICKS_PERIOD, ticks_add

MICROPYTHON = sys.implementation.name == "micropython"
CALLS = 10_000


def _allocated(fn, n):
    gc.collect()
    before = gc.mem_alloc() if MICROPYTHON else 0
    fn(n)
    after = gc.mem_alloc() if MICROPYTHON else 0
    return after - before


class WrappedClock:
    """ticks_us as the board has it: always wrapped, so the test itself makes no big ints."""

    def __init__(self, start_us):
        self.now = start_us

    def __call__(self):
        return self.now

    def advance(self, us):
        self.now = ticks_add(self.now, us)


def make(target_steps):
    clock = WrappedClock(TICKS_PERIOD - 2_000_000)  # crosses the wrap during the measurement
    stepper = SimStepper(clock, 20, record=False)
    return Drive(stepper, 16_000, target_steps, 5_000), clock


def test_steady_state_service_allocates_nothing():
    drive, clock = make(10**7)
    drive.set_rate(400_000, clock())  # the fastest rate: the most segments per call
    for _ in range(50):  # warm up: the start and first pushes may allocate
        drive.service(clock())
        clock.advance(1000)

    def loop(n):
        for _ in range(n):
            drive.service(clock())
            clock.advance(1000)

    used = _allocated(loop, CALLS)
    made = drive.steps_made()
    assert made > CALLS  # 10 s at 1778 steps/s: really stepping
    print("service(): %d bytes over %d calls" % (used, CALLS))
    assert used == 0, used


def test_button_irq_and_poll_allocate_nothing():
    pins = [FakePin(1), FakePin(1), FakePin(1)]
    panel = bt.ButtonPanel(*[bt.Button(p, True, 0) for p in pins])
    button = panel.pause

    def loop(n):
        for i in range(n):
            button.irq(pins[0])
            panel.poll(i)

    used = _allocated(loop, CALLS)
    print("irq + poll: %d bytes over %d calls" % (used, CALLS))
    assert button.edges == CALLS
    assert used == 0, used


class _Stopper:
    def __init__(self):
        self.frozen = 0

    def freeze(self):
        self.frozen += 1


try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython: nothing to lock (the events are still checked)
    heap_lock = heap_unlock = lambda: None


def _as_hard_irq(fn, arg):
    """fn(arg) as a hard IRQ runs it: on MicroPython with the heap locked, so any allocation
    raises MemoryError there, as it does in the board's button timer and pin IRQs."""
    heap_lock()
    try:
        fn(arg)
    finally:
        heap_unlock()


def _board_panel(motion):
    """A panel wired as hw/mcu.py wires it (sampled by a timer the panel starts and stops)."""
    pins = {"pause": FakePin(1), "ir": FakePin(1), "ok": FakePin(1)}
    panel = bt.ButtonPanel(*[bt.Button(pins[n], True, 0) for n in ("pause", "ir", "ok")])
    panel.stopper = _Stopper()
    panel.sampled = True
    panel.motion = motion
    return panel, pins, Sampler(panel)


def test_every_press_the_button_irqs_decode_allocates_nothing():
    # On a board the pins' hard IRQ runs ButtonPanel.edge() and the 2 ms hard timer
    # ButtonPanel.sample(): a press they decode must not allocate (on the emulated Pico a long
    # PAUSE press raised MemoryError there: no resume, no event).
    cases = (  # (button, held ms, motion, what the panel says)
        ("pause", 100, True, bt.EV_PAUSE),
        ("pause", 100, False, bt.EV_PAUSE),
        ("pause", 2500, False, bt.EV_RESUME),
        ("ir", 100, True, bt.EV_IR_INTERRUPT),
        ("ir", 2500, False, bt.EV_IR_DISCONTINUE),
        ("ok", 100, False, bt.EV_ACK),
        ("ok", 2500, False, bt.EV_IR_RESOLVED),
        ("ok", 9000, False, bt.EV_STUCK),
    )
    for name, held_ms, motion, want in cases:
        panel, pins, timer = _board_panel(motion)
        button = getattr(panel, name)
        pin = pins[name]

        t = 0
        for level, ms in ((0, held_ms), (1, 200)):  # pressed, then released
            pin.value(level)
            _as_hard_irq(panel.edge, button)
            for _ in range(ms // 2):
                if timer.on:
                    _as_hard_irq(panel.sample, t)
                t += 2
        assert not timer.on, (name, held_ms)  # quiet again: the timer stopped itself
        got = []
        ev = panel.take()
        while ev != bt.EV_NONE:
            got.append(ev)
            ev = panel.take()
        assert want in got, (name, held_ms, motion, got)


def test_a_press_inside_a_flash_write_is_acted_on_by_the_pin_irq_allocating_nothing():
    panel, _, _ = _board_panel(True)
    irq = Irq()
    panel.pause.clocked(lambda: 0, 2, irq, 12)
    irq.latched = 12  # pressed and released while the write held interrupts off
    panel.flash_write(True)
    _as_hard_irq(panel.edge, panel.pause)
    panel.flash_write(False)
    assert panel.stopper.frozen == 1 and panel.take() == bt.EV_PAUSE


def test_heap_of_the_drive_after_start_up():
    if not MICROPYTHON:
        return
    gc.collect()
    before = gc.mem_alloc()
    drive, clock = make(250 * 16_000)
    drive.set_rate(12_500, clock())
    drive.service(clock())
    gc.collect()
    used = gc.mem_alloc() - before
    print("drive objects: %d bytes" % used)
    assert used < 4096, used

# A PAUSE or IR press while running stops the motor within the debounce window plus one step
# interval, from the buttons' sampler itself (a timer on a board), whatever the loop is doing:
# on the ESP32 driver's fakes and the virtual stepper; a press made while interrupts were off
# (a flash operation) is still seen; the app leaves the controller paused, never `running`.
from fwtest import ButtonPin as Pin
from fwtest import Irq, Sampler
from test_stepper_esp32 import make as make_esp32

from pumpfw import buttons as bt
from pumpfw import controller as ctl
from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, events, run_for, send
from pumpfw.hw.stepper_sim import FakePin, SimStepper

STEP_US = 1125  # 200 mL/h on a 16 000 steps/mL head
SAMPLE_MS = 2
BOUND_US = bt.Button.debounce_ms * 1000 + STEP_US


class Clock:
    def __init__(self, now=1000):
        self.now = now

    def __call__(self):
        return self.now


class Stopper:
    def __init__(self, clock):
        self.clock = clock
        self.frozen_at = []

    def freeze(self):
        self.frozen_at.append(self.clock.now)


def _panel(clock, stopper):
    pins = [FakePin(1), FakePin(1), FakePin(1)]
    panel = bt.ButtonPanel(*[bt.Button(p, True, 0) for p in pins])
    irqs = [Irq(), Irq(), Irq()]
    for button, irq in zip((panel.pause, panel.ir, panel.ok), irqs):
        button.clocked(lambda: clock.now // 1000, SAMPLE_MS, irq, 12)
    panel.stopper = stopper
    panel.motion = True
    panel.sampled = True
    return panel, pins, irqs


def _press_while_stepping(drv, clock, index, feed):
    """Steps every STEP_US; a press at a step's middle; the sampler every SAMPLE_MS. Returns
    (press time, the panel)."""
    panel, pins, _ = _panel(clock, drv)
    drv.enable()
    drv.start(clock.now)
    for _ in range(8):
        feed()
    for _ in range(20):
        clock.now += SAMPLE_MS * 1000
        feed()
        panel.tick(clock.now // 1000)
    press_us = clock.now + STEP_US // 2
    clock.now = press_us
    pins[index].value(0)
    (panel.pause, panel.ir, panel.ok)[index].irq(pins[index])
    for _ in range(40):  # 80 ms: the loop goes on feeding; only the sampler stops the motor
        clock.now += SAMPLE_MS * 1000
        feed()
        panel.tick(clock.now // 1000)
    return press_us, panel


def test_an_esp32_press_stops_the_rmt_within_the_debounce_and_one_step():
    for index, ev in ((0, bt.EV_PAUSE), (1, bt.EV_IR_INTERRUPT)):
        drv, rmt, clock, _ = make_esp32()

        def feed():
            while drv.room():
                drv.push(STEP_US, 8)

        press_us, panel = _press_while_stepping(drv, clock, index, feed)
        assert rmt.aborted_at is not None and rmt.aborted_at - press_us <= BOUND_US
        made = [e for e in rmt.edges if e <= rmt.aborted_at]
        assert made[-1] - press_us <= BOUND_US and drv.steps() == len(made) > 40
        assert drv.frozen and not drv.idle()  # frozen is no underrun: nothing restarts it
        drv.start(clock.now)
        feed()
        assert drv.steps() == len(made) and rmt.aborted_at is not None
        assert panel.take() == ev and panel.take() == bt.EV_NONE and panel.stops == 1


def test_a_virtual_stepper_press_stops_within_the_bound_and_stays_stopped():
    for index in (0, 1):
        clock = Clock()
        drv = SimStepper(clock, 2)

        def feed():
            while drv.room():
                drv.push(STEP_US, 8)

        press_us, panel = _press_while_stepping(drv, clock, index, feed)
        last = drv.times_us[-1]
        assert last - press_us <= BOUND_US and panel.stops == 1
        clock.now += 100_000
        assert drv.times_us[-1] == last and drv.steps() == len(drv.times_us)


def test_a_press_wholly_inside_a_flash_write_stops_the_motor_from_the_pin_irq():
    clock = Clock(0)
    stopper = Stopper(clock)
    frozen = stopper.frozen_at
    panel, pins, irqs = _panel(clock, stopper)
    irqs[0].latched = 12  # a falling and a rising edge, both latched: over when the IRQ ran
    panel.edge(panel.pause)  # interrupts on: a glitch of a few us, not a press
    for _ in range(20):
        clock.now += 2000
        panel.sample(clock.now // 1000)
    assert panel.take() == bt.EV_NONE and not frozen and panel.stops == 0
    panel.flash_write(True)
    clock.now += 400_000  # a 400 ms erase held interrupts off; the IRQ runs as it ends
    panel.edge(panel.pause)
    assert frozen == [clock.now] and panel.take() == bt.EV_PAUSE  # at once, not at a sample
    panel.flash_write(False)
    for _ in range(50):
        clock.now += 2000
        panel.sample(clock.now // 1000)
    assert panel.take() == bt.EV_NONE and panel.stops == 1  # its edges settle: no second event
    panel.motion = True  # the app resumed meanwhile; an IR press inside the next write
    panel.flash_write(True)
    irqs[1].latched = 12
    panel.edge(panel.ir)
    panel.flash_write(False)
    assert panel.take() == bt.EV_IR_INTERRUPT and panel.stops == 2


def _hold_and_sample(panel, sampler, pin, button, clock, hold_ms):
    """A clean press of hold_ms and its release, sampled every 2 ms while the sampler runs;
    returns how many samples it took."""
    pin.value(0)
    panel.edge(button)
    samples = 0
    release_us = clock.now + hold_ms * 1000
    while sampler.on:
        clock.now += SAMPLE_MS * 1000
        if clock.now >= release_us and pin.value() == 0:
            pin.value(1)
            panel.edge(button)  # the sampler runs already: not started twice
        panel.sample(clock.now // 1000)
        samples += 1
        assert samples < 10_000, "the sampler never stopped"
    return samples


def test_the_sampler_runs_only_while_a_button_is_down_or_settling():
    clock = Clock(0)
    panel, pins, _ = _panel(clock, Stopper(clock))
    sampler = Sampler(panel)
    panel.motion = False
    for hold_ms, want in ((100, bt.EV_PAUSE), (2500, bt.EV_RESUME)):
        samples = _hold_and_sample(panel, sampler, pins[0], panel.pause, clock, hold_ms)
        # held, then the release's debounce: about (hold + 25 ms) / 2 ms, never more
        assert samples <= (hold_ms + bt.Button.debounce_ms) // SAMPLE_MS + 2, samples
        assert [panel.take(), panel.take()] == [want, bt.EV_NONE]
    assert sampler.runs == 2 and not sampler.on
    clock.now += 60_000_000  # a quiet minute: nothing samples
    assert sampler.runs == 2 and not sampler.on


def _running_app():
    hw = FakeHw()
    pins = {"pause": Pin(), "ir": Pin(), "ok": Pin()}
    hw.buttons = pins
    app = App(hw)
    send(hw, "start", 3)
    run_for(app, hw, 2000)
    assert app.controller.state == ctl.RUNNING
    return app, hw, pins


def _hold(app, hw, pin, ms):
    pin.set(0)
    run_for(app, hw, ms, max_step_ms=5)


def test_a_long_pause_press_while_running_pauses_once_and_never_resumes():
    app, hw, pins = _running_app()
    _hold(app, hw, pins["pause"], 100)
    assert app.controller.state == ctl.PAUSED  # before the release: the motor is still
    steps = hw.stepper.steps()
    run_for(app, hw, 2000, max_step_ms=5)
    pins["pause"].set(1)
    run_for(app, hw, 500, max_step_ms=5)
    assert app.controller.state == ctl.PAUSED and hw.stepper.steps() == steps
    assert [e.fields["press"] for e in events(hw, "button")] == ["pause"]
    assert not hw.stepper.frozen  # thawed: a deliberate long press resumes it later
    _hold(app, hw, pins["pause"], 2000)
    pins["pause"].set(1)
    run_for(app, hw, 500, max_step_ms=5)
    assert app.controller.state == ctl.RUNNING and hw.stepper.steps() > steps


def test_a_long_ir_press_interrupts_on_the_way_down_and_discontinues_on_release():
    app, hw, pins = _running_app()
    _hold(app, hw, pins["ir"], 100)
    assert app.controller.state == ctl.INTERRUPTED
    run_for(app, hw, 2000, max_step_ms=5)
    pins["ir"].set(1)
    run_for(app, hw, 500, max_step_ms=5)
    assert app.controller.state == ctl.DISCONTINUED
    presses = [e.fields["press"] for e in events(hw, "button")]
    assert presses == ["ir_interrupt", "ir_discontinue"]


def test_an_edge_that_comes_while_the_sampler_stops_itself_starts_it_again():
    # On a port whose pin IRQ can preempt the timer's, an edge may come between the sampler's
    # decision to stop and the timer's deinit: the edge's start is then undone by that deinit.
    clock = Clock(0)
    panel, pins, _ = _panel(clock, Stopper(clock))
    sampler = Sampler(panel)
    real_stop = sampler.stop

    def restart():  # timer.init() on an armed timer re-arms it (the race below does that)
        sampler.on = True
        sampler.runs += 1

    panel.start_sampler = restart

    def stop_with_an_edge_just_before():
        panel.stop_sampler = real_stop  # once
        pins[0].value(0)
        panel.edge(panel.pause)  # sampling was just cleared: this edge starts the timer...
        real_stop()  # ...and the deinit already on its way stops it again

    panel.stop_sampler = stop_with_an_edge_just_before
    panel.sampling = True
    sampler.on = True
    panel.sample(0)  # quiet: it stops, and the edge came in the middle of that
    assert sampler.on and panel.sampling  # started again: the press will be sampled
    while sampler.on:
        clock.now += SAMPLE_MS * 1000
        if clock.now >= 100_000 and pins[0].value() == 0:
            pins[0].value(1)  # released after 100 ms
            panel.edge(panel.pause)
        panel.sample(clock.now // 1000)
        assert clock.now < 10_000_000, "the sampler never stopped"
    assert panel.take() == bt.EV_PAUSE

# Virtual stepper: step times on the injected clock, queue limits, stalls, stop/halt accounting.
from drivetest import Clock, unwrap

from pumpfw.hw.stepper_sim import MAX_COUNT, FakePin, SimStepper


def make(**kw):
    clock = Clock()
    return SimStepper(clock, 50, **kw), clock


def test_records_each_step_at_its_interval_across_the_wrap():
    stepper, clock = make()
    t0 = clock.now
    stepper.start(clock())
    stepper.push(1_000_000, 2)
    stepper.push(700_000, 3)
    clock.now += 10_000_000
    assert stepper.steps() == 5
    assert unwrap(stepper.times_us, t0) == [t0 + d for d in
                                            (1_000_000, 2_000_000, 2_700_000, 3_400_000,
                                             4_100_000)]


def test_queue_is_bounded_and_counts_are_checked():
    stepper, clock = make(queue_len=3)
    stepper.start(clock())
    assert stepper.push(100, 1) and stepper.push(100, 1) and stepper.push(100, 1)
    assert not stepper.push(100, 1) and stepper.room() == 0
    stepper.stop()
    for bad in (0, MAX_COUNT + 1):
        try:
            stepper.push(100, bad)
        except ValueError:
            continue
        raise AssertionError("count %d accepted" % bad)


def test_empty_queue_stalls_the_timeline_like_pio():
    stepper, clock = make()
    t0 = clock.now
    stepper.start(clock())
    stepper.push(100, 1)
    clock.now += 5000  # nothing queued after the first step
    stepper.push(100, 1)
    clock.now += 200
    assert stepper.steps() == 2
    assert unwrap(stepper.times_us, t0) == [t0 + 100, t0 + 5100]


def test_stop_is_exact_and_drops_the_queue():
    stepper, clock = make()
    stepper.start(clock())
    stepper.push(1000, 10)
    clock.now += 3500
    stepper.stop()
    clock.now += 100_000
    assert stepper.steps() == 3 and stepper.idle()


def test_enable_polarity_and_halt():
    pin = FakePin(0)
    stepper = SimStepper(Clock(), 50, enable_pin=pin, enable_active_low=False)
    assert pin.value() == 0  # built disabled (active-high: low = off)
    stepper.enable()
    assert pin.value() == 1 and stepper.enabled()
    stepper.halt()
    assert pin.value() == 0 and not stepper.stepping

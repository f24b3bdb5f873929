# Buttons: recorded switch bounce gives one event; misreads and stuck buttons never start the pump.
from pumpfw import buttons as bt
from pumpfw.hw.stepper_sim import FakePin

# Recorded chatter (us after the first edge, level on an active-low input): a tactile switch
# closing (~4 ms of bounce) and opening (~6 ms), and a worn one with 9 ms of chatter.
PRESS = ((0, 0), (180, 1), (420, 0), (1100, 1), (1350, 0), (2900, 1), (3050, 0), (4100, 1),
         (4200, 0))
RELEASE = ((0, 1), (90, 0), (700, 1), (1500, 0), (1800, 1), (3300, 0), (3400, 1), (5900, 0),
           (6000, 1))
WORN = ((0, 0), (300, 1), (800, 0), (2100, 1), (2600, 0), (4000, 1), (4500, 0), (6100, 1),
        (6300, 0), (8700, 1), (8800, 0))


class Rig:
    """Buttons on fake pins; time in us; IRQs fire on every edge; poll() every 1 ms."""

    def __init__(self, levels=(1, 1, 1)):
        self.pins = [FakePin(level) for level in levels]
        self.buttons = [bt.Button(p, True, 0) for p in self.pins]
        self.panel = bt.ButtonPanel(*self.buttons)
        self.now_us = 0
        self.events = []

    def wait(self, ms):
        for _ in range(ms):
            self.now_us += 1000
            ev = self.panel.poll(self.now_us // 1000)
            if ev:
                self.events.append(bt.EVENT_NAMES[ev])

    def play(self, index, pattern):
        """Apply edges at their times (us), polling each whole ms in between."""
        start = self.now_us
        for t_us, level in pattern:
            while self.now_us + 1000 <= start + t_us:
                self.wait(1)
            if self.pins[index].level != level:
                self.pins[index].value(level)
                self.buttons[index].irq(self.pins[index])

    def press(self, index, held_ms, pattern_in=PRESS, pattern_out=RELEASE):
        self.play(index, pattern_in)
        self.wait(held_ms)
        self.play(index, pattern_out)
        self.wait(60)


def test_bouncy_short_press_gives_exactly_one_pause():
    rig = Rig()
    rig.press(0, 200)
    assert rig.events == ["pause"]


def test_worn_switch_chatter_still_gives_one_event():
    rig = Rig()
    rig.press(1, 150, WORN, RELEASE)
    assert rig.events == ["ir_interrupt"]


def test_long_press_resumes_and_long_ir_discontinues():
    rig = Rig()
    rig.press(0, 1600)
    rig.press(1, 1700)
    rig.press(2, 1600)
    assert rig.events == ["resume", "ir_discontinue", "ir_resolved"]


def test_ok_short_is_only_an_ack():
    rig = Rig()
    rig.press(2, 100)
    assert rig.events == ["ack"]


def test_chatter_alone_shorter_than_debounce_gives_nothing():
    rig = Rig()
    rig.play(0, ((0, 0), (200, 1), (5000, 0), (5300, 1)))  # two glitches, never held
    rig.wait(100)
    assert rig.events == []


def test_noise_bursts_during_a_long_hold_never_make_a_resume():
    # EMI-like glitches split the hold: each piece is short, so no long press is ever seen.
    rig = Rig()
    for _ in range(6):
        rig.play(0, PRESS)
        rig.wait(300)
        rig.play(0, RELEASE)
        rig.wait(40)
    assert "resume" not in rig.events and rig.events == ["pause"] * 6


def test_stuck_button_is_reported_once_and_its_release_does_nothing():
    rig = Rig()
    rig.play(0, PRESS)
    rig.wait(20_000)  # held 20 s: stuck
    assert rig.events == ["stuck"]
    rig.play(0, RELEASE)
    rig.wait(100)
    assert rig.events == ["stuck"]  # no resume, no pause


def test_button_held_at_power_up_is_ignored_until_released():
    rig = Rig(levels=(0, 0, 0))  # all three read pressed at start-up
    rig.wait(3000)
    for i in range(3):
        rig.play(i, RELEASE)
    rig.wait(100)
    assert rig.events == []
    rig.press(2, 1600)  # once seen released, a real long press works
    assert rig.events == ["ir_resolved"]


def test_long_press_with_another_button_down_does_not_resume():
    rig = Rig()
    rig.play(1, PRESS)  # IR held (for a short while)
    rig.press(0, 1600)  # PAUSE long while IR is down
    assert "resume" not in rig.events


def test_irq_handler_only_counts():
    pin = FakePin(1)
    b = bt.Button(pin, True, 0)
    for _ in range(7):
        b.irq(pin)
    assert b.edges == 7 and not b.pressed and pin.writes == 0

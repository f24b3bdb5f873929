# LED/buzzer patterns: state heartbeats, alarm beeps, a latched discontinue (both lanes).
from pumpfw import controller as ctl
from pumpfw.annunciator import LED_PATTERNS, Annunciator


class Pin:
    def __init__(self):
        self.level = 0
        self.changes = []

    def value(self, level=None):
        if level is None:
            return self.level
        self.level = level
        self.changes.append(level)


def trace(ann, pin, state, start_ms=0, alarm_at=None):
    """Levels of pin over one 2 s cycle, sampled every 125 ms slot."""
    out = []
    for slot in range(16):
        t = start_ms + slot * 125
        if alarm_at == t:
            ann.alarm(t)
        ann.update(t, state)
        out.append(pin.level)
    return out


def test_each_state_has_its_own_led_pattern():
    seen = set()
    for state in range(len(ctl.STATE_NAMES)):
        led = Pin()
        levels = trace(Annunciator(led, None), led, state)
        bits = sum(level << i for i, level in enumerate(levels))
        assert bits == LED_PATTERNS[state]
        seen.add(bits)
    assert len(seen) >= 5  # running, paused, interrupted, idle and the steady ends differ


def test_an_alarm_beeps_for_one_cycle_then_stops():
    buzzer = Pin()
    ann = Annunciator(None, buzzer)
    first = trace(ann, buzzer, ctl.RUNNING, 0, alarm_at=0)
    second = trace(ann, buzzer, ctl.RUNNING, 2000)
    assert sum(first) == 8 and sum(second) == 0


def test_discontinued_keeps_beeping_and_writes_only_on_change():
    buzzer = Pin()
    ann = Annunciator(None, buzzer)
    for cycle in range(3):
        assert sum(trace(ann, buzzer, ctl.DISCONTINUED, cycle * 2000)) == 4
    assert len(buzzer.changes) <= 3 * 8 + 1
    ann.off()
    assert buzzer.level == 0

# Alarms on virtual time: reminders repeat, end-of-infusion alarms fire once (both lanes).
from fwtest import MIN

from pumpfw import alarms as al
from pumpfw import controller as ctl
from pumpfw.schedule import ISATUXIMAB_250 as REG


class Sink:
    def __init__(self):
        self.raised = []

    def __call__(self, code, now_ms, detail):
        self.raised.append((now_ms, al.ALARM_NAMES[code], detail))


def setup(infusion=1):
    sink = Sink()
    return ctl.Controller(REG, 400_000), al.Alarms(sink), sink


def drive(c, a, until_ms, step_ms, delivered):
    t = c.last_ms
    while t < until_ms:
        t += step_ms
        c.tick(t, delivered(t))
        a.poll(t, c)


def test_paused_reminder_fires_at_2_min_and_repeats():
    c, a, sink = setup()
    c.start(0, 1)
    a.poll(0, c)
    c.pause(10 * MIN)
    drive(c, a, 17 * MIN, 1000, lambda t: 0)
    assert sink.raised == [
        (12 * MIN, "paused_long", 120),
        (14 * MIN, "paused_long", 240),
        (16 * MIN, "paused_long", 360),
    ]
    c.resume(17 * MIN)
    drive(c, a, 30 * MIN, 1000, lambda t: 0)
    assert len(sink.raised) == 3


def test_ir_waiting_reminder_repeats_until_resolved():
    c, a, sink = setup()
    c.start(0, 2)
    c.ir(MIN, 2)
    drive(c, a, 7 * MIN, 500, lambda t: 0)
    assert [r[:2] for r in sink.raised] == [(3 * MIN, "ir_waiting"), (5 * MIN, "ir_waiting"),
                                            (7 * MIN, "ir_waiting")]
    c.ir_resolved(7 * MIN + 1)
    drive(c, a, 20 * MIN, 500, lambda t: 0)
    assert len(sink.raised) == 3


def test_reminder_time_is_configurable():
    c, a, sink = setup()
    a.reminder_ms = 30_000
    c.start(0, 3)
    a.poll(0, c)
    c.pause(1000)
    drive(c, a, 100_000, 1000, lambda t: 0)
    assert [r[0] for r in sink.raised] == [31_000, 61_000, 91_000]


def test_end_of_infusion_alarms_fire_once_each_in_order():
    c, a, sink = setup()
    c.start(0, 3)  # 200 mL/h: 250 mL in 75 min
    drive(c, a, 76 * MIN, 1000, lambda t: min(250_000, t * 200_000 // 3_600_000))
    names = [r[1] for r in sink.raised]
    assert names == ["low_volume", "near_end", "complete"]
    low, near, done = sink.raised
    assert low[0] == (75 * MIN * 225) // 250  # 25 mL left at 200 mL/h: 7.5 min before the end
    assert near[0] == 70 * MIN  # 5 min before the end at 200 mL/h
    assert done[0] == 75 * MIN and done[2] == 250_000


def test_a_new_infusion_rearms_the_once_only_alarms():
    c, a, sink = setup()
    c.start(0, 3)
    drive(c, a, 76 * MIN, 1000, lambda t: min(250_000, t * 200_000 // 3_600_000))
    n = len(sink.raised)
    c.start(80 * MIN, 3)
    drive(c, a, 156 * MIN, 1000,
          lambda t: min(250_000, max(0, t - 80 * MIN) * 200_000 // 3_600_000))
    assert [r[1] for r in sink.raised[n:]] == ["low_volume", "near_end", "complete"]

# Operator alarms, decided from the controller's state on the main loop's clock (none read here).
# poll() is called every tick and allocates nothing; an alarm is reported through emit().
from pumpfw import controller as ctl
from pumpfw.compat import const

PAUSED_LONG = const(1)  # paused longer than the reminder time; repeats
IR_WAITING = const(2)  # interrupted by a grade-2 IR, waiting for "resolved"; repeats
NEAR_END = const(3)  # the infusion ends within near_end_ms at the current rate; once
COMPLETE = const(4)  # the volume is infused; once
FAULT = const(5)  # the drive or the app reported a fault; once per fault
LOW_VOLUME = const(6)  # remaining volume at or below low_volume_ul; once
ALARM_NAMES = ("", "paused_long", "ir_waiting", "near_end", "complete", "fault", "low_volume")

_MS_PER_H = const(3_600_000)


def _ignore(code, now_ms, detail):
    pass


class Alarms:
    """Reminder and end-of-infusion alarms. Tunables are class attributes (override per board)."""

    reminder_ms = 120_000  # paused / waiting-for-resolution reminder, and its repeat period
    near_end_ms = 5 * 60_000
    low_volume_ul = 25_000

    def __init__(self, emit=None):
        self.emit = emit or _ignore
        self.infusion_key = -1
        self.reset()

    def reset(self):
        self._state = -1
        self._since_ms = 0
        self._next_reminder_ms = -1
        self._near_end_done = False
        self._low_done = False
        self._complete_done = False
        self.raised = 0

    def _raise(self, code, now_ms, detail):
        self.raised += 1
        self.emit(code, now_ms, detail)

    def fault(self, now_ms, fault_code):
        self._raise(FAULT, now_ms, fault_code)

    def next_due_ms(self):
        """The next time poll() may raise a reminder by itself, or -1."""
        return self._next_reminder_ms

    def poll(self, now_ms, c):
        key = c.start_ms if c.state != ctl.IDLE else -1
        if key != self.infusion_key:
            self.infusion_key = key
            self.reset()
        if c.state != self._state:
            self._state = c.state
            self._since_ms = c.state_since_ms
            if c.state == ctl.PAUSED or c.state == ctl.INTERRUPTED:
                self._next_reminder_ms = self._since_ms + self.reminder_ms
            else:
                self._next_reminder_ms = -1
            if c.state == ctl.COMPLETE and not self._complete_done:
                self._complete_done = True
                self._raise(COMPLETE, now_ms, c.delivered_ul)
        if 0 <= self._next_reminder_ms <= now_ms:
            code = PAUSED_LONG if c.state == ctl.PAUSED else IR_WAITING
            # detail: how long it has lasted, in whole seconds (stays a small int).
            self._raise(code, now_ms, (now_ms - self._since_ms) // 1000)
            self._next_reminder_ms += self.reminder_ms
        if not c.active():
            return
        remain_ul = c.regimen.volume_ul - c.delivered_ul
        if not self._low_done and remain_ul <= self.low_volume_ul:
            self._low_done = True
            self._raise(LOW_VOLUME, now_ms, remain_ul)
        rate = c.rate_ul_h
        if not self._near_end_done and rate > 0:
            # Volume infused in near_end_ms at this rate, to the second; small ints for rates up
            # to 400 mL/h and near_end_ms up to 40 min.
            near_ul = -(-rate * (self.near_end_ms // 1000) // 3600)
            if remain_ul <= near_ul:
                self._near_end_done = True
                self._raise(NEAR_END, now_ms, remain_ul)

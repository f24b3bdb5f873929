# The journal side of the pump, a component of App: when a record is due, how far ahead of the
# steps made it may vouch (the write-ahead allowance), writing it, and reading it back at boot.
# App decides what goes into a record and applies what comes back. Why: docs/safety.md.
from pumpfw import persist
from pumpfw.journal import JournalError


class WriteAhead:
    """WriteAhead(journal, flash_written=None). flash_written(nbytes): a fake or virtual flash
    spends its write time. The interval comes with each call (App.journal_interval_ms)."""

    def __init__(self, journal, flash_written=None):
        self.journal = journal
        self._flash_written = flash_written
        self.due = False  # a state change: write at the next tick
        self.saved_ms = 0  # when the last record was written (app clock)

    def save_due(self, now, active, interval_ms):
        """Rewritten every 4/5 of the interval (divided first: no big int for a huge interval),
        early (never late) when due within a quarter of that: a loop that sleeps until its next
        wake (the virtual board) then needs no wake of its own for it."""
        every = interval_ms // 5 * 4
        return self.due or (active and self.saved_ms + every - now < every // 4)

    def next_save_ms(self, interval_ms):
        return self.saved_ms + interval_ms // 5 * 4

    @staticmethod
    def allowance_steps(controller, steps_per_ml, interval_ms):
        """Steps the drive may make before the next write: one interval at the fastest rate it
        could reach in that time, rounded up, plus one (0 while nothing runs)."""
        rate = controller.rate_ul_h
        if controller.next_rate_ul_h() > rate:
            rate = controller.next_rate_ul_h()
        if rate == 0:
            return 0
        work = rate * interval_ms * steps_per_ml  # steps * 3.6e9
        return -(-work // 3_600_000_000) + 1

    def save(self, now, controller, made, allow, steps_per_ml, next_infusion, interval_ms):
        """Write a record: the controller's state, the steps made now and the allowance `allow`
        (never more before the next write: the recovery bound). True once the flash holds it."""
        self.due = False
        self.saved_ms = now
        record = {
            "snap": list(persist.snapshot(controller, now)),
            "steps": made,
            "allow": allow,
            "spm": steps_per_ml,
            "next": next_infusion,
            "interval": interval_ms,
        }
        try:
            nbytes = self.journal.save(record)
            if self._flash_written is not None:
                self._flash_written(nbytes)
        except OSError:
            return False
        return True

    def load(self):
        """(record or None, lost): lost is True when the journal was there but corrupt."""
        try:
            return self.journal.load(), False
        except JournalError:
            return None, True

    @staticmethod
    def vouched(record):
        """(snapshot, steps, allow) of a record that holds an infusion's state, else None."""
        snap = tuple(record.get("snap", ()))
        if len(snap) != len(persist.FIELDS):
            return None
        steps = record.get("steps", 0)
        return snap, steps, record.get("allow", steps)

# The pump's journal side, as a base of App (split from app.py for size): the write-ahead
# records, the recovery at boot, and the record of a crash. Why this order: docs/safety.md.
from pumpfw import controller as ctl
from pumpfw import persist
from pumpfw import protocol as P
from pumpfw.journal import JournalError


class WriteAhead:
    """App's journal methods. They use the App's journal, controller, drive, console and
    steps_prior, and its tunable journal_interval_ms."""

    def on_crash(self):
        """The loop's exception path (pumpfw.runner.crashed), the motor already off: journal
        the state as it stands with the motor off (after the reset the infusion comes back
        paused, nothing uncertain), report the fault, and push out what the port takes."""
        now = self.clock.ms
        try:
            self._save(now, motor_off=True)
        finally:
            self.fault(now, P.FAULT_EXCEPTION, 0)
            self.out.drain(self._write, 1024)

    def begin_run(self, now):
        """A start from rest (start, resume, IR resolved), after the command that made it and
        before its answer (the dispatcher calls this), or in step(): the journal record that
        vouches for it is written first (write-ahead), and the run begins 1-2 ms after that
        write ended, on a whole ms: the controller's times, the drive's first step and the held
        `ev rate` / `ev resume` lines (since_ms) all say that instant (docs/drive.md)."""
        if not self._apply_rate(now):
            return
        self._save(now)
        self.clock.read()
        since = self.clock.ms + 2  # a whole ms, >= 1 ms ahead: the first step is planned in time
        c = self.controller
        c.retime(since)
        self.drive.set_rate(c.rate_ul_h, self.clock.ticks_us_at(since))
        self._service(self.clock.last_us)  # the first step is handed to the driver now
        held = self._held
        for i in range(len(held)):
            code, t_ms, a = held[i]
            self.console.event(code, t_ms, a, since)
        del held[:]

    # ---- internals ---------------------------------------------------------------------
    def _allowance_steps(self):
        """Steps the drive may make before the next journal write: one journal interval at the
        fastest rate it could reach in that time, rounded up, plus one."""
        c = self.controller
        rate = c.rate_ul_h
        if c.next_rate_ul_h() > rate:
            rate = c.next_rate_ul_h()
        if rate == 0:
            return 0
        work = rate * self.journal_interval_ms * self.steps_per_ml  # steps * 3.6e9
        return -(-work // 3_600_000_000) + 1

    def _save(self, now, motor_off=False):
        """Journal the state; motor_off: the motor is stopped for good (fault path)."""
        self._journal_due = False
        self._journal_ms = now
        c = self.controller
        made = self.steps_prior + self.drive.steps_made()  # now, not as of the tick
        allow = made if motor_off or not c.active() else made + self._allowance_steps()
        record = {
            "snap": list(persist.snapshot(c, now)),
            "steps": made,  # made when written
            "allow": allow,  # never more than this before the next write: the recovery bound
            "spm": self.steps_per_ml,
            "next": self.next_infusion,
            "interval": self.records.interval_ms,
        }
        try:
            nbytes = self.journal.save(record)
            if self._flash_written is not None:
                self._flash_written(nbytes)  # a fake or virtual flash spends its write time
        except OSError:
            self.fault(now, P.FAULT_JOURNAL, 2)
            return  # the cap stays where the last good record put it
        self.drive.set_cap(allow - self.steps_prior)

    def _load_journal(self):
        """The journal's record (None if none or corrupt); its settings take effect now."""
        try:
            record = self.journal.load()
        except JournalError:
            self.journal_lost = True  # start needs startover; resume has nothing to resume
            return None
        if record is not None:
            self.steps_per_ml = record.get("spm", self.steps_per_ml)
            self.next_infusion = record.get("next", 0)
            self.records.interval_ms = record.get("interval", self.records.interval_ms)
        return record

    def _recover(self, record):
        """Restore the journal's infusion, which comes back paused. True if one did."""
        if self.journal_lost:
            self.fault(0, P.FAULT_JOURNAL, 1)
            return False
        if record is None:
            return False
        snap = tuple(record.get("snap", ()))
        if len(snap) != len(persist.FIELDS):
            return False
        # The journal vouches that no more than `allow` steps were made: count them all, so a
        # cut can only ever under-deliver, by at most allow - steps (reported).
        steps = record.get("steps", 0)
        allow = record.get("allow", steps)
        delivered_ul = allow * 1000 // self.steps_per_ml
        if persist.restore(self.controller, snap, 0, delivered_ul) != ctl.OK:
            return False
        self.steps_prior = allow
        self._made = allow
        self.drive = self._new_drive(allow)
        if self.controller.active():
            uncertain_ul = (allow - steps) * 1000 // self.steps_per_ml
            self.console.event(P.EV_RECOVERY, 0, delivered_ul, uncertain_ul)
        return self.controller.active()

# The main loop: time, serial input and buttons into the controller; its rate into the drive;
# records, events and the journal out. step() is one control tick and never blocks.
from pumpfw import VERSION, linein, persist, selfcheck
from pumpfw import alarms as al
from pumpfw import buttons as bt
from pumpfw import controller as ctl
from pumpfw import protocol as P
from pumpfw.annunciator import Annunciator
from pumpfw.clock import MonoClock
from pumpfw.commands import Dispatcher
from pumpfw.drive import HORIZON_US, Drive
from pumpfw.journal import Journal, JournalError
from pumpfw.logout import LogOut, RecordClock
from pumpfw.schedule import DEFAULT_REGIMEN

# Fault codes sent as `ev fault code=N what=<name>` (protocol.FAULT_NAMES, docs/protocol.md).
FAULT_DRIVE = 1  # the drive clamped, refused or re-planned (detail: 1 clamp, 2 low, 3 underrun)
FAULT_JOURNAL = 2  # the journal could not be read or written (detail: 1 corrupt, 2 write)
FAULT_EXCEPTION = 3  # an exception escaped a tick; the motor was stopped
_DRIVE_FAULTS = ("", "rate_clamped", "rate_low", "underrun")
# Rate changes closer than this bound the drive's planning (ticks_us_at is valid within 2^29 us).
_PLAN_LIMIT_MS = 60_000
_TX_RETRY_MS = 20  # while the host does not read, offer the output again this often


class App:
    """One pump: App(hw) with hw as in docs/board-layer.md. Tunables are class attributes."""

    # The journal vouches for at most this much delivery ahead of what was made (its
    # write-ahead allowance) and is rewritten every 4/5 of it; state changes at once.
    journal_interval_ms = 5_000
    watchdog_ms = 4_000  # armed with the first active infusion; rp2 allows at most ~8.3 s
    premed_min_ms = 15 * 60_000  # start 15-60 min after the premedication (seed, Methods)
    premed_max_ms = 60 * 60_000
    button_start_ms = 10_000  # PAUSE long, then OK long within this: start from the buttons
    rx_bytes = 64  # serial bytes handled per tick

    def __init__(self, hw, regimen=DEFAULT_REGIMEN):
        self.hw = hw
        board = hw.board
        self.board_name = board.NAME
        self.fw_version = VERSION
        cause = hw.reset_cause
        self.reset_cause = P.RESET_CAUSES.index(cause) if cause in P.RESET_CAUSES else 0
        self.clock = MonoClock(hw.ticks_us)
        self.out = LogOut()
        self.records = RecordClock(1000)
        self.lines = linein.LineIn(P.MAX_LINE_BYTES)
        self.rx = bytearray(self.rx_bytes)
        self._write = hw.port.write  # bound once: a bound method per tick would allocate
        self.console = Dispatcher(self, self.out)
        self.controller = ctl.Controller(regimen, board.MAX_RATE_UL_H, self._on_event)
        self.alarms = al.Alarms(self._on_alarm)
        self.annunciator = Annunciator(getattr(hw, "led", None), getattr(hw, "buzzer", None))
        self.steps_per_ml = board.STEPS_PER_ML
        self.steps_prior = 0  # steps made in this infusion before a reboot (from the journal)
        self.next_infusion = 0  # 0: unknown (no infusion completed on this pump yet)
        self.repl_requested = False
        self._seen_changes = -1
        self._journal_due = False
        self._journal_ms = 0
        self._rx_more = False
        self._tx_stuck = False
        self._wdt_on = False
        self.drive = self._new_drive(0)
        self.panel = self._new_panel(hw)
        self.journal = Journal(hw.fs_root)
        self.journal_lost = False
        self.premed_ms = None  # when the premedication was given (app clock; may be < 0)
        self._armed_ms = -1  # a button start was armed at this time
        recovered = self._recover()
        self.problems = selfcheck.check(board, self.steps_per_ml, regimen, hw.stepper,
                                        not self.journal_lost)
        self.console.hello()
        self.console.event(P.EV_REBOOT, 0, self.reset_cause, 1 if recovered else 0)

    # ---- what the dispatcher needs (docs/protocol.md "App side") ------------------------
    @property
    def log_interval_ms(self):
        return self.records.interval_ms

    def set_log_interval_ms(self, interval_ms):
        self.records.set_interval(self.clock.ms, interval_ms)
        self._journal_due = True

    def set_steps_per_ml(self, steps_per_ml):
        if self.controller.active():
            return P.E_STATE
        self.steps_per_ml = steps_per_ml
        self.drive = self._new_drive(0)
        self._journal_due = True
        return P.E_OK

    def steps_made(self):
        return self.steps_prior + self.drive.steps_made()

    def request_repl(self):
        self.repl_requested = True

    def set_premed(self, now_ms, min_ago):
        self.premed_ms = now_ms - min_ago * 60_000
        self.console.event(P.EV_PREMED, now_ms, min_ago, 0)
        return P.E_OK

    def refuse_start(self, now_ms, infusion, override):
        """None if infusion may start now, else (reason code, why in words). An override
        passes the number, premedication and lost-journal checks (logged), never a failed
        self-check."""
        for problem in self.problems:
            if not problem.startswith("journal"):
                return P.E_STATE, "self-check failed: " + problem
        what = 0
        why = ""
        if self.journal_lost:
            what |= P.OVERRIDE_JOURNAL
            why = "the journal was corrupt: confirm with startover"
        if self.next_infusion and infusion != self.next_infusion:
            what |= P.OVERRIDE_NUMBER
            why = "expected infusion %d next: use startover to start %d" % (
                self.next_infusion, infusion)
        if self.premed_ms is not None:
            age = now_ms - self.premed_ms
            if not self.premed_min_ms <= age <= self.premed_max_ms:
                what |= P.OVERRIDE_PREMED
                why = "premedication was %d min ago: start 15-60 min after it, or startover" % (
                    age // 60_000)
        if what and not override:
            return P.E_RANGE, why
        if what:
            self.console.event(P.EV_OVERRIDE, now_ms, infusion, what)
            self.journal_lost = False
        return None

    # ---- the loop ------------------------------------------------------------------------
    def step(self):
        hw = self.hw
        c = self.controller
        now = self.clock.read()
        if c.active() and not self._wdt_on:
            self._wdt_on = True
            hw.wdt_start(self.watchdog_ms)  # from now on only a healthy loop keeps the board up
        n = hw.port.read_into(self.rx)
        self._rx_more = n == len(self.rx)  # a full read: more may be waiting, come back at once
        for i in range(n):
            status = self.lines.feed(self.rx[i])
            if status == linein.INTR and not c.active():
                raise KeyboardInterrupt  # Ctrl-C when idle: leave the loop for the REPL
            if status != linein.NONE:
                self.console.handle(status, self.lines.line(), now)
        if self.panel is not None:
            self._button(self.panel.poll(now), now)
        c.tick(now, self.steps_made() * 1000 // self.steps_per_ml)
        # A new rate reaches the drive before anything else: a stop takes effect at once (the
        # PIO keeps stepping through a flash write), and a faster rate can only step into what
        # the journal already vouches for (the drive's cap is raised by _save, below).
        self._apply_rate()
        # Rewritten every 4/5 of the interval (divided first: no big int for a huge interval).
        # Saved early (never late) when due within a quarter of its period: a loop that sleeps
        # until its next wake (the virtual board) then needs no wake of its own for it.
        save_every_ms = self.journal_interval_ms // 5 * 4
        save_in_ms = self._journal_ms + save_every_ms - now
        if self._journal_due or (c.active() and save_in_ms < save_every_ms // 4):
            self._save(now)
        until_us = -1
        change_ms = c.next_change_ms()
        if 0 <= change_ms - now < _PLAN_LIMIT_MS:
            until_us = self.clock.ticks_us_at(change_ms)
        self.drive.service(self.clock.last_us, until_us, c.next_rate_ul_h())
        if self.drive.fault is not None:
            fault = self.drive.fault
            code = _DRIVE_FAULTS.index(fault) if fault in _DRIVE_FAULTS else 0
            self.drive.fault = None
            self.console.event(P.EV_FAULT, now, FAULT_DRIVE, code)
        self.alarms.poll(now, c)
        self.annunciator.update(now, c.state)
        if self.records.due(now):
            self.console.record(now)
        self._tx_stuck = self.out.drain(self._write) == 0 and self.out.used > 0
        hw.wdt_feed()
        if self.repl_requested and self.out.used == 0:
            raise KeyboardInterrupt

    def next_wake_ms(self):
        """Monotonic ms (as self.clock.ms) when step() next has work; sooner is always safe."""
        now = self.clock.ms
        wake = self.records.next_ms if self.records.next_ms >= 0 else now
        t = self.controller.next_change_ms()
        if 0 <= t < wake:
            wake = t
        t = self.alarms.next_due_ms()
        if 0 <= t < wake:
            wake = t
        save_ms = self._journal_ms + self.journal_interval_ms // 5 * 4
        if self.controller.active() and save_ms < wake:
            wake = save_ms
        if self.drive.running():
            # Refill well before the planned horizon runs out.
            refill = now + self.drive.horizon_us // 2000
            if refill < wake:
                wake = refill
        if self._wdt_on and now + self.watchdog_ms // 2 < wake:
            wake = now + self.watchdog_ms // 2  # a healthy loop never sleeps through its watchdog
        if self._rx_more or self._journal_due or (self.out.used and not self._tx_stuck):
            wake = now
        elif self.out.used and now + _TX_RETRY_MS < wake:
            wake = now + _TX_RETRY_MS  # the host is not reading: retry, never spin
        elif self.panel is not None and self._buttons_busy():
            wake = now + 5  # debounce and long-press timing need frequent polls
        elif self.panel is not None and now + 1000 < wake:
            wake = now + 1000  # a stuck button is noticed within a second
        return wake if wake > now else now

    def shutdown(self):
        """Motor off first, then anything else. Safe to call more than once."""
        self.drive.halt()
        self.annunciator.off()

    # ---- internals -------------------------------------------------------------------------
    def _new_drive(self, steps_done):
        board = self.hw.board
        target = self.controller.regimen.volume_ul * self.steps_per_ml // 1000 - steps_done
        horizon_us = getattr(board, "PLAN_AHEAD_US", HORIZON_US)
        drive = Drive(self.hw.stepper, self.steps_per_ml, target, board.MAX_STEP_HZ, horizon_us,
                      self.hw.ticks_us)
        drive.set_cap(0)  # nothing until the journal vouches for it
        return drive

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

    def _new_panel(self, hw):
        pins = hw.buttons
        if not pins:
            return None
        low = hw.board.BUTTON_ACTIVE_LOW
        now = self.clock.ms
        panel = bt.ButtonPanel(
            bt.Button(pins["pause"], low, now),
            bt.Button(pins["ir"], low, now),
            bt.Button(pins["ok"], low, now),
        )
        for name, button in (("pause", panel.pause), ("ir", panel.ir), ("ok", panel.ok)):
            pins[name].irq(handler=button.irq)  # default trigger: both edges
        return panel

    def _buttons_busy(self):
        for b in (self.panel.pause, self.panel.ir, self.panel.ok):
            if b.down() or b.edges != b._seen or b._cand != b.pressed:
                return True
        return False

    def _button(self, ev, now):
        """A debounced button event drives the same controller inputs as the commands."""
        if ev == bt.EV_NONE:
            return
        c = self.controller
        self.console.event(P.EV_BUTTON, now, ev, 0)
        armed, self._armed_ms = self._armed_ms, -1  # any press but the confirming one disarms
        if ev == bt.EV_PAUSE:
            c.pause(now)
        elif ev == bt.EV_RESUME:
            if c.active():
                c.resume(now)
            else:
                self._armed_ms = now  # start, step 1 of 2: OK long within button_start_ms
        elif ev == bt.EV_IR_INTERRUPT:
            c.ir(now, 2)
        elif ev == bt.EV_IR_DISCONTINUE:
            c.ir(now, 3)
        elif ev == bt.EV_IR_RESOLVED:
            if c.active():
                c.ir_resolved(now)
            elif armed >= 0 and now - armed <= self.button_start_ms and self.next_infusion:
                if self.refuse_start(now, self.next_infusion, False) is None:
                    c.start(now, self.next_infusion)

    def _apply_rate(self):
        c = self.controller
        if c.changes != self._seen_changes:
            self._seen_changes = c.changes
            self.drive.set_rate(c.rate_ul_h, self.clock.ticks_us_at(c.rate_since_ms))

    def _on_event(self, code, now_ms, a, b):
        if self.controller.rate_ul_h == 0:
            self._apply_rate()  # a stop reaches the motor before a line is written about it
        self.console.event(code, now_ms, a, b)
        if code == ctl.EV_START:
            self.drive.halt()
            self.steps_prior = 0
            self.drive = self._new_drive(0)
            self.premed_ms = None  # each infusion needs its own premedication
        elif code == ctl.EV_COMPLETE:
            self.next_infusion = self.controller.infusion + 1
        if code != ctl.EV_RATE:
            self._journal_due = True

    def _on_alarm(self, code, now_ms, detail):
        self.annunciator.alarm(now_ms)
        self.console.event(P.EV_ALARM, now_ms, code, detail)

    def _save(self, now, motor_off=False):
        """Journal the state; motor_off: the motor is stopped for good (fault path)."""
        self._journal_due = False
        self._journal_ms = now
        c = self.controller
        made = self.steps_made()
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
            self.journal.save(record)
        except OSError:
            self.console.event(P.EV_FAULT, now, FAULT_JOURNAL, 2)
            return  # the cap stays where the last good record put it
        self.drive.set_cap(allow - self.steps_prior)

    def _recover(self):
        """Load the journal; an infusion in progress comes back paused. True if one did."""
        try:
            record = self.journal.load()
        except JournalError:
            self.journal_lost = True  # start needs startover; resume has nothing to resume
            self.console.event(P.EV_FAULT, 0, FAULT_JOURNAL, 1)
            return False
        if record is None:
            return False
        self.steps_per_ml = record.get("spm", self.steps_per_ml)
        self.next_infusion = record.get("next", 0)
        self.records.interval_ms = record.get("interval", self.records.interval_ms)
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
        self.drive = self._new_drive(allow)
        if self.controller.active():
            uncertain_ul = (allow - steps) * 1000 // self.steps_per_ml
            self.console.event(P.EV_RECOVERY, 0, delivered_ul, uncertain_ul)
        return self.controller.active()

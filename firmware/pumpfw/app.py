# The main loop: time, serial input and buttons into the controller; its rate into the drive;
# records, events and the journal out. step() is one control tick and never blocks.
from pumpfw import VERSION, linein, persist, selfcheck
from pumpfw import alarms as al
from pumpfw import controller as ctl
from pumpfw import protocol as P
from pumpfw.annunciator import Annunciator
from pumpfw.clock import MonoClock
from pumpfw.commands import Dispatcher
from pumpfw.delivery import DeliveryWatch
from pumpfw.drive import HORIZON_US, Drive
from pumpfw.journal import Journal
from pumpfw.logout import LogOut, RecordClock
from pumpfw.presses import Presses, make_panel
from pumpfw.protocol import (  # noqa: F401 - the fault codes, also importable from here
    FAULT_DRIVE,
    FAULT_EXCEPTION,
    FAULT_JOURNAL,
    FAULT_NO_DELIVERY,
)
from pumpfw.schedule import DEFAULT_REGIMEN
from pumpfw.startrules import StartRules
from pumpfw.ticks import ticks_diff
from pumpfw.writeahead import WriteAhead

# Rate changes closer than this bound the drive's planning (ticks_us_at is valid within 2^29 us).
_PLAN_LIMIT_MS = 60_000
_TX_RETRY_MS = 20  # while the host does not read, offer the output again this often



class App:
    """One pump: App(hw) with hw as in docs/board-layer.md. Tunables are class attributes. Its
    parts, called through what they return: the controller, the drive, the journal side
    (writeahead.py), the start rules (startrules.py), the buttons (presses.py)."""

    # The journal vouches for at most this much delivery ahead of what was made (its
    # write-ahead allowance) and is rewritten every 4/5 of it; state changes at once.
    journal_interval_ms = 5_000
    watchdog_ms = 4_000  # armed with the first active infusion; rp2 allows at most ~8.3 s
    rx_bytes = 64  # serial bytes handled per tick
    # Running with no step for one step interval at the current rate plus this long is a fault:
    # the infusion is paused. It covers what may delay a healthy pump's step beyond its
    # interval: a journal write, the loop's lateness (the watchdog allows 4 s) and the cap
    # catching up after it (docs/safety.md, "Running but delivering nothing").
    no_delivery_margin_ms = 5_000

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
        self._write_from = getattr(hw.port, "write_from", None)  # the no-slice sink, if any
        self.console = Dispatcher(self, self.out)
        self.controller = ctl.Controller(regimen, board.MAX_RATE_UL_H, self._on_event)
        self.alarms = al.Alarms(self._on_alarm)
        self.annunciator = Annunciator(getattr(hw, "led", None), getattr(hw, "buzzer", None))
        self.steps_per_ml = board.STEPS_PER_ML
        self.steps_prior = 0  # steps made in this infusion before a reboot (from the journal)
        self.starts = StartRules(self.console.event)
        self.repl_requested = False
        self._seen_changes = -1
        self._rx_more = False
        self._tx_stuck = False
        self._made = 0
        self._held = []  # (code, t_ms, a) of the lines of a start from rest, until it begins
        self.watch = DeliveryWatch(self.no_delivery_margin_ms)
        self._wdt_on = False
        self.drive = self._new_drive(0)
        self.panel = make_panel(hw, self.clock.ms)
        self.presses = None if self.panel is None else Presses(self, self.panel)
        self.journal = Journal(hw.fs_root,
                               replace_in_place=getattr(hw, "fs_replaces_atomically", False))
        if self.panel is not None:
            self.journal.flash_write = self.panel.flash_write
        self.wa = WriteAhead(self.journal, getattr(hw, "flash_written", None))
        record = self._load_journal()  # the calibration and interval the hello reports
        self.console.hello()  # first, always: a host takes it as the start of a boot
        recovered = self._recover(record)
        self.starts.problems = selfcheck.check(board, self.steps_per_ml, regimen, hw.stepper,
                                               not self.starts.journal_lost)
        self.console.event(P.EV_REBOOT, 0, self.reset_cause, 1 if recovered else 0)
        if recovered and cause == "watchdog":
            # The loop stopped (a hang, or a flash that keeps littlefs busy past the watchdog):
            # the infusion is back, paused, and a person must look before it goes on.
            self.fault(0, P.FAULT_WATCHDOG, 0)

    # ---- what the dispatcher needs (docs/protocol.md "App side") ------------------------
    @property
    def log_interval_ms(self):
        return self.records.interval_ms

    # The "app" handlers of protocol.COMMANDS: method(now_ms, *args) -> a reason code, or
    # (code, why in words).
    def start(self, now_ms, infusion, override=False):
        why = self.starts.refusal(now_ms, infusion, override)
        return why if why else self.controller.start(now_ms, infusion)

    def startover(self, now_ms, infusion):
        return self.start(now_ms, infusion, True)

    def set_log_interval(self, now_ms, interval_ms):
        self.records.set_interval(self.clock.ms, interval_ms)
        self.wa.due = True
        return P.E_OK

    def set_steps_per_ml(self, now_ms, steps_per_ml):
        if self.controller.active():
            return P.E_STATE, "not while an infusion is active"
        self.steps_per_ml = steps_per_ml
        self.drive = self._new_drive(0)
        self.wa.due = True
        return P.E_OK

    def steps_made(self):
        """Steps made in this infusion as of this tick's instant (what status and records say)."""
        return self._made

    def _ul(self, steps):
        # steps * 1000 // steps_per_ml without the product: it passes 2^30 (a big int on
        # MicroPython, allocated every tick) once 1 073 742 steps are made.
        spm = self.steps_per_ml
        return steps // spm * 1000 + steps % spm * 1000 // spm

    def request_repl(self, now_ms):
        self.repl_requested = True
        return P.E_OK

    @property
    def next_infusion(self):
        return self.starts.next_infusion

    @next_infusion.setter
    def next_infusion(self, number):
        self.starts.next_infusion = number

    @property
    def problems(self):
        return self.starts.problems

    # ---- the loop ------------------------------------------------------------------------
    def step(self):
        hw = self.hw
        c = self.controller
        now = self.clock.read()
        # One instant per tick: the step count is read once, the controller brought up to it,
        # and only then are commands answered, so a `status` or a record never mixes ticks.
        self._made = self.steps_prior + self.drive.steps_made()
        c.tick(now, self._ul(self._made))
        if self.panel is not None:
            self.presses.poll(now)  # first: a press may have frozen the motor (never `running`)
        if c.active() and not self._wdt_on:
            self._wdt_on = True
            hw.wdt_start(self.watchdog_ms)  # from now on only a healthy loop keeps the board up
        n = hw.port.read_into(self.rx)
        self._rx_more = n == len(self.rx)  # a full read: more may be waiting, come back at once
        for i in range(n):
            status = self.lines.feed(self.rx[i])  # a Ctrl-C too is answered, never obeyed
            if status != linein.NONE:
                self.console.handle(status, self.lines.line(), now)
        if c.changes == self._seen_changes:
            stalled_s = self.watch.poll(now, self._made, c.state == ctl.RUNNING)
            if stalled_s >= 0:
                self._no_delivery(now, stalled_s)  # pauses: the motor stops at once
        # A stop or a change of a running rate reaches the drive before the journal is written
        # (a stop even before any line about it: _on_event), and the drive's queue is topped up
        # first: the motor keeps stepping while the flash is written, so a stop must be complete
        # before the steps are counted, and a running rate must have its full horizon queued.
        # A start from rest (begin_run) waits for the record that vouches for it and begins at
        # an instant after that write, which its lines report. (The drive is capped at what the
        # journal vouches for in any case; the cap is raised only once a record is written.)
        self.begin_run(now)
        saving = self.wa.save_due(now, c.active(), self.journal_interval_ms)
        drive = self.drive
        horizon_us = drive.horizon_us
        if saving:
            # The write may stall the CPU for two sector erases at the datasheet maxima: queue
            # twice the horizon first, so the driver never runs dry meanwhile.
            drive.horizon_us = horizon_us * 2
        self._service(self.clock.last_us)
        drive.horizon_us = horizon_us
        if saving:
            self._save(now)
            self._service(hw.ticks_us())  # the cap may have been raised; the write took a while
        if self.drive.fault is not None:
            self.fault(now, P.FAULT_DRIVE, self.drive.fault)  # detail: drive.FAULT_*
            self.drive.fault = None
        self.alarms.poll(now, c)
        self.annunciator.update(now, c.state)
        if self.records.due(now):
            self.console.record(now)
        self._tx_stuck = (self.out.drain(self._write, 256, self._write_from) == 0
                          and self.out.used > 0)
        if self.panel is not None:
            self.panel.motion = c.state == ctl.RUNNING
        hw.wdt_feed()
        if self.repl_requested and self.out.used == 0:
            raise KeyboardInterrupt

    def _service(self, now_us):
        """Top the drive up, with the controller's next scheduled change in its plan."""
        c = self.controller
        until_us = -1
        change_ms = c.next_change_ms()
        if 0 <= change_ms - self.clock.ms < _PLAN_LIMIT_MS:
            until_us = self.clock.ticks_us_at(change_ms)
        self.drive.service(now_us, until_us, c.next_rate_ul_h())

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
        save_ms = self.wa.next_save_ms(self.journal_interval_ms)
        if self.controller.active() and save_ms < wake:
            wake = save_ms
        if self.drive.running():
            # Refill well before what is queued runs out.
            refill = now + self.drive.refill_in_us(self.clock.last_us) // 1000
            if refill < wake:
                wake = refill
        if self.controller.state == ctl.RUNNING:
            finish_us = self.drive.finish_us()
            if finish_us >= 0:
                # The last step: completion is noticed (and timed) when it is made, even if it
                # was made during a journal write and the drive has stopped since.
                t = now + ticks_diff(finish_us, self.clock.last_us) // 1000 + 1
                if t < wake:
                    wake = t
        if self.controller.state == ctl.RUNNING:
            t = self.watch.deadline_ms()  # when no step would be a fault
            if t < wake:
                wake = t
        if self._wdt_on and now + self.watchdog_ms // 2 < wake:
            wake = now + self.watchdog_ms // 2  # a healthy loop never sleeps through its watchdog
        if self._rx_more or self.wa.due or (self.out.used and not self._tx_stuck):
            wake = now
        elif self.out.used and now + _TX_RETRY_MS < wake:
            wake = now + _TX_RETRY_MS  # the host is not reading: retry, never spin
        elif self.panel is not None and self.panel.busy():
            wake = now + 5  # debounce and long-press timing need frequent polls
        elif self.panel is not None and now + 1000 < wake:
            wake = now + 1000  # a stuck button is noticed within a second
        return wake if wake > now else now

    def fault(self, now_ms, code, detail):
        """Report a fault: `ev fault`, and the fault alarm (one per fault, docs/safety.md)."""
        self.console.event(P.EV_FAULT, now_ms, code, detail)
        self.alarms.fault(now_ms, code)

    def shutdown(self):
        """Motor off first, then anything else. Safe to call more than once."""
        self.drive.halt()
        self.annunciator.off()

    # ---- the journal side: what a record holds, and what a boot does with it ------------------
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

    def _save(self, now, motor_off=False):
        """Journal the state; motor_off: the motor is stopped for good (fault path). The drive
        may then make up to the record's allowance; a failed write leaves the cap where it was."""
        c = self.controller
        made = self.steps_prior + self.drive.steps_made()  # now, not as of the tick
        allow = made
        if not motor_off and c.active():
            allow += self.wa.allowance_steps(c, self.steps_per_ml, self.journal_interval_ms)
        if not self.wa.save(now, c, made, allow, self.steps_per_ml, self.starts.next_infusion,
                            self.records.interval_ms):
            self.fault(now, P.FAULT_JOURNAL, 2)
            return
        self.drive.set_cap(allow - self.steps_prior)

    def _load_journal(self):
        """The journal's record (None if none or corrupt); its settings take effect now."""
        record, self.starts.journal_lost = self.wa.load()
        if record is not None:
            self.steps_per_ml = record.get("spm", self.steps_per_ml)
            self.starts.next_infusion = record.get("next", 0)
            self.records.interval_ms = record.get("interval", self.records.interval_ms)
        return record

    def _recover(self, record):
        """Restore the journal's infusion, which comes back paused. True if one did. The journal
        vouches that no more than `allow` steps were made: all are counted, so a cut can only
        ever under-deliver, by at most allow - steps (reported)."""
        if self.starts.journal_lost:
            self.fault(0, P.FAULT_JOURNAL, 1)
            return False
        vouched = None if record is None else self.wa.vouched(record)
        if vouched is None:
            return False
        snap, steps, allow = vouched
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

    # ---- internals -------------------------------------------------------------------------
    def _new_drive(self, steps_done):
        board = self.hw.board
        target = self.controller.regimen.volume_ul * self.steps_per_ml // 1000 - steps_done
        horizon_us = getattr(board, "PLAN_AHEAD_US", HORIZON_US)
        drive = Drive(self.hw.stepper, self.steps_per_ml, target, board.MAX_STEP_HZ, horizon_us,
                      self.hw.ticks_us)
        drive.set_cap(0)  # nothing until the journal vouches for it
        return drive

    def _no_delivery(self, now, seconds):
        self.fault(now, P.FAULT_NO_DELIVERY, seconds)
        self.controller.pause(now)

    def _apply_rate(self, now):
        """Hand a new controller rate to the drive, once per change: a stop or a change of a
        running rate at once. True for a start from rest, which begin_run() plans once the
        journal record that vouches for it is written."""
        c = self.controller
        if c.changes == self._seen_changes:
            return False
        self._seen_changes = c.changes
        self.watch.rate_changed(now, c.rate_ul_h, self.steps_per_ml, self._made)
        if c.rate_ul_h == 0 or self.drive.running():
            self.drive.set_rate(c.rate_ul_h, self.clock.ticks_us_at(c.rate_since_ms))
            return False
        return True

    def _on_event(self, code, now_ms, a, b):
        c = self.controller
        if c.rate_ul_h == 0:
            self._apply_rate(now_ms)  # a stop reaches the motor before a line is written about it
        if (code == ctl.EV_RATE or code == ctl.EV_RESUME) and c.rate_ul_h > 0 \
                and not self.drive.running():
            self._held.append((code, now_ms, a))  # a start from rest: said when it begins
        else:
            self.console.event(code, now_ms, a, now_ms if code == ctl.EV_RESUME else b)
        if code == ctl.EV_START or code == ctl.EV_LATCH_CLEARED:
            # A new count: from a start, and after a cleared latch (the controller is idle with
            # nothing delivered: the reply and every later status say 0, as the steps do).
            self.drive.halt()
            self.steps_prior = 0
            self._made = 0
            self.drive = self._new_drive(0)
            if code == ctl.EV_START:
                self.starts.started()
        elif code == ctl.EV_COMPLETE:
            self.starts.next_infusion = self.controller.infusion + 1
        if code != ctl.EV_RATE:
            self.wa.due = True

    def _on_alarm(self, code, now_ms, detail):
        self.annunciator.alarm(now_ms)
        self.console.event(P.EV_ALARM, now_ms, code, detail)

# The infusion state machine: applies a Program's ladder and the IR rules on time passed in (ms).
# It never reads a clock and never drives the motor: it decides what rate, from when.
from pumpfw.compat import const
from pumpfw.reasons import E_LATCHED, E_RANGE, E_STATE, E_TIME, OK  # noqa: F401

IDLE = const(0)
RUNNING = const(1)
PAUSED = const(2)
INTERRUPTED = const(3)  # stopped by a grade-2 IR, waiting for "IR resolved"
DISCONTINUED = const(4)  # grade >= 3 IR: latched, no command restarts it
COMPLETE = const(5)
STOPPED = const(6)  # ended by the operator before the volume was infused
STATE_NAMES = ("idle", "running", "paused", "interrupted", "discontinued", "complete", "stopped")
_N_STATES = const(7)

# Results of every input method: OK, or a reason (pumpfw.reasons) and nothing changed.

# Events, passed to on_event(code, now_ms, a, b).
EV_START = const(1)  # a = infusion number
EV_RATE = const(2)  # a = rate_ul_h, b = the ms it took effect (may be before now_ms)
EV_PAUSE = const(3)
EV_RESUME = const(4)
EV_IR = const(5)  # a = grade
EV_IR_RESOLVED = const(6)  # a = grade that resolved
EV_INTERRUPT = const(7)
EV_DISCONTINUE = const(8)  # a = grade
EV_COMPLETE = const(9)  # a = delivered_ul
EV_STOP = const(10)
EV_LIMIT = const(11)  # a = program rate, b = board maximum it was clamped to
EV_LATCH_CLEARED = const(12)
EV_IR_CONTINUE = const(13)  # a = grade (2): not interrupted, the operator's choice
EVENT_NAMES = (
    "",
    "start",
    "rate",
    "pause",
    "resume",
    "ir",
    "ir_resolved",
    "interrupt",
    "discontinue",
    "complete",
    "stop",
    "limit",
    "latch_cleared",
    "ir_continue",
)

LADDER = const(0)  # following the infusion's ladder
POST_IR = const(1)  # resumed after a grade-2 IR: half rate, then increments

_MAX_GRADE = const(5)  # CTCAE grades run 1..5


def _ignore(code, now_ms, a, b):
    pass


class Controller:
    """Clock-injected controller for one pump. All times are ms on one monotonic clock.

    The caller feeds time with tick(now_ms, delivered_ul) and operator inputs with the other
    methods; it reads rate_ul_h (0 unless running), rate_since_ms and next_change_ms().
    """

    def __init__(self, regimen, max_rate_ul_h, on_event=None):
        self.regimen = regimen
        self.max_rate_ul_h = max_rate_ul_h
        self.on_event = on_event or _ignore
        self.time_in_state_ms = [0] * _N_STATES
        self._reset()

    def _reset(self):
        self.state = IDLE
        self.infusion = 0
        self.program = None
        self.phase = LADDER
        self.step = 0  # ladder index, or the number of post-IR increments made
        self.program_rate_ul_h = 0  # rate of the program position, before the board clamp
        self.rate_ul_h = 0  # what the motor must do now: 0 unless RUNNING
        self.rate_since_ms = 0
        self.state_since_ms = 0  # when the current state was entered
        self._applied_state = IDLE
        self.changes = 0  # bumped whenever rate_ul_h or its start time changes
        self.deadline_ms = -1  # next escalation (wall ms) while RUNNING and not held
        self.hold_left_ms = -1  # escalation time left, frozen while paused/interrupted
        self.ir_grade = 0  # active IR grade: 0 none, 1, or 2 (interrupted)
        self.ir_count = 0
        self.interruptions = 0
        self.delivered_ul = 0
        self.start_ms = 0
        self.end_ms = -1
        self.last_ms = 0
        for i in range(_N_STATES):
            self.time_in_state_ms[i] = 0

    # ---- reading -------------------------------------------------------------------------
    def active(self):
        return self.state == RUNNING or self.state == PAUSED or self.state == INTERRUPTED

    def next_change_ms(self):
        """Wall ms of the next scheduled rate change, or -1 if none is scheduled."""
        return self.deadline_ms if self.state == RUNNING else -1

    def next_rate_ul_h(self):
        """The motor rate from next_change_ms() on, if no input comes first (0 if none due)."""
        if self.next_change_ms() < 0:
            return 0
        prog = self.program
        if self.phase == LADDER:
            rate = prog.ladder[self.step + 1][0]
        else:
            rate = self.program_rate_ul_h + prog.ir_increment_ul_h
            if rate > prog.max_rate_ul_h:
                rate = prog.max_rate_ul_h
        return rate if rate <= self.max_rate_ul_h else self.max_rate_ul_h

    def elapsed_ms(self):
        """Start to end (or to the last time seen), interruptions included (Table 2)."""
        if self.state == IDLE:
            return 0
        end = self.end_ms if self.end_ms >= 0 else self.last_ms
        return end - self.start_ms

    def infusing_ms(self):
        return self.time_in_state_ms[RUNNING]

    # ---- time ----------------------------------------------------------------------------
    def tick(self, now_ms, delivered_ul):
        """Advance to now_ms; delivered_ul is what the driver really pumped (never decreases)."""
        if now_ms < self.last_ms:
            return E_TIME
        self.advance(now_ms)
        if delivered_ul > self.delivered_ul:
            self.delivered_ul = delivered_ul
        if self.active() and self.delivered_ul >= self.regimen.volume_ul:
            self._end(now_ms, COMPLETE)
            self.on_event(EV_COMPLETE, now_ms, self.delivered_ul, 0)
        return OK

    def advance(self, now_ms):
        """Account time up to now_ms: escalations take effect at their exact deadlines, even if
        this comes later (tick() does this first)."""
        while self.state == RUNNING and 0 <= self.deadline_ms <= now_ms:
            self._account(self.deadline_ms)
            self._escalate(self.deadline_ms)
        self._account(now_ms)

    def _account(self, now_ms):
        if self.active():
            self.time_in_state_ms[self.state] += now_ms - self.last_ms
        self.last_ms = now_ms

    def load(self, now_ms, infusion, state, phase, step, program_rate_ul_h, hold_left_ms,
             ir_grade, ir_count, interruptions, delivered_ul, elapsed_ms, times_ms):
        """Continue an infusion saved by persist.snapshot() (after a reboot): a running one
        comes back PAUSED, the pump never restarts by itself. times_ms: ms spent running,
        paused, interrupted. Sends no event (the app reports the recovery). OK or E_RANGE."""
        self._reset()
        self.last_ms = now_ms
        if state == IDLE:
            return OK
        program = self.regimen.program(infusion)
        if phase == LADDER and not 0 <= step < len(program.ladder):
            return E_RANGE
        self.infusion, self.program, self.phase, self.step = infusion, program, phase, step
        self.state = PAUSED if state == RUNNING else state
        self.program_rate_ul_h, self.hold_left_ms = program_rate_ul_h, hold_left_ms
        self.ir_grade, self.ir_count, self.interruptions = ir_grade, ir_count, interruptions
        self.delivered_ul = delivered_ul
        self.start_ms = now_ms - elapsed_ms
        if not self.active():
            self.end_ms = now_ms
        for i, state_ in ((0, RUNNING), (1, PAUSED), (2, INTERRUPTED)):
            self.time_in_state_ms[state_] = times_ms[i]
        self._apply(now_ms)
        return OK

    # ---- program position ----------------------------------------------------------------
    def _hold_ms(self):
        """How long the current position lasts before the next escalation; 0 = no more."""
        prog = self.program
        if self.phase == LADDER:
            return prog.ladder[self.step][1]
        if self.program_rate_ul_h >= prog.max_rate_ul_h:
            return 0
        return prog.ir_step_ms

    def _held(self):
        """True while an active IR holds escalation (see docs/infusion-schedule.md)."""
        if self.ir_grade == 0:
            return False
        if self.phase == LADDER:
            return self.ir_grade >= self.program.ladder_block_grade
        return self.ir_grade >= self.program.ir_block_grade

    def _arm(self, now_ms):
        """Start the full hold of the current position (or clear it if held or final)."""
        hold = 0 if self._held() else self._hold_ms()
        if hold == 0:
            self.deadline_ms = -1
            self.hold_left_ms = -1
        elif self.state == RUNNING:
            self.deadline_ms = now_ms + hold
            self.hold_left_ms = -1
        else:
            self.deadline_ms = -1
            self.hold_left_ms = hold

    def _escalate(self, at_ms):
        prog = self.program
        if self.phase == LADDER:
            self.step += 1
            rate = prog.ladder[self.step][0]
        else:
            self.step += 1
            rate = self.program_rate_ul_h + prog.ir_increment_ul_h
            if rate > prog.max_rate_ul_h:
                rate = prog.max_rate_ul_h
        self._set_rate(rate, at_ms)
        self._arm(at_ms)

    def _set_rate(self, program_rate_ul_h, at_ms):
        self.program_rate_ul_h = program_rate_ul_h
        self._apply(at_ms)
        self.on_event(EV_RATE, at_ms, self.rate_ul_h, at_ms)

    def _apply(self, at_ms):
        """Recompute the motor rate after a state or program change."""
        rate = self.program_rate_ul_h if self.state == RUNNING else 0
        if rate > self.max_rate_ul_h:
            self.on_event(EV_LIMIT, at_ms, rate, self.max_rate_ul_h)
            rate = self.max_rate_ul_h
        self.rate_ul_h = rate
        self.rate_since_ms = at_ms
        self.changes += 1
        if self.state != self._applied_state:
            self._applied_state = self.state
            self.state_since_ms = at_ms

    def retime(self, since_ms):
        """The running rate takes effect at since_ms instead (a start from rest begins once the
        journal vouches for it): the escalation deadline moves with it."""
        if self.deadline_ms >= 0:
            self.deadline_ms += since_ms - self.rate_since_ms
        self.rate_since_ms = since_ms

    def _end(self, now_ms, state):
        self.state = state
        self.end_ms = now_ms
        self.deadline_ms = -1
        self.hold_left_ms = -1
        self._apply(now_ms)

    # ---- inputs --------------------------------------------------------------------------
    def start(self, now_ms, infusion):
        if self.state == DISCONTINUED:
            return E_LATCHED
        if self.active():
            return E_STATE
        if infusion < 1 or infusion > 999:
            return E_RANGE
        self._reset()
        self.infusion = infusion
        self.program = self.regimen.program(infusion)
        self.start_ms = now_ms
        self.last_ms = now_ms
        self.state = RUNNING
        self.on_event(EV_START, now_ms, infusion, 0)
        self._set_rate(self.program.ladder[0][0], now_ms)
        self._arm(now_ms)
        return OK

    def pause(self, now_ms):
        if now_ms < self.last_ms:
            return E_TIME
        if self.state != RUNNING:
            return E_STATE
        self.advance(now_ms)
        if self.deadline_ms >= 0:
            self.hold_left_ms = self.deadline_ms - now_ms
        self.deadline_ms = -1
        self.state = PAUSED
        self._apply(now_ms)
        self.on_event(EV_PAUSE, now_ms, 0, 0)
        return OK

    def resume(self, now_ms):
        if now_ms < self.last_ms:
            return E_TIME
        if self.state != PAUSED:
            return E_STATE
        self.advance(now_ms)
        self.state = RUNNING
        if self.hold_left_ms >= 0:
            self.deadline_ms = now_ms + self.hold_left_ms
            self.hold_left_ms = -1
        self._apply(now_ms)
        self.on_event(EV_RESUME, now_ms, self.rate_ul_h, 0)
        return OK

    def ir(self, now_ms, grade):
        """An infusion reaction of CTCAE grade 1..5 was observed."""
        if now_ms < self.last_ms:
            return E_TIME
        if grade < 1 or grade > _MAX_GRADE:
            return E_RANGE
        if not self.active():
            return E_STATE
        self.advance(now_ms)
        self.ir_count += 1
        self.on_event(EV_IR, now_ms, grade, 0)
        if grade >= 3:
            self._end(now_ms, DISCONTINUED)
            self.on_event(EV_DISCONTINUE, now_ms, grade, 0)
        elif grade == 2:
            if self.state != INTERRUPTED:
                self.state = INTERRUPTED
                self.interruptions += 1
                self.ir_grade = 2
                self.deadline_ms = -1
                self.hold_left_ms = -1
                self._apply(now_ms)
                self.on_event(EV_INTERRUPT, now_ms, 0, 0)
        elif self.state != INTERRUPTED:
            # Grade 1: keep infusing. Where it holds escalation, the hold restarts in full once
            # it resolves (a symptom-free hold is required), so drop the running one now. Down
            # from a grade 2 that was not interrupted, the hold restarts in full as well.
            was_held = self._held()
            self.ir_grade = 1
            if was_held or self._held():
                self._arm(now_ms)
        return OK

    def ir_continue(self, now_ms):
        """A grade-2 IR that the operator chose not to interrupt (Fig. 1: grade 2 "may be
        interrupted"). The infusion goes on at its rate with escalation held until resolved;
        `ir 2` still interrupts at any time."""
        if now_ms < self.last_ms:
            return E_TIME
        if self.state != RUNNING and self.state != PAUSED:
            return E_STATE
        self.advance(now_ms)
        self.ir_count += 1
        self.ir_grade = 2
        self.on_event(EV_IR, now_ms, 2, 0)
        self.on_event(EV_IR_CONTINUE, now_ms, 2, 0)
        self._arm(now_ms)  # held: no deadline until resolved
        return OK

    def ir_resolved(self, now_ms):
        """The active IR improved to grade <= 1 (after grade 2) or went away (after grade 1)."""
        if now_ms < self.last_ms:
            return E_TIME
        if not self.active() or self.ir_grade == 0:
            return E_STATE
        self.advance(now_ms)
        grade = self.ir_grade
        was_held = self._held()
        self.ir_grade = 0
        self.on_event(EV_IR_RESOLVED, now_ms, grade, 0)
        if self.state == INTERRUPTED:
            self.state = RUNNING
            self.phase = POST_IR
            self.step = 0
            self._set_rate(self.program.ir_resume_rate_ul_h, now_ms)
            self.on_event(EV_RESUME, now_ms, self.rate_ul_h, 0)
            self._arm(now_ms)
        elif was_held:
            self._arm(now_ms)
        return OK

    def stop(self, now_ms):
        if now_ms < self.last_ms:
            return E_TIME
        if not self.active():
            return E_STATE
        self.advance(now_ms)
        self._end(now_ms, STOPPED)
        self.on_event(EV_STOP, now_ms, self.delivered_ul, 0)
        return OK

    def clear_latch(self, now_ms):
        """Leave DISCONTINUED for IDLE. The two-step confirmation lives in the protocol layer."""
        if self.state != DISCONTINUED:
            return E_STATE
        self._reset()
        self.last_ms = now_ms
        self.on_event(EV_LATCH_CLEARED, now_ms, 0, 0)
        return OK

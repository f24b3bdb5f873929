# Controller persistence: everything an infusion needs to continue after a reboot, as ints.
# The app journals snapshot(); after a reboot restore() brings a running infusion back PAUSED.
from pumpfw import controller as ctl

FIELDS = (
    "infusion", "state", "phase", "step", "program_rate_ul_h", "hold_left_ms", "ir_grade",
    "ir_count", "interruptions", "delivered_ul", "elapsed_ms", "running_ms", "paused_ms",
    "interrupted_ms",
)


def snapshot(c, now_ms):
    """Everything needed to continue this infusion after a reboot, as a tuple of ints."""
    if now_ms >= c.last_ms:
        c._advance(now_ms)
    hold_left = c.hold_left_ms
    if c.deadline_ms >= 0:
        hold_left = c.deadline_ms - now_ms
    t = c.time_in_state_ms
    return (
        c.infusion, c.state, c.phase, c.step, c.program_rate_ul_h, hold_left,
        c.ir_grade, c.ir_count, c.interruptions, c.delivered_ul,
        c.elapsed_ms(), t[ctl.RUNNING], t[ctl.PAUSED], t[ctl.INTERRUPTED],
    )


def restore(c, snap, now_ms, delivered_ul):
    """Continue a snapshot after a reboot. A running infusion comes back PAUSED: the pump never
    restarts by itself. delivered_ul is what the journal vouches for. Restoring sends no event:
    the app reports the recovery."""
    (infusion, state, phase, step, rate, hold_left, ir_grade, ir_count, interruptions,
     _, elapsed, running, paused, interrupted) = snap
    if state < ctl.IDLE or state > ctl.STOPPED or infusion < 0 or elapsed < 0:
        return ctl.E_RANGE
    c._reset()
    c.last_ms = now_ms
    if state == ctl.IDLE:
        return ctl.OK
    c.infusion = infusion
    c.program = c.regimen.program(infusion)
    if phase == ctl.LADDER and not 0 <= step < len(c.program.ladder):
        c._reset()
        return ctl.E_RANGE
    c.state = ctl.PAUSED if state == ctl.RUNNING else state
    c.phase = phase
    c.step = step
    c.program_rate_ul_h = rate
    c.hold_left_ms = hold_left
    c.ir_grade = ir_grade
    c.ir_count = ir_count
    c.interruptions = interruptions
    c.delivered_ul = delivered_ul
    c.start_ms = now_ms - elapsed
    if not c.active():
        c.end_ms = now_ms
    c.time_in_state_ms[ctl.RUNNING] = running
    c.time_in_state_ms[ctl.PAUSED] = paused
    c.time_in_state_ms[ctl.INTERRUPTED] = interrupted
    c._apply(now_ms)
    return ctl.OK

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
        c.advance(now_ms)
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
    """Continue a snapshot after a reboot (Controller.load: a running infusion comes back
    PAUSED). delivered_ul is what the journal vouches for. OK, or E_RANGE for a bad snapshot."""
    (infusion, state, phase, step, rate, hold_left, ir_grade, ir_count, interruptions,
     _, elapsed, running, paused, interrupted) = snap
    if state < ctl.IDLE or state > ctl.STOPPED or infusion < 0 or elapsed < 0:
        return ctl.E_RANGE
    return c.load(now_ms, infusion, state, phase, step, rate, hold_left, ir_grade, ir_count,
                  interruptions, delivered_ul, elapsed, (running, paused, interrupted))

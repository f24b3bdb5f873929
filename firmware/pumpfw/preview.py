# Program preview: the real Controller on a virtual clock, fed by an ideal pump, inputs scripted.
# Used by `pumpctl plan` and by tests; integer arithmetic only, so it runs on the board as well.
from pumpfw import controller as ctl
from pumpfw import protocol as P
from pumpfw.reasons import NAMES as REASONS

_MS_PER_H = 3_600_000

# Inputs are commands of protocol.COMMANDS that the controller handles, run by its handler.
PAUSE = "pause"
RESUME = "resume"
IR = "ir"
IR_CONTINUE = "ircontinue"  # a grade-2 IR the operator chose not to interrupt
RESOLVED = "resolved"
STOP = "stop"
INPUT_KINDS = (PAUSE, RESUME, IR, RESOLVED, STOP, IR_CONTINUE)

# Give up on a scripted run that is still going after this much virtual time.
DEFAULT_LIMIT_MS = 48 * _MS_PER_H


class IdealPump:
    """Delivers exactly the integral of the commanded rate, and never more than volume_ul.

    Its state is in uL*ms/h so that nothing is rounded; delivered_ul() rounds down.
    """

    def __init__(self, volume_ul):
        self.full = volume_ul * _MS_PER_H
        self.acc = 0

    def run(self, rate_ul_h, duration_ms):
        self.acc += rate_ul_h * duration_ms
        if self.acc > self.full:
            self.acc = self.full

    def delivered_ul(self):
        return self.acc // _MS_PER_H

    def ms_to_finish(self, rate_ul_h):
        """Whole ms until the volume is reached at this rate (-1 if the rate is 0)."""
        if rate_ul_h <= 0:
            return -1
        return -((self.acc - self.full) // rate_ul_h)


def _apply(controller, now_ms, kind, arg):
    spec = P.command_spec(kind)
    if spec is None or spec[P.CMD_HANDLER][0] != "controller":
        return ctl.E_RANGE
    method = getattr(controller, spec[P.CMD_HANDLER][1])
    return method(now_ms, *((arg,) if spec[P.CMD_ARGS] else ()))


def run(regimen, infusion, inputs=(), max_rate_ul_h=0, limit_ms=DEFAULT_LIMIT_MS, observe=None,
        react=None):
    """Run one infusion. inputs: (t_ms, kind, arg) tuples, t_ms from the start.

    observe(controller, now_ms), if given, is called after every step of the virtual clock.
    react(controller, now_ms), if given, is called then too and returns more inputs (t_ms >=
    now_ms): an operator who answers what the pump does (the cohort simulator's practice).

    Returns a dict: outcome (a state name), segments [(start_ms, end_ms, state, rate_ul_h,
    delivered_ul_at_end)], infusing_ms, elapsed_ms, delivered_ul, interruptions,
    rejected [(t_ms, kind, arg, error_name)], events [(t_ms, name, a, b)].
    """
    events = []

    def on_event(code, now_ms, a, b):
        events.append((now_ms, ctl.EVENT_NAMES[code], a, b))

    controller = ctl.Controller(regimen, max_rate_ul_h or regimen.max_rate_ul_h(), on_event)
    err = controller.start(0, infusion)
    if err:
        raise ValueError("cannot start infusion %d: %s" % (infusion, REASONS[err]))
    result = follow(controller, 0, inputs, limit_ms, observe, react)
    result["events"] = events
    return result


def follow(controller, now, inputs=(), limit_ms=DEFAULT_LIMIT_MS, observe=None, react=None):
    """Run a started controller on from `now` (ms on its clock) with an ideal pump that has
    delivered controller.delivered_ul so far: what it does if only `inputs` come. Returns the
    dict of run(), without events (the controller's on_event gets them)."""
    pump = IdealPump(controller.regimen.volume_ul)
    pump.run(controller.delivered_ul, _MS_PER_H)
    pending = sorted(inputs, key=lambda item: item[0])
    rejected = []
    segments = []
    seg_start, seg_state, seg_rate = now, controller.state, controller.rate_ul_h
    index = 0
    while controller.active() and now <= limit_ms:
        candidates = []
        if index < len(pending):
            candidates.append(pending[index][0])
        if controller.next_change_ms() >= 0:
            candidates.append(controller.next_change_ms())
        finish = pump.ms_to_finish(controller.rate_ul_h)
        if finish >= 0:
            candidates.append(now + finish)
        if not candidates:
            break  # e.g. interrupted with no "resolved" scripted: the program waits forever
        nxt = min(candidates)
        if nxt < now:
            nxt = now
        pump.run(controller.rate_ul_h, nxt - now)
        now = nxt
        controller.tick(now, pump.delivered_ul())
        while index < len(pending) and pending[index][0] <= now and controller.active():
            _, kind, arg = pending[index]
            index += 1
            err = _apply(controller, now, kind, arg)
            if err:
                rejected.append((now, kind, arg, REASONS[err]))
        if observe is not None:
            observe(controller, now)
        if react is not None:
            more = react(controller, now)
            if more:
                pending = pending[:index] + sorted(pending[index:] + list(more),
                                                   key=lambda item: item[0])
        if controller.state != seg_state or controller.rate_ul_h != seg_rate:
            segments.append((seg_start, now, ctl.STATE_NAMES[seg_state], seg_rate,
                             pump.delivered_ul()))
            seg_start, seg_state, seg_rate = now, controller.state, controller.rate_ul_h
    if controller.active():
        segments.append((seg_start, now, ctl.STATE_NAMES[seg_state], seg_rate,
                         pump.delivered_ul()))
    while index < len(pending):
        t_ms, kind, arg = pending[index]
        index += 1
        rejected.append((t_ms, kind, arg, "after_end"))
    return {
        "infusion": controller.infusion,
        "outcome": ctl.STATE_NAMES[controller.state],
        "segments": segments,
        "infusing_ms": controller.infusing_ms(),
        "elapsed_ms": controller.elapsed_ms(),
        "delivered_ul": controller.delivered_ul,
        "interruptions": controller.interruptions,
        "time_in_state_ms": list(controller.time_in_state_ms),
        "rejected": rejected,
        "now_ms": now,
    }

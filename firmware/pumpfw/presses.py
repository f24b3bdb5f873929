# What a button press does to the pump (buttons.py decides the press): each event runs the
# command it stands for, through the command table's state check and handler, as if typed; a
# press that froze the motor on its way down leaves the infusion paused, never `running`; with
# no infusion active, PAUSE long then OK long within start_window_ms starts the expected next one.
from pumpfw import buttons as bt
from pumpfw import controller as ctl
from pumpfw import protocol as P

# What a press means, as a command of protocol.COMMANDS.
_BUTTON_COMMANDS = {
    bt.EV_PAUSE: ("pause", ()),
    bt.EV_RESUME: ("resume", ()),
    bt.EV_IR_INTERRUPT: ("ir", (2,)),
    bt.EV_IR_DISCONTINUE: ("ir", (3,)),
    bt.EV_IR_RESOLVED: ("resolved", ()),
}


def make_panel(hw, now_ms):
    """The three buttons of hw.buttons as a ButtonPanel (None without them), their IRQs on."""
    pins = hw.buttons
    if not pins:
        return None
    low = hw.board.BUTTON_ACTIVE_LOW
    panel = bt.ButtonPanel(
        bt.Button(pins["pause"], low, now_ms),
        bt.Button(pins["ir"], low, now_ms),
        bt.Button(pins["ok"], low, now_ms),
    )
    attach = getattr(hw, "attach_buttons", None)
    if attach is not None:
        attach(panel)  # a board: IRQs and a timer sample them (hw/mcu.py)
    else:
        for name, button in (("pause", panel.pause), ("ir", panel.ir), ("ok", panel.ok)):
            pins[name].irq(handler=button.irq)  # default trigger: both edges
        panel.stopper = hw.stepper
    return panel


class Presses:
    """Presses(app, panel): app's console, controller, starts, start() and hw.stepper."""

    start_window_ms = 10_000  # PAUSE long, then OK long within this: start from the buttons

    def __init__(self, app, panel):
        self.app = app
        self.panel = panel
        self._armed_ms = -1  # a button start was armed at this time
        self._stops_seen = 0

    def poll(self, now):
        """Button events since the last tick; a press that froze the motor leaves it paused."""
        panel = self.panel
        if not panel.sampled:
            panel.tick(now)
        stops = panel.stops  # read before the queue: its events are in it by now
        ev = panel.take()
        while ev != bt.EV_NONE:
            self._act(ev, now)
            ev = panel.take()
        if stops != self._stops_seen:
            self._stops_seen = stops
            c = self.app.controller
            if c.state == ctl.RUNNING:
                c.pause(now)  # a frozen motor is never left `running`
            self.app.hw.stepper.thaw()

    def _act(self, ev, now):
        app = self.app
        app.console.event(P.EV_BUTTON, now, ev, 0)
        armed, self._armed_ms = self._armed_ms, -1  # any press but the confirming one disarms
        active = app.controller.active()
        next_infusion = app.starts.next_infusion
        if ev == bt.EV_RESUME and not active:
            self._armed_ms = now  # start, step 1 of 2
        elif ev == bt.EV_IR_RESOLVED and not active:
            if armed >= 0 and now - armed <= self.start_window_ms and next_infusion:
                app.start(now, next_infusion)  # step 2 of 2
        elif ev in _BUTTON_COMMANDS:
            name, args = _BUTTON_COMMANDS[ev]
            app.console.call(name, args, now)

# Issue 7's rules on the whole App: latch across reboots, expected next infusion, premedication
# window, corrupt journal, self-check, start from the buttons, alarms on the wire (both lanes).
from fwtest import ButtonPin as Pin

from pumpfw import controller as ctl
from pumpfw import protocol as P
from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, TestBoard, events, lines, run_for, send

MIN = 60_000


def reboot(hw, **kw):
    hw2 = FakeHw(fs_root=hw.fs_root, start_us=hw.us + 10**9, **kw)
    app = App(hw2)
    app.step()
    return hw2, app


def answers(hw, ref):
    return [m for m in lines(hw) if m.kind in ("ok", "err", "ask") and m.ref == ref]


def confirm_two_step(hw, app, name, *args):
    ask = answers(hw, send(hw, name, *args))
    run_for(app, hw, 10)
    ask = answers(hw, ask[0].ref if ask else _last_ref())
    assert ask and ask[0].kind == "ask", ask
    ref = send(hw, "confirm", ask[0].fields["token"])
    run_for(app, hw, 10)
    return answers(hw, ref)[0]


def _last_ref():
    from pumpfw.hw import fakeboard

    return fakeboard._seq[0]


def test_the_discontinue_latch_survives_a_power_cycle_until_the_two_step_clear():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 2)
    run_for(app, hw, 5 * MIN)
    send(hw, "ir", 3)
    run_for(app, hw, 1000)
    assert app.controller.state == ctl.DISCONTINUED
    hw2, app2 = reboot(hw)
    assert app2.controller.state == ctl.DISCONTINUED
    for name in ("start", "startover"):
        ref = send(hw2, name, 2)
        run_for(app2, hw2, 10)
        reply = answers(hw2, ref)[0]
        assert reply.kind == "err" and reply.reason == "latched", reply
    ok = confirm_two_step(hw2, app2, "clear")
    assert ok.kind == "ok" and app2.controller.state == ctl.IDLE
    assert events(hw2, "latch_cleared")
    ref = send(hw2, "start", 2)
    run_for(app2, hw2, 10)
    assert answers(hw2, ref)[0].kind == "ok"


def test_the_next_infusion_number_is_remembered_and_a_mismatch_needs_startover():
    hw = FakeHw()
    app = App(hw)
    send(hw, "interval", 60_000)
    send(hw, "start", 3)
    run_for(app, hw, 76 * MIN, max_step_ms=5_000)
    hw2, app2 = reboot(hw)
    assert app2.next_infusion == 4
    ref = send(hw2, "start", 3)
    run_for(app2, hw2, 10)
    reply = answers(hw2, ref)[0]
    assert reply.kind == "err" and reply.reason == "range" and "expected infusion 4" in reply.text
    assert app2.controller.state == ctl.COMPLETE and app2.controller.infusion == 3
    ok = confirm_two_step(hw2, app2, "startover", 3)
    assert ok.kind == "ok" and app2.controller.infusion == 3
    over = events(hw2, "override")[0].fields
    assert over["inf"] == 3 and over["bits"] == P.OVERRIDE_NUMBER


def test_a_start_outside_the_premedication_window_is_refused_with_the_reason():
    hw = FakeHw()
    app = App(hw)
    send(hw, "premed", 5)
    ref = send(hw, "start", 1)
    run_for(app, hw, 10)
    reply = answers(hw, ref)[0]
    assert reply.kind == "err" and "premedication was 5 min ago" in reply.text
    run_for(app, hw, 10 * MIN)  # now 15 min after it
    ref = send(hw, "start", 1)
    run_for(app, hw, 10)
    assert answers(hw, ref)[0].kind == "ok"
    assert events(hw, "premed")[0].fields["min_ago"] == 5


def test_a_corrupt_journal_is_reported_and_nothing_restarts_silently():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 1)
    run_for(app, hw, 3 * MIN)
    with open(app.journal.path, "r+b") as f:
        f.seek(4)
        f.write(b"#")
    hw2, app2 = reboot(hw)
    fault = events(hw2, "fault")[0].fields
    assert fault["what"] == "journal" and fault["detail"] == 1
    assert app2.controller.state == ctl.IDLE
    ref = send(hw2, "resume")
    ref2 = send(hw2, "start", 1)
    run_for(app2, hw2, 10)
    assert answers(hw2, ref)[0].kind == "err"
    reply = answers(hw2, ref2)[0]
    assert reply.kind == "err" and "journal" in reply.text
    ok = confirm_two_step(hw2, app2, "startover", 1)
    assert ok.kind == "ok" and events(hw2, "override")[0].fields["bits"] == P.OVERRIDE_JOURNAL


class BadBoard(TestBoard):
    STEP_PIN = 2
    DIR_PIN = 2  # wired twice: the self-check refuses to infuse


def test_a_failed_self_check_blocks_every_start_even_startover():
    hw = FakeHw(board=BadBoard)
    app = App(hw)
    assert app.problems
    ref = send(hw, "start", 1)
    run_for(app, hw, 10)
    reply = answers(hw, ref)[0]
    assert reply.kind == "err" and "self-check failed: board file uses a pin twice" in reply.text
    assert confirm_two_step(hw, app, "startover", 1).kind == "err"
    assert app.controller.state == ctl.IDLE and hw.stepper.steps() == 0


def press(app, hw, pin, hold_ms):
    pin.set(0)
    run_for(app, hw, hold_ms, max_step_ms=5)
    pin.set(1)
    run_for(app, hw, 100, max_step_ms=5)


def test_buttons_start_the_expected_infusion_only_with_two_long_presses():
    hw = FakeHw()
    pins = {"pause": Pin(), "ir": Pin(), "ok": Pin()}
    hw.buttons = pins
    app = App(hw)
    app.next_infusion = 2  # as the journal would have it after infusion 1
    press(app, hw, pins["ok"], 2_000)  # OK long alone: nothing
    press(app, hw, pins["pause"], 2_000)  # PAUSE long when idle: arms the start
    assert app.controller.state == ctl.IDLE
    press(app, hw, pins["ok"], 2_000)  # ...confirmed by OK long: starts infusion 2
    assert app.controller.state == ctl.RUNNING and app.controller.infusion == 2
    press(app, hw, pins["pause"], 200)  # PAUSE short: pause
    assert app.controller.state == ctl.PAUSED
    presses = [e.fields["press"] for e in events(hw, "button")]
    assert presses == ["ir_resolved", "resume", "ir_resolved", "pause"]


def test_a_stuck_button_never_starts_or_resumes():
    hw = FakeHw()
    pins = {"pause": Pin(), "ir": Pin(), "ok": Pin()}
    hw.buttons = pins
    app = App(hw)
    app.next_infusion = 2
    pins["pause"].set(0)  # stuck down
    run_for(app, hw, 60_000, max_step_ms=5)
    pins["ok"].set(0)
    run_for(app, hw, 20_000, max_step_ms=5)
    assert app.controller.state == ctl.IDLE and hw.stepper.steps() == 0
    assert "stuck" in [e.fields["press"] for e in events(hw, "button")]


def test_alarms_reach_the_wire_at_their_virtual_time():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 1)
    run_for(app, hw, MIN)
    send(hw, "pause")
    run_for(app, hw, 5 * MIN)
    paused_at = events(hw, "pause")[0].fields["t_ms"]
    reminders = [e for e in events(hw, "alarm") if e.fields["what"] == "paused_long"]
    assert [e.fields["t_ms"] - paused_at for e in reminders] == [120_000, 240_000]

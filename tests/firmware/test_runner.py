# The run loop's safety net, virtual driver: motor off on exception, Ctrl-C, exit (both lanes).
from fwtest import raises

from pumpfw import controller as ctl
from pumpfw import runner
from pumpfw.app import FAULT_EXCEPTION, App
from pumpfw.hw.fakeboard import FakeHw, events, lines, send
from pumpfw.journal import Journal


class Boom(Exception):
    pass


def failing_app(after_ticks):
    class FailingApp(App):
        ticks = 0

        def step(self):
            FailingApp.ticks += 1
            if FailingApp.ticks > after_ticks:
                raise Boom("injected")
            App.step(self)
            self.hw.us += 5_000  # 5 ms per tick of virtual time

    return FailingApp


def test_an_exception_stops_the_motor_reports_a_fault_and_journals_the_state():
    hw = FakeHw()
    send(hw, "start", 3)
    raises(Boom, runner.run, hw, -1, failing_app(400))
    assert not hw.stepper.enabled() and hw.stepper.idle()
    faults = events(hw, "fault")
    assert faults and faults[-1].fields["code"] == FAULT_EXCEPTION
    record = Journal(hw.fs_root).load()
    assert record["snap"][1] == ctl.RUNNING and record["steps"] == hw.stepper.steps() > 0
    assert not hw.port.opened


def test_the_recovered_infusion_comes_back_paused_after_the_reset():
    hw = FakeHw()
    send(hw, "start", 2)
    raises(Boom, runner.run, hw, -1, failing_app(300))
    steps = hw.stepper.steps()
    hw2 = FakeHw(fs_root=hw.fs_root, reset_cause="watchdog")
    app = App(hw2)
    app.step()
    assert app.controller.state == ctl.PAUSED and app.controller.infusion == 2
    assert app.steps_made() == steps
    reboot = events(hw2, "reboot")[0].fields
    assert reboot["cause"] == "watchdog" and reboot["recovered"] == 1
    # The motor was stopped before the journal was written: nothing is uncertain.
    recovery = events(hw2, "recovery")[0].fields
    assert recovery["uncertain_ul"] == 0 and recovery["vol_ul"] == steps * 1000 // 400


def test_a_lone_ctrl_c_is_answered_in_any_state_and_only_repl_leaves_the_loop():
    # Line noise, a terminal program or a modem manager can send one 0x03: it must never take
    # the pump offline, idle or not.
    for infusion in (3, None):
        hw = FakeHw()
        if infusion:
            send(hw, "start", infusion)
        hw.port.rx += b"\x03"
        app = runner.run(hw, 300, failing_app(10**9))
        assert app.controller.state == (ctl.RUNNING if infusion else ctl.IDLE)
        assert hw.us >= 300 * 5_000  # the loop ran every tick it was given
        errs = [m for m in lines(hw) if m.kind == "err"]
        assert [(m.reason, "repl" in m.text) for m in errs] == [("state", True)], errs
    hw.port.rx += b"repl\r\n"  # the deliberate way out, idle only
    us = hw.us
    app = runner.run(hw, 10**6, failing_app(10**9))
    assert hw.us - us < 100 * 5_000  # left at once, not after the tick budget
    assert [m.name for m in lines(hw) if m.kind == "ok"][-1] == "repl"
    assert not hw.stepper.enabled() and not hw.port.opened


def test_leaving_the_loop_in_any_way_disables_the_motor():
    hw = FakeHw()
    send(hw, "start", 3)
    app = runner.run(hw, 200, failing_app(10**9))
    assert app.controller.state == ctl.RUNNING
    assert not hw.stepper.enabled() and hw.stepper.idle()

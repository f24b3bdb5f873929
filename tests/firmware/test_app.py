# The main loop end to end on a fake board: commands in, steps, records, events (both lanes).
from pumpfw import controller as ctl
from pumpfw.app import App
from pumpfw.hw.fakeboard import FakeHw, events, lines, run_for, send

MIN = 60_000


def test_boot_says_hello_and_reboot():
    hw = FakeHw()
    app = App(hw)
    app.step()
    assert hw.wdt_timeout_ms is None  # armed only once an infusion is active
    msgs = lines(hw)
    assert msgs[0].kind == "hello" and msgs[0].fields["board"] == "testboard"
    assert msgs[0].fields["steps_per_ml"] == 400
    assert msgs[1].kind == "ev" and msgs[1].name == "reboot"
    assert [m.seq for m in msgs] == list(range(len(msgs)))


def test_infusion_3_runs_to_exactly_250_ml():
    hw = FakeHw(start_us=(1 << 30) - 5_000_000)  # the ticks wrap 5 s after boot
    app = App(hw)
    app.step()
    send(hw, "interval", 60_000)
    ref = send(hw, "start", 3)
    run_for(app, hw, 76 * MIN, max_step_ms=5_000)
    oks = [m for m in lines(hw) if m.kind == "ok" and m.ref == ref]
    assert oks and oks[0].name == "start"
    assert hw.wdt_timeout_ms == app.watchdog_ms and hw.fed > 1000
    assert app.controller.state == ctl.COMPLETE
    assert app.steps_made() == 250 * 400
    assert hw.stepper.steps() == 250 * 400
    assert not hw.stepper.enabled()
    done = events(hw, "complete")
    assert len(done) == 1 and done[0].fields["vol_ul"] == 250_000
    assert abs(done[0].fields["t_ms"] - 75 * MIN) <= 5_000


def test_records_carry_the_state_and_volume():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 2)
    run_for(app, hw, 10_500)
    recs = [m for m in lines(hw) if m.kind == "rec"]
    assert len(recs) >= 10
    last = recs[-1].fields
    assert last["st"] == "running" and last["inf"] == 2 and last["rate_ul_h"] == 50_000
    # 50 mL/h for ~10 s is ~139 uL; the record counts real steps (400 per mL).
    assert abs(last["vol_ul"] - last["t_ms"] * 50_000 // 3_600_000) <= 3
    assert last["steps"] * 1000 // 400 == last["vol_ul"]


def test_bad_input_changes_nothing():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 1)
    run_for(app, hw, 2_000)
    before = (app.controller.state, app.controller.rate_ul_h, app.controller.infusion)
    hw.port.rx += b"AT\r\nATZ\r\n\x00\xff\xfe garbage\r\n" + b"x" * 500 + b"\r\nstart 2\r\n"
    hw.port.rx += b"12 pause*0000\r\n"
    run_for(app, hw, 2_000)
    assert (app.controller.state, app.controller.rate_ul_h, app.controller.infusion) == before
    errs = [m for m in lines(hw) if m.kind == "err"]
    assert len(errs) >= 5


def test_pause_stops_the_motor_and_resume_continues():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 3)
    run_for(app, hw, 60_000)
    send(hw, "pause")
    run_for(app, hw, 10)
    steps = hw.stepper.steps()
    assert not hw.stepper.enabled()
    run_for(app, hw, 60_000)
    assert hw.stepper.steps() == steps
    send(hw, "resume")
    run_for(app, hw, 60_000)
    # 200 mL/h at 400 steps/mL: 22.2 steps/s for the time it ran (two minutes and the flash
    # writes' 50 ms each that fell inside the runs).
    infusing_ms = app.controller.infusing_ms()
    assert 2 * MIN <= infusing_ms < 2 * MIN + 1000
    assert abs(hw.stepper.steps() - infusing_ms * 200 * 400 // 3_600_000) <= 1


def test_a_second_infusion_on_the_same_board_delivers_its_own_250_ml():
    hw = FakeHw()
    app = App(hw)
    send(hw, "interval", 60_000)
    send(hw, "start", 3)
    run_for(app, hw, 76 * MIN, max_step_ms=5_000)
    first = hw.stepper.steps()
    send(hw, "start", 4)
    run_for(app, hw, 80 * MIN, max_step_ms=5_000)
    assert app.controller.state == ctl.COMPLETE and app.controller.infusion == 4
    assert app.steps_made() == 250 * 400 and hw.stepper.steps() == first + 250 * 400
    done = events(hw, "complete")
    assert len(done) == 2 and done[1].fields["t_ms"] - done[0].fields["t_ms"] >= 75 * MIN


def test_hello_comes_first_even_when_the_boot_recovers_an_infusion_or_finds_a_bad_journal():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 2)
    run_for(app, hw, 30_000)
    for corrupt in (False, True):
        if corrupt:
            with open(app.journal.path, "r+b") as f:
                f.write(b"#")
        hw2 = FakeHw(fs_root=hw.fs_root, start_us=hw.us + 10**9)
        App(hw2).step()
        msgs = lines(hw2)
        assert msgs[0].kind == "hello", msgs  # a host takes hello as the start of a boot
        names = [m.name for m in msgs if m.kind == "ev"]
        assert ("fault" if corrupt else "recovery") in names, names
        assert msgs[0].fields["steps_per_ml"] == 400


def test_a_status_answer_is_one_instant():
    hw = FakeHw()
    app = App(hw)
    send(hw, "start", 3)  # 200 mL/h: 22 steps/s at 400 steps/mL
    run_for(app, hw, 60_000)
    start_ms = events(hw, "start")[0].fields["t_ms"]
    ref = send(hw, "status")
    hw.us += 907_000  # the tick that reads it comes 907 ms after the previous one
    app.step()
    (st,) = [m.fields for m in lines(hw) if m.kind == "ok" and m.ref == ref]
    assert st["steps"] * 1000 // 400 == st["vol_ul"], st
    assert st["elapsed_ms"] == st["t_ms"] - start_ms == st["infusing_ms"], st
    assert st["remain_ul"] == 250_000 - st["vol_ul"]

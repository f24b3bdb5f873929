# Command dispatcher: every command, refusals that change nothing, two-step confirmations.
from fwtest import seeded_rng
from serialkit import Rig, drive_to, snapshot

from pumpfw import controller as ctl
from pumpfw import protocol as P


def test_every_command_in_the_table_has_a_handler():
    for spec in P.COMMANDS:
        if spec[0] == "confirm":
            continue  # handled before dispatch: see the confirmation tests
        rig = Rig()
        # Put the controller in a state where the command is allowed.
        for state in range(7):
            if spec[2] & (1 << state):
                break
        drive_to(rig.app.controller, state)
        rig.read()
        args = tuple(arg[1] for arg in spec[1])
        rig.disp._run(spec, args, 1, 10)
        msgs = rig.read()
        assert msgs[-1].kind in ("ok", "err"), spec[0]
        assert msgs[-1].reason != "unknown", spec[0]


def test_checked_start_runs_at_once_with_its_events_before_the_ok():
    rig = Rig()
    msgs = rig.cmd("start 2", 100, seq=41)
    assert [m.kind for m in msgs] == ["ev", "ev", "ok"]
    assert [m.name for m in msgs] == ["start", "rate", "start"]
    ok = msgs[-1]
    assert ok.ref == 41 and ok.fields == {"inf": 2}
    assert rig.app.controller.state == ctl.RUNNING and rig.app.controller.infusion == 2


def test_typed_start_asks_first_and_runs_only_on_the_right_token():
    rig = Rig()
    c = rig.app.controller
    ask = rig.reply("start 3", 100)
    assert ask.kind == "ask" and ask.fields["inf"] == 3 and c.state == ctl.IDLE
    ok = rig.reply("confirm %04X" % ask.fields["token"], 200)
    assert ok.kind == "ok" and ok.name == "start" and c.infusion == 3
    assert c.start_ms == 200  # runs at the confirmation time


def test_a_wrong_or_late_token_runs_nothing_and_cancels_the_ask():
    rig = Rig()
    c = rig.app.controller
    token = rig.reply("start 1", 0).fields["token"]
    err = rig.reply("confirm %04X" % (token ^ 1), 10)
    assert (err.kind, err.reason) == ("err", "confirm")
    assert rig.reply("confirm %04X" % token, 20).reason == "confirm"  # cancelled
    token = rig.reply("start 1", 30).fields["token"]
    late = 31 + P.CONFIRM_TTL_MS
    assert rig.reply("confirm %04X" % token, late).reason == "confirm"
    token = rig.reply("start 1", 40).fields["token"]
    assert rig.reply("status", 41).kind == "ok"  # any other command cancels the ask
    assert rig.reply("confirm %04X" % token, 42).reason == "confirm"
    assert c.state == ctl.IDLE


def test_clear_latch_is_two_step_even_with_a_checksum():
    rig = Rig()
    c = rig.app.controller
    c.start(0, 1)
    c.ir(10, 3)
    assert rig.reply("start 1", 20, seq=1).reason == "latched"
    ask = rig.reply("clear", 30, seq=2)
    assert ask.kind == "ask" and c.state == ctl.DISCONTINUED
    msgs = rig.cmd("confirm %04X" % ask.fields["token"], 40, seq=3)
    assert [m.name for m in msgs] == ["latch_cleared", "clear"] and msgs[-1].ref == 3
    assert c.state == ctl.IDLE


def test_confirm_rechecks_the_state():
    rig = Rig()
    c = rig.app.controller
    c.start(0, 1)
    c.pause(5)
    token = rig.reply("resume", 10).fields["token"]
    c.stop(11)  # e.g. the stop button between the ask and the confirm
    err = rig.reply("confirm %04X" % token, 12)
    assert (err.name, err.reason) == ("resume", "state") and c.state == ctl.STOPPED


def test_status_gives_the_program_position_a_host_can_run_forward():
    rig = Rig()
    c = rig.app.controller
    c.start(0, 1)  # infusion 1: 25 mL/h for 60 min, then +25 every 30 min
    c.tick(70 * 60_000, 0)  # the first escalation is behind it: 50 mL/h until 90 min
    f = rig.reply("status", 70 * 60_000).fields
    assert (f["phase"], f["step"], f["prog_rate_ul_h"], f["ir_grade"]) == ("ladder", 1, 50_000, 0)
    assert f["hold_ms"] == 20 * 60_000
    c.pause(75 * 60_000)  # paused: the hold left is frozen
    f = rig.reply("status", 80 * 60_000).fields
    assert (f["st"], f["hold_ms"]) == ("paused", 15 * 60_000)
    c.resume(80 * 60_000)
    c.ir(81 * 60_000, 2)  # interrupted: no escalation due
    f = rig.reply("status", 82 * 60_000).fields
    assert (f["st"], f["hold_ms"], f["ir_grade"]) == ("interrupted", -1, 2)
    ok = rig.reply("resolved", 83 * 60_000, seq=3)  # a state change: its ok says where it is
    assert (ok.fields["st"], ok.fields["rate_ul_h"]) == ("running", 12_500)
    f = rig.reply("status", 83 * 60_000).fields
    assert (f["phase"], f["step"], f["hold_ms"]) == ("post_ir", 0, 30 * 60_000)


def test_typed_safe_commands_run_directly():
    rig = Rig()
    c = rig.app.controller
    c.start(0, 1)
    assert rig.reply("ir 1", 10).kind == "ok" and c.ir_grade == 1
    assert rig.reply("pause", 20).kind == "ok" and c.state == ctl.PAUSED
    assert rig.reply("stop", 30).kind == "ok" and c.state == ctl.STOPPED


def test_grade2_without_interruption_is_an_explicit_confirmed_choice():
    rig = Rig()
    c = rig.app.controller
    c.start(0, 1)
    rig.read()
    assert rig.reply("ircontinue", 10).kind == "ask" and c.ir_grade == 0  # typed: read back
    msgs = rig.cmd("ircontinue", 20, seq=5)
    assert [(m.kind, m.name) for m in msgs] == [("ev", "ir"), ("ev", "ir_continue"),
                                                ("ok", "ircontinue")]
    assert msgs[1].fields == {"t_ms": 20, "grade": 2}
    assert c.state == ctl.RUNNING and c.rate_ul_h == 25_000 and c.interruptions == 0
    assert rig.reply("ir 2", 30).kind == "ok" and c.state == ctl.INTERRUPTED
    err = rig.reply("ircontinue", 40, seq=6)
    assert (err.kind, err.reason) == ("err", "state") and c.ir_count == 2


def test_reads_and_settings():
    rig = Rig()
    app = rig.app
    hello = rig.reply("id")
    assert hello.fields["board"] == "fake_board" and hello.fields["proto"] == P.PROTO_VERSION
    assert sorted(hello.fields) == sorted(P.HELLO_FIELDS)
    assert rig.reply("help").fields["cmds"] == ",".join(P.COMMAND_NAMES)
    app.steps = 777
    status = rig.reply("status", 5)
    assert sorted(status.fields) == sorted(P.RECORD_FIELDS + P.PROGRAM_FIELDS)
    assert status.fields["steps"] == 777 and status.fields["phase"] == "ladder"
    assert rig.reply("interval 250", seq=9).fields == {"ms": 250} and app.log_interval_ms == 250
    assert rig.reply("interval 99").reason == "range" and app.log_interval_ms == 250
    assert rig.reply("cal").fields == {"steps_per_ml": 20_000}
    assert rig.reply("setcal 31000").kind == "ask" and app.steps_per_ml == 20_000
    assert rig.reply("setcal 31000", seq=10).kind == "ok" and app.steps_per_ml == 31_000
    app.cal_result = P.E_RANGE  # the board refuses the value
    assert rig.reply("setcal 500", seq=11).reason == "range" and app.steps_per_ml == 31_000


def test_repl_only_when_no_infusion_is_active():
    rig = Rig()
    rig.app.controller.start(0, 1)
    assert rig.reply("repl", 1).reason == "state" and rig.app.repl_requested == 0
    rig.app.controller.stop(2)
    assert rig.reply("repl", 3).kind == "ok" and rig.app.repl_requested == 1


def test_an_app_exception_becomes_an_internal_error():
    rig = Rig()

    def broken(now_ms, ms):
        raise OSError(28)

    rig.app.set_log_interval = broken
    err = rig.reply("interval 500")
    assert err.reason == "internal" and "OSError" in err.text


def test_hello_and_event_lines():
    rig = Rig()
    rig.disp.hello()
    rig.disp.event(P.EV_REBOOT, 0, 3, 1)
    hello, ev = rig.read()
    assert hello.kind == "hello" and hello.fields["reset"] == "power_on"
    assert (ev.name, ev.fields["cause"], ev.fields["recovered"]) == ("reboot", "watchdog", 1)


GOOD = (b"start 1", b"pause", b"resume", b"ir 2", b"ir 3", b"resolved", b"stop", b"clear",
        b"interval 500", b"setcal 20000", b"confirm 1A2B", b"status", b"repl",
        b"ircontinue")  # fmt: skip


def _mutate(rng, line):
    for _ in range(rng.randint(1, 3)):
        op = rng.randint(0, 3)
        i = rng.randint(0, len(line))
        head, tail = line[:i], line[i:]
        if op == 0 and tail:
            line = head + bytes([tail[0] ^ (1 << rng.randint(0, 7))]) + tail[1:]
        elif op == 1:
            line = head + bytes([rng.randint(0, 255)]) + tail
        elif op == 2 and tail:
            line = head + tail[1:]
        else:
            line = head + bytes([b"0123456789 *-xAT"[rng.randint(0, 15)]]) + tail
    return line


def test_fuzz_mutated_commands_always_get_one_reply_and_errors_change_nothing():
    rng = seeded_rng(20_251)
    for case in range(2500):
        rig = Rig()
        drive_to(rig.app.controller,
                 (ctl.IDLE, ctl.RUNNING, ctl.PAUSED, ctl.DISCONTINUED)[case % 4])
        rig.read()
        good = GOOD[rng.randint(0, len(GOOD) - 1)]
        checked = rng.randint(0, 1)
        original = P.frame(case, good.decode())[:-2] if checked else good
        line = _mutate(rng, original)
        before = snapshot(rig.app.controller)
        cal = rig.app.steps_per_ml
        rig.disp.handle_line(line, 1000)
        msgs = rig.read()
        replies = [m for m in msgs if m.kind in ("ok", "err", "ask")]
        assert len(replies) == 1, (line, msgs)
        if replies[0].kind != "ok":
            assert snapshot(rig.app.controller) == before, line
            assert rig.app.steps_per_ml == cal and msgs == replies
        if checked and replies[0].kind == "ok":
            # A checksummed line that was corrupted must never be obeyed.
            star = original.rfind(b"*")
            assert line[:star] == original[:star] and line.upper() == original.upper(), line


def test_a_repeated_checked_line_gets_the_same_answer_without_running_twice():
    rig = Rig()
    c = rig.app.controller
    first = rig.cmd("start 1", 10, seq=7)
    assert [m.kind for m in first] == ["ev", "ev", "ok"]
    again = rig.cmd("start 1", 20, seq=7)  # the host lost the ok and retries the same line
    assert [(m.kind, m.ref, m.name) for m in again] == [("ok", 7, "start")]
    assert c.start_ms == 10 and c.changes == 1
    # A new sequence number is a new command: refused, since it is running.
    assert rig.reply("start 1", 30, seq=8).reason == "state"
    # Typed lines are never deduplicated: each one is answered on its own.
    assert rig.reply("pause", 40).kind == "ok"
    assert rig.reply("pause", 50).reason == "state"


def test_a_retry_is_answered_from_memory_even_after_other_lines():
    # The case: `N resume` ran, its ok was lost, the nurse paused from a terminal and
    # another client asked for the status; then the tool retries the very same `N resume`.
    rig = Rig()
    c = rig.app.controller
    assert rig.reply("start 1", 10, seq=40).kind == "ok"
    assert rig.reply("pause", 20).kind == "ok"
    first = rig.reply("resume", 30, seq=41)
    assert first.kind == "ok" and c.state == ctl.RUNNING
    assert rig.reply("pause", 40).kind == "ok"  # typed, by the nurse
    assert rig.reply("status", 50, seq=900).kind == "ok"  # another client
    assert rig.reply("ir 1", 60, seq=901).kind == "ok"
    again = rig.cmd("resume", 70, seq=41)
    assert [(m.kind, m.ref, m.name) for m in again] == [("ok", 41, "resume")]
    assert c.state == ctl.PAUSED  # answered from memory: not resumed a second time
    assert rig.reply("start 1", 80, seq=40).kind == "ok"  # older still, still remembered
    assert c.state == ctl.PAUSED and c.start_ms == 10


def test_the_replay_window_is_the_last_lines_for_a_limited_time():
    rig = Rig()
    c = rig.app.controller
    assert rig.reply("start 1", 0, seq=1).kind == "ok"
    for i in range(P.REPLAY_LINES - 1):
        rig.reply("status", 10 + i, seq=100 + i)
    assert rig.reply("start 1", 100, seq=1).kind == "ok"  # the oldest of the window: remembered
    rig.reply("status", 110, seq=200)  # one more line pushes it out
    assert rig.reply("start 1", 120, seq=1).reason == "state"  # a new command: run (refused)
    assert c.start_ms == 0
    assert rig.reply("pause", 130, seq=2).kind == "ok"
    late = 130 + P.REPLAY_TTL_MS + 1
    assert rig.reply("pause", late, seq=2).reason == "state"  # too late to be a retry: run


def test_a_retry_with_another_body_or_number_is_a_new_command():
    rig = Rig()
    assert rig.reply("start 1", 0, seq=5).kind == "ok"
    assert rig.reply("pause", 10, seq=5).kind == "ok"  # same number, other line: runs
    assert rig.app.controller.state == ctl.PAUSED
    assert rig.reply("start 1", 20, seq=6).reason == "state"


def test_every_command_has_its_handler():
    # Each row of the table names who runs it; the real App and controller have them all.
    from pumpfw.app import App
    from pumpfw.hw.fakeboard import FakeHw

    hw = FakeHw()
    app = App(hw)
    owners = {"controller": app.controller, "app": app, "console": app.console,
              "starts": app.starts}
    for spec in P.COMMANDS:
        owner, method = spec[4]
        assert callable(getattr(owners[owner], method, None)), (spec[0], owner, method)
    hw.cleanup()

"""The pump loop's ways out on the virtual board, through the boards' own loop body
(pumpfw.runner): an exception escaping a tick halts the motor, reports `ev fault what=exception`
with its alarm, journals the state with the motor off, and the watchdog's reset brings the
infusion back paused with nothing uncertain; a stray Ctrl-C changes nothing; `repl` says what
happened and how to come back."""

import time

import serial
from simkit import need_node

from host_tools.link.client import Client
from host_tools.sim.simboard import SimBoard


def messages_until(client, pred, timeout_s=10.0):
    out = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = client.read_message(0.2)
        if msg is None:
            continue
        out.append(msg)
        if pred(msg):
            return out
    raise AssertionError("not seen; got %r" % out[-10:])


def test_an_exception_in_a_tick_takes_the_boards_crash_path():
    need_node()
    with SimBoard(scale=1, pty=False) as sim, Client(sim.serial_url) as pump:
        pump.command("start", 3)
        sim.advance_ms(60_000, after_rx=pump.sent_bytes)
        sim.set_scale(1)
        before = pump.status()
        assert before["st"] == "running" and before["steps"] > 0
        sim.call("inject", what="exception")  # the next tick's serial read raises
        sim.advance_ms(100)
        sim.set_scale(1)
        seen = messages_until(pump, lambda m: m.kind == "ev" and m.name == "alarm")
        faults = [m for m in seen if m.kind == "ev" and m.name == "fault"]
        assert faults and faults[-1].fields["what"] == "exception"
        assert seen[-1].fields["what"] == "fault" and seen[-1].fields["detail"] == 3
        status = sim.status()
        assert status["crashed"]["type"] == "OSError" and status["motor_on"] is False
        steps = status["steps"]
        sim.advance_ms(10_000)  # the watchdog (4 s) resets the board; the infusion comes back
        sim.set_scale(1)
        seen = messages_until(pump, lambda m: m.kind == "ev" and m.name == "reboot")
        assert seen[-1].fields["cause"] == "watchdog" and seen[-1].fields["recovered"] == 1
        recovery = [m for m in seen if m.kind == "ev" and m.name == "recovery"]
        assert recovery and recovery[-1].fields["uncertain_ul"] == 0  # journaled, motor off
        back = pump.status()
        assert back["st"] == "paused" and back["inf"] == 3 and back["steps"] == steps
        assert sim.status()["steps"] == steps  # nothing moved after the crash


def read_text_until(ser, needle, timeout_s=10.0):
    got = b""
    deadline = time.monotonic() + timeout_s
    while needle not in got and time.monotonic() < deadline:
        got += ser.read(ser.in_waiting or 1)
    assert needle in got, got
    return got


def test_a_stray_ctrl_c_changes_nothing_and_repl_says_how_to_come_back():
    need_node()
    with SimBoard(scale=1, pty=False) as sim:
        ser = serial.serial_for_url(sim.serial_url, timeout=0.1)
        try:
            ser.write(b"\x03")
            read_text_until(ser, b"err - ? state Ctrl-C ignored")
            ser.write(b"status\r\n")
            read_text_until(ser, b"ok - status")  # still the pump
            assert sim.status()["exited"] is None
            ser.write(b"repl\r\n")
            text = read_text_until(ser, b"Ctrl-D restarts the pump")
            assert b"ok - repl" in text and b"pump loop ended" in text
            assert sim.status()["exited"] == "repl"
            ser.write(b"id\r\n")  # typed at what would be the REPL: the board says where it is
            read_text_until(ser, b"no REPL")
            ser.write(b"\x04")  # Ctrl-D: a soft reset, and the pump is back
            read_text_until(ser, b"reset=soft")
            status = sim.status()
            assert status["reset_cause"] == "soft" and status["exited"] is None
        finally:
            ser.close()

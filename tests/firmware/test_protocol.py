# Protocol codecs: every message and command round-trips through frame/parse (both lanes).
from fwtest import raises
from serialkit import FakeApp

from pumpfw import controller as ctl
from pumpfw import protocol as P


def _line(body, seq=7):
    return P.frame(seq, body)


def test_crc16_is_ccitt_false():
    assert P.crc16(b"123456789") == 0x29B1
    assert P.crc16(b"") == 0xFFFF
    # Continuing over a split gives the CRC of the whole.
    assert P.crc16(b"56789", P.crc16(b"1234")) == 0x29B1


def test_frame_layout():
    line = P.frame(42, "ok - id")
    assert line.endswith(b"\r\n")
    head, crc = line[:-2].split(b"*")
    assert head == b"42 ok - id"
    assert int(crc, 16) == P.crc16(head) and len(crc) == 4


def test_hello_round_trips():
    body = P.encode_hello("1.2.3", "pico w", 32_000, 400_000, 1000, 3)
    m = P.parse_line(_line(body, 0))
    assert m.seq == 0 and m.kind == "hello"
    assert sorted(m.fields) == sorted(P.HELLO_FIELDS)
    assert m.fields["proto"] == P.PROTO_VERSION
    assert m.fields["fw"] == "1.2.3" and m.fields["board"] == "pico_w"
    assert m.fields["steps_per_ml"] == 32_000 and m.fields["max_rate_ul_h"] == 400_000
    assert m.fields["interval_ms"] == 1000 and m.fields["reset"] == "watchdog"


def test_record_round_trips_every_field():
    app = FakeApp()
    c = app.controller
    c.start(1000, 2)
    c.tick(61_000, 1234)
    m = P.parse_line(_line(P.encode_record(61_000, c, 98_765, 17), 123_456))
    assert m.kind == "rec" and m.seq == 123_456
    assert sorted(m.fields) == sorted(P.RECORD_FIELDS)
    f = m.fields
    assert f["t_ms"] == 61_000 and f["inf"] == 2 and f["st"] == "running"
    assert f["rate_ul_h"] == c.rate_ul_h and f["vol_ul"] == 1234 and f["steps"] == 98_765
    assert f["infusing_ms"] == 60_000 and f["elapsed_ms"] == 60_000
    assert f["remain_ul"] == c.regimen.volume_ul - 1234 and f["drop"] == 17


def test_every_event_round_trips():
    # + alarm, fault, reboot, button, recovery, override, premed
    assert len(P.EVENTS) == len(ctl.EVENT_NAMES) - 1 + 7
    for name in ctl.EVENT_NAMES[1:]:
        assert name in P.EVENTS, name
    for name in P.EVENTS:
        code, fa, fb = P.EVENTS[name]
        a = 2 if code in (P.EV_REBOOT, P.EV_BUTTON, P.EV_ALARM, P.EV_FAULT) else 111
        m = P.parse_line(_line(P.encode_event(code, 5000, a, 222)))
        assert m.kind == "ev" and m.name == name
        assert m.fields["t_ms"] == 5000
        named = code in (P.EV_ALARM, P.EV_FAULT)  # these add what=<name>
        expect = 1 + (1 if fa else 0) + (1 if fb else 0) + (1 if named else 0)
        assert len(m.fields) == expect, (name, m.fields)
        if code == P.EV_REBOOT:
            assert m.fields["cause"] == "hard"
        elif code == P.EV_BUTTON:
            assert m.fields["press"] == "resume"
        elif named:
            assert m.fields[fa] == 2 and m.fields["what"] in (P.ALARM_NAMES[2], P.FAULT_NAMES[2])
        elif fa:
            assert m.fields[fa] == 111
        if fb:
            assert m.fields[fb] == 222


def test_unknown_event_code_is_still_sent_with_its_numbers():
    m = P.parse_line(_line(P.encode_event(99, 1, 2, 3)))
    assert m.name == "unknown" and m.fields == {"t_ms": 1, "code": 99, "a": 2, "b": 3}


def test_responses_round_trip():
    m = P.parse_line(_line(P.encode_ok(12, "start", "inf=3")))
    assert (m.kind, m.ref, m.name, m.fields) == ("ok", 12, "start", {"inf": 3})
    m = P.parse_line(_line(P.encode_ok(None, "pause")))
    assert (m.kind, m.ref, m.name, m.fields) == ("ok", None, "pause", {})
    for code in range(1, len(P.REASONS)):
        m = P.parse_line(_line(P.encode_err(5, "ir", code, "bad\r\nthing * here")))
        assert (m.kind, m.ref, m.name, m.reason) == ("err", 5, "ir", P.REASONS[code])
        assert m.text == "bad  thing * here"
    m = P.parse_line(_line(P.encode_ask(None, "clear", 0x00AF)))
    assert m.kind == "ask" and m.fields == {"token": 0xAF, "ttl_ms": P.CONFIRM_TTL_MS}


def _sample_args(spec, pick):
    return tuple(arg[1] if pick == 0 else arg[2] for arg in spec[1])


def test_every_command_round_trips_framed_and_typed():
    for spec in P.COMMANDS:
        for pick in (0, 1):
            args = _sample_args(spec, pick)
            for seq in (None, 0, 999_999):
                line = P.encode_command(seq, spec[0], args)
                assert line.endswith(b"\r\n")
                cmd = P.parse_command(line[:-2])
                assert cmd.error == P.E_OK, (line, cmd.message)
                assert cmd.name == spec[0] and cmd.args == args
                assert cmd.checked == (seq is not None) and cmd.ref == seq


def test_typed_commands_are_case_and_space_tolerant():
    cmd = P.parse_command(b"  START   12 ")
    assert cmd.error == P.E_OK and cmd.name == "start" and cmd.args == (12,)
    assert P.parse_command(b"confirm 0aF9").args == (0x0AF9,)


def test_bad_commands_get_the_right_reason():
    cases = (
        (b"", P.E_SYNTAX),
        (b"   ", P.E_SYNTAX),
        (b"frobnicate", P.E_UNKNOWN),
        (b"ATZ", P.E_UNKNOWN),
        (b"start", P.E_SYNTAX),
        (b"start 1 2", P.E_SYNTAX),
        (b"start x", P.E_SYNTAX),
        (b"start 0", P.E_RANGE),
        (b"start 1000", P.E_RANGE),
        (b"start -1", P.E_RANGE),
        (b"start 1234567890", P.E_SYNTAX),
        (b"ir 6", P.E_RANGE),
        (b"interval 99", P.E_RANGE),
        (b"confirm 12345", P.E_SYNTAX),
        (b"7 pause", P.E_CHECKSUM),
        (b"7 pause*ZZZZ", P.E_CHECKSUM),
        (b"7 pause*0000", P.E_CHECKSUM),
        (b"pause\x00", P.E_ENCODING),
        (b"p\xc3\xa9use", P.E_ENCODING),
        (b"x" * (P.MAX_LINE_BYTES + 1), P.E_TOOLONG),
    )
    for line, reason in cases:
        cmd = P.parse_command(line)
        assert cmd.error == reason, (line, cmd.error, cmd.message)
        assert cmd.message


def test_a_framed_line_needs_its_sequence_number():
    body = b"pause"
    line = body + (b"*%04X" % P.crc16(body))
    assert P.parse_command(line).error == P.E_SYNTAX


def test_every_single_bit_flip_of_a_line_is_caught_or_harmless():
    app = FakeApp()
    line = P.frame(31_337, P.encode_record(5, app.controller, 6, 0))[:-2]
    original = P.parse_line(line)
    for i in range(len(line)):
        for bit in range(8):
            bad = bytearray(line)
            bad[i] ^= 1 << bit
            try:
                m = P.parse_line(bytes(bad))
            except P.LineError:
                continue
            # Only a hex digit of the CRC changing case may pass: the content is unchanged.
            assert (m.seq, m.kind, m.fields) == (original.seq, original.kind, original.fields)
            assert bytes(bad).upper() == line.upper()


def test_device_lines_must_be_framed():
    raises(P.LineError, P.parse_line, b"ok - id")
    raises(P.LineError, P.parse_line, P.frame(1, "bogus x=1"))
    raises(P.LineError, P.parse_line, P.frame(1, "rec t_ms"))
    raises(P.LineError, P.parse_line, P.frame(1, "err 3 start"))


def test_command_table_is_consistent():
    assert len(set(P.COMMAND_NAMES)) == len(P.COMMANDS)
    for name, args, states, flags, handler, text in P.COMMANDS:
        assert name == name.lower() and name[:2] != "at" and text
        assert 0 < states <= 0x7F and flags in (P.F_DIRECT, P.F_CONFIRM, P.F_TWO_STEP)
        assert handler[0] in ("controller", "app", "starts", "console"), (name, handler)
        for arg_name, lo, hi, base in args:
            assert lo <= hi < (1 << 30) and base in (10, 16) and arg_name


def test_allowed_states_use_the_controllers_state_numbers():
    def mask(*states):
        m = 0
        for s in states:
            m |= 1 << s
        return m

    active = mask(ctl.RUNNING, ctl.PAUSED, ctl.INTERRUPTED)
    expect = {
        "start": mask(ctl.IDLE, ctl.COMPLETE, ctl.STOPPED),
        "pause": mask(ctl.RUNNING),
        "resume": mask(ctl.PAUSED),
        "ir": active,
        "resolved": active,
        "stop": active,
        "clear": mask(ctl.DISCONTINUED),
        "setcal": 0x7F & ~active,
        "repl": 0x7F & ~active,
    }
    for name in expect:
        assert P.command_spec(name)[2] == expect[name], name


def test_alarm_fault_and_button_events_name_what_they_are():
    from pumpfw import alarms
    from pumpfw import buttons as bt
    from pumpfw.app import FAULT_DRIVE, FAULT_EXCEPTION, FAULT_JOURNAL

    # The names go on the wire beside the codes the firmware raises.
    assert [P.FAULT_NAMES[c] for c in (FAULT_DRIVE, FAULT_JOURNAL, FAULT_EXCEPTION)] == [
        "drive", "journal", "exception"]
    line = P.frame(3, P.encode_event(P.EV_ALARM, 1000, alarms.LOW_VOLUME, 25_000))
    msg = P.parse_line(line)
    assert msg.name == "alarm" and msg.fields["what"] == "low_volume"
    assert msg.fields["code"] == alarms.LOW_VOLUME and msg.fields["detail"] == 25_000
    msg = P.parse_line(P.frame(4, P.encode_event(P.EV_BUTTON, 5, bt.EV_IR_INTERRUPT, 0)))
    assert msg.name == "button" and msg.fields["press"] == "ir_interrupt"
    msg = P.parse_line(P.frame(5, P.encode_event(P.EV_FAULT, 5, 99, 0)))
    assert msg.fields["what"] == "unknown"


def test_every_reason_code_is_named_by_its_own_name():
    from pumpfw import reasons

    codes = [n for n in dir(reasons) if n.startswith("E_")]
    assert len(codes) == len(reasons.NAMES) - 1 and reasons.NAMES[reasons.OK] == "ok"
    for name in codes:
        assert reasons.NAMES[getattr(reasons, name)] == name[2:].lower(), name


def test_the_crc_table_and_the_c_implementation_agree():
    from pumpfw import framing

    # The check value of CRC-16/CCITT-FALSE, and random lines, through the portable table.
    assert framing._crc16_nibbles(b"123456789") == 0x29B1 == framing.crc16(b"123456789")
    import random as r

    if hasattr(r, "seed"):
        r.seed(5)
    for n in range(200):
        data = bytes(r.getrandbits(8) for _ in range(n % 97))
        assert framing._crc16_nibbles(data) == framing.crc16(data)
        assert framing.crc16(data[n % 7 :], framing.crc16(data[: n % 7])) == framing.crc16(data)


def test_a_board_crc_unit_is_used_only_if_it_agrees_with_the_table():
    from pumpfw import framing

    calls = []

    def unit(data, crc):
        calls.append(len(data))
        return framing._crc16_nibbles(data, crc)

    try:
        assert not framing.use_crc_unit(lambda data, crc: 0)  # a wrong unit is refused
        assert framing.use_crc_unit(unit)
        calls.clear()
        line = P.frame(3, "ev pause t_ms=5")
        assert P.parse_line(line).name == "pause"
        if framing._crc_hqx is None:  # MicroPython: the unit does the work
            assert calls
    finally:
        framing.use_crc_unit(None)
    assert P.crc16(b"123456789") == 0x29B1


def test_the_byte_table_crc_agrees_with_the_nibble_table():
    from pumpfw import framing

    data = bytes(range(256)) + b"0 rec t_ms=1000 inf=3 st=running*"
    for start in (0, 0xFFFF, 0x1D0F, 0x8005):
        assert framing._crc16_bytes(data, start) == framing._crc16_nibbles(data, start)
    assert framing._crc16_bytes(b"123456789") == 0x29B1

"""HIL: a burst of bad input during an infusion is answered line by line and changes nothing."""

import random

import pytest

from hil_tests.hilkit import at_minute, measure_completion, run_to_completion, start
from pumpfw import protocol as P


def burst(first_seq):
    """(bytes, expected err reason) pairs: every line is wrong in its own way."""
    rnd = random.Random(5)  # fixed: a failure can be replayed byte for byte
    high = bytes(rnd.randrange(0x80, 0x100) for _ in range(60))
    seq = iter(range(first_seq, first_seq + 100))

    def checked(name, *args):
        return P.encode_command(next(seq), name, args)

    bad_crc = P.encode_command(next(seq), "stop").replace(b"*", b"*0").rstrip() + b"\r\n"
    flipped = bytearray(P.encode_command(next(seq), "pause"))
    flipped[-6] ^= 0x01  # one bit of the CRC
    return [
        (b"\x00\x00\x00 stop\r\n", "encoding"),
        (high + b"\r\n", "encoding"),
        (b"st\x07op\n", "encoding"),
        (b"\x03", "state"),  # Ctrl-C while infusing: refused
        (b"A" * 200 + b"\r\n", "toolong"),
        (b"stop " + b"9" * 130 + b"\n", "toolong"),
        (b"AT\r\n", "unknown"),
        (b"ATZ\r", "unknown"),
        (b"AT+CGMI\r\n", "unknown"),
        (b"AT&F E0 V1\n", "unknown"),
        (b"%d stop*0000\r\n" % next(seq), "checksum"),
        (b"%d stop\r\n" % next(seq), "checksum"),  # numbered, no CRC
        (bad_crc, "checksum"),
        (bytes(flipped), "checksum"),
        (b"fly 3\r\n", "unknown"),
        (b"rm -rf /\r\n", "unknown"),
        (b"ir 9\r\n", "range"),
        (b"ir 0\r\n", "range"),
        (b"ir -2\r\n", "range"),
        (b"ir two\r\n", "syntax"),
        (b"pause now please\r\n", "syntax"),
        (b"interval 5\r\n", "range"),
        (b"interval 999999999\r\n", "range"),
        (checked("start", 0), "range"),
        (checked("start", 1000), "range"),
        (checked("ir", 7), "range"),
        (checked("setcal", 5), "range"),
        (checked("start", 2), "state"),  # valid, but not while infusing
        (checked("resume"), "state"),
        (checked("clear"), "state"),
        (checked("setcal", 200), "state"),
        (b"repl\r\n", "state"),
        (b"confirm 1234\r\n", "confirm"),
    ]


@pytest.mark.device_min(76)
@pytest.mark.needs("time_warp")
def test_bad_input_burst_changes_nothing_and_the_infusion_completes_exactly(
        rig, pump, hil_record):
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 10)
    before = pump.status()
    cal = pump.run("cal").fields
    interval_ms = pump.identify()["interval_ms"]
    mark = len(pump.seen)
    lines = burst(pump.hseq + 1)
    pump.hseq += 100  # the sequence numbers the burst used
    for data, _ in lines:
        pump.write_raw(data)
    rig.wait_ms(30_000)
    after = pump.status()
    answers = [m for m in pump.seen[mark:-1] if m.kind != "rec"]
    errs = [m for m in answers if m.kind == "err"]
    hil_record.within("bad lines answered", len(errs), "lines", len(lines), 0)
    hil_record.within("ok/ask/events caused", len(answers) - len(errs), "messages", 0, 0)
    wrong = [(data[:24], want, got.reason) for (data, want), got in zip(lines, errs)
             if got.reason != want]
    hil_record.within("err reasons not as expected", len(wrong), "lines", 0, 0)
    for key in ("inf", "st", "rate_ul_h"):
        assert after[key] == before[key], "the burst changed %s: %r" % (key, wrong)
    hil_record.within("record interval", pump.identify()["interval_ms"], "ms", interval_ms, 0)
    hil_record.within("steps_per_ml", pump.run("cal").fields["steps_per_ml"], "steps/mL",
                      cal["steps_per_ml"], 0)
    done, status = run_to_completion(rig, pump, 100)
    measure_completion(hil_record, pump, start_ev, done, status, 75, 75)
    pump.raise_on_integrity()


def test_a_command_right_after_a_burst_is_answered_within_a_second(rig, pump, hil_record):
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 1)
    before = pump.status()
    lines = burst(pump.hseq + 1)
    pump.hseq += 100
    pump.write_raw(b"".join(data for data, _ in lines))
    ref = pump.send("status")  # in the same breath as the burst, as a busy host would
    rig.wait_ms(10_000)
    pump.command("id")  # answered after the status, if that is still waiting
    answer = [m for m in pump.seen if m.kind == "ok" and m.ref == ref]
    assert answer, "the status sent after the burst was never answered"
    hil_record.measure("status answered after", answer[0].fields["t_ms"] - before["t_ms"],
                       "ms", 0, 1000)


def test_a_stray_ctrl_c_on_an_idle_pump_is_answered_and_the_pump_stays(rig, pump, hil_record):
    """One 0x03 (line noise, a terminal, a modem manager) used to end an idle pump's loop: the
    board then answered nothing until a power cycle. Only `repl` leaves the loop now."""
    assert pump.status()["st"] == "idle"
    mark = len(pump.seen)
    pump.write_raw(b"\x03")
    rig.wait_ms(1_000)
    hello = pump.identify()  # still the pump, still answering
    errs = [m for m in pump.seen[mark:] if m.kind == "err"]
    hil_record.within("Ctrl-C answered with an err", len(errs), "lines", 1, 0)
    hil_record.within("err names repl", int(bool(errs) and "repl" in errs[0].text), "bool", 1, 0)
    hil_record.within("still this firmware", int(hello["proto"] == P.PROTO_VERSION), "bool", 1, 0)

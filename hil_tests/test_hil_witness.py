"""HIL: the balance, an independent witness, agrees with the firmware's log to one step, even
when the host stops reading (records are dropped and counted; steps, time and volume never)."""

import pytest

from hil_tests.hilkit import (
    VOLUME_UL,
    at_minute,
    balance_digit_steps,
    balance_steps,
    measure_completion,
    run_to_completion,
    start,
)

FAST_MS = 100  # the shortest record interval: the device's output backs up within seconds
STALL_MS = 5 * 60_000  # 3 000 records of ~130 bytes: far more than the device's buffers hold


def witness(rig, pump, record, grams_before, label):
    """Pause, then compare what the balance weighed with the steps the firmware logged."""
    spm = pump.hello["steps_per_ml"]
    status = pump.status()
    record.within("log volume vs steps (%s)" % label,
                  status["vol_ul"] - status["steps"] * 1000 // spm, "uL", 0, 0)
    error = balance_steps(rig, grams_before, spm) - status["steps"]
    record.within("balance - log (%s)" % label, round(error, 3), "steps", 0,
                  1 + balance_digit_steps(rig, spm), marginal=0.25)
    return status


@pytest.mark.needs("balance")
def test_balance_matches_the_log_at_each_pause(rig, pump, hil_record):
    before = rig.balance_grams()
    start_ev = start(pump, 3)
    for minute in (1, 2, 3):
        at_minute(rig, pump, start_ev, minute)
        pump.run("pause")
        status = witness(rig, pump, hil_record, before, "paused at %d min" % minute)
        assert status["steps"] > 0, "the pump made no steps in %d min" % minute
        pump.run("resume")


def missing_records(records, interval_ms):
    """Records absent from the device's regular sequence, from their own t_ms."""
    times = [r.fields["t_ms"] for r in records]
    return sum(round((b - a) / interval_ms) - 1 for a, b in zip(times, times[1:]))


@pytest.mark.device_min(76)
@pytest.mark.needs("host_stall", "time_warp", "balance")
def test_a_stalled_host_changes_no_step_and_the_drops_are_reported(rig, pump, hil_record):
    spm = pump.hello["steps_per_ml"]
    grams = rig.balance_grams()
    start_ev = start(pump, 3)
    at_minute(rig, pump, start_ev, 10)
    fast = pump.run("interval", FAST_MS)
    rig.stall_host(True)
    rig.wait_ms(STALL_MS)
    rig.stall_host(False)
    rig.wait_ms(1000)  # ten more records: the ones that close the gap and carry `drop`
    slow = pump.run("interval", 60_000)
    done, status = run_to_completion(rig, pump, 70)
    measure_completion(hil_record, pump, start_ev, done, status, 75, 75)
    hil_record.within("balance - 250 mL", round(balance_steps(rig, grams, spm)
                                                 - VOLUME_UL * spm // 1000, 3), "steps", 0,
                      1 + balance_digit_steps(rig, spm))
    seen = pump.seen
    stretch = seen[seen.index(fast) + 1:seen.index(slow)]
    records = [m for m in stretch if m.kind == "rec"]
    missing = missing_records(records, FAST_MS)
    hil_record.measure("records missing", missing, "records", 1, None)
    hil_record.within("lines lost (unexplained)", pump.check.lost, "lines", 0, 0)
    hil_record.within("host drop count - records missing", pump.check.dropped - missing,
                      "lines", 0, 0)
    hil_record.within("drop field after the stall", records[-1].fields["drop"]
                      - records[0].fields["drop"], "lines", missing, 0)

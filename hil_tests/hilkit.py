"""Helpers shared by the HIL tests: start an infusion, run it out, measure from device events."""

MIN_MS = 60_000
VOLUME_UL = 250_000  # the fixed-volume infusion of docs/infusion-schedule.md
# A duration measured from the device's own events may end up to one tick after the ideal last
# step; 0.05 min (3 s) is well below one step of the slowest rate at the finest calibration we
# would accept, and far below any schedule error (a missed step of a ladder is 30 min).
DURATION_TOL_MIN = 0.05


def start(pump, infusion):
    """Start `infusion` (confirmed); returns its `start` event."""
    pump.run("start", infusion)
    return pump.last_event("start")


def minutes_since(start_ev, t_ms):
    return (t_ms - start_ev.fields["t_ms"]) / MIN_MS


def at_minute(rig, pump, start_ev, minute):
    """Let device time pass until `minute` minutes after the start (a no-op if already past)."""
    status = pump.status()
    left_ms = start_ev.fields["t_ms"] + round(minute * MIN_MS) - status["t_ms"]
    if left_ms > 0:
        rig.wait_ms(left_ms)


def run_to_completion(rig, pump, within_min):
    """Let the infusion run out; returns (complete event, status after it)."""
    done = rig.until(pump, "complete", within_min * MIN_MS)
    return done, pump.status()


def measure_completion(record, pump, start_ev, done, status, duration_min, infusing_min):
    """The standard end-of-infusion measurements: durations, volume, steps."""
    spm = pump.hello["steps_per_ml"]
    record.within("duration", minutes_since(start_ev, done.fields["t_ms"]), "min",
                  duration_min, DURATION_TOL_MIN)
    record.within("elapsed_ms (record)", status["elapsed_ms"] / MIN_MS, "min",
                  duration_min, DURATION_TOL_MIN)
    record.within("infusing_ms (record)", status["infusing_ms"] / MIN_MS, "min",
                  infusing_min, DURATION_TOL_MIN)
    record.within("delivered (complete event)", done.fields["vol_ul"], "uL", VOLUME_UL, 0)
    record.within("steps made", status["steps"], "steps", VOLUME_UL * spm // 1000, 0)
    record.measure("state", 1 if status["st"] == "complete" else 0, "complete=1", 1, 1)


def rate_changes(pump, start_ev):
    """[(minutes since start the rate took effect, mL/h)] from the device's rate events."""
    out = []
    for ev in pump.events_seen("rate", since=start_ev):
        out.append((minutes_since(start_ev, ev.fields["since_ms"]),
                    ev.fields["rate_ul_h"] / 1000))
    return out


# A run from rest begins once the journal record that vouches for it is written (write-ahead):
# its lines report that instant (since_ms), and its program counts from it (docs/drive.md). The
# worst write is two sector erases at the flash's datasheet maxima (0.8 s): it begins within 1 s.
RUN_BEGINS_WITHIN_MIN = 1 / 60


def run_began(record, changes, command_min, what):
    """The minute the run began after the command at command_min (the first rate change at or
    after it, as the pump reports it): checked to be within RUN_BEGINS_WITHIN_MIN."""
    began = next(m for m, _ in changes if m >= command_min)
    record.within("%s: the run began after it" % what, began - command_min, "min",
                  RUN_BEGINS_WITHIN_MIN / 2, RUN_BEGINS_WITHIN_MIN / 2)
    return began


def measure_ladder(record, pump, start_ev, expected):
    """Each expected (minute, mL/h) step of the ladder happened exactly then, in order, counted
    from the instant the run began (which comes within RUN_BEGINS_WITHIN_MIN of the start)."""
    changes = rate_changes(pump, start_ev)
    record.within("rate changes", len(changes), "count", len(expected), 0)
    began = run_began(record, changes, 0, "start")
    for i, ((minute, rate), (want_min, want_rate)) in enumerate(zip(changes, expected)):
        record.within("rate %d" % i, rate, "mL/h", want_rate, 0)
        record.within("rate %d from" % i, minute - began, "min", want_min, 1 / MIN_MS)


def balance_steps(rig, grams_before, spm, density_g_per_ml=1.0):
    """What the balance says was delivered since grams_before, in motor steps."""
    return (rig.balance_grams() - grams_before) / density_g_per_ml * spm


def balance_digit_steps(rig, spm, density_g_per_ml=1.0):
    """The balance's last digit in motor steps: a difference of two readings is exact to within
    one digit (the virtual board: 0.08 steps at 80 steps/mL; a 1 mg balance on a 16 000 steps/mL
    board, the emulated Pico's: 16 steps)."""
    return rig.balance_readability_g() / density_g_per_ml * spm


def session_folder(tmp_path_factory):
    """A folder of this pytest run that every xdist worker shares (the emulated Pico's flash
    is made once in it, for the HIL suite and the tests/rp2 lane alike)."""
    import os

    folder = tmp_path_factory.getbasetemp()
    return folder.parent if os.environ.get("PYTEST_XDIST_WORKER") else folder

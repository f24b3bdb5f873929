"""One simulated patient: the course of infusions, each run through the real controller."""

# Every infusion is pumpfw.preview.run() (the firmware's Controller on a virtual clock with an
# ideal pump), fed the patient's reactions and the operator's practice as inputs, and summarised
# by host_tools.logs.timeline.summarise(), the same code that summarises a capture.
import functools
import math

import numpy as np

from host_tools.logs.timeline import summarise
from pumpfw import controller as ctl
from pumpfw import preview, protocol
from pumpfw.schedule import DEFAULT_REGIMEN, ISATUXIMAB_PART_A

MIN = 60_000
_FIELDS = {name: spec[1:] for name, spec in protocol.EVENTS.items()}


def nominal_min(infusion, regimen=DEFAULT_REGIMEN):
    """The protocol's duration with nothing happening: the fastest complete infusion."""
    return preview.run(regimen, infusion)["elapsed_ms"] / MIN


_NOMINAL = {n: nominal_min(n) for n in (1, 2, 3)}


@functools.lru_cache(maxsize=512)
def part_a(weight_kg, conc_ug_per_ml):
    """(Part A's regimen for this weight and bag, its nominal minutes for infusions 1, 2+)."""
    regimen = ISATUXIMAB_PART_A.for_patient(weight_kg, conc_ug_per_ml)
    return regimen, {n: nominal_min(n, regimen) for n in (1, 2)}


def regimen_for(s, weight_kg):
    """(regimen, {infusion: nominal min}) of the scenario's arm for one patient."""
    if s.arm == "A":
        regimen, nominal = part_a(weight_kg, int(round(s.conc_mg_per_ml * 1000)))
        return regimen, {1: nominal[1], 2: nominal[2], 3: nominal[2]}
    return DEFAULT_REGIMEN, _NOMINAL


def rng_for(seed, replicate, patient):
    """The patient's own random stream: the same whatever the chunking or the engine."""
    return np.random.default_rng([seed, replicate, patient])


def traits(s, rng):
    """The patient's own draws, before any infusion: weight (kg, whole), and the factors on
    their step-up holds and on their IR onset/resolution times (patient-level effects)."""
    z = rng.standard_normal(3)
    weight = int(round(s.weight_median_kg * math.exp(s.weight_sigma * z[0])))
    return {"weight_kg": min(200, max(35, weight)),
            "hold_factor": math.exp(s.patient_hold_sigma * z[1]),
            "ir_factor": math.exp(s.patient_ir_sigma * z[2])}


def course(s, rng):
    """Number of infusions: 4 in cycle 1, then 2 per 28-day cycle; the last cycle may be cut."""
    cycles = int(rng.choice(len(s.cycles_pmf), p=np.asarray(s.cycles_pmf))) + 1
    per_cycle = [4] + [2] * (cycles - 1)
    if s.last_cycle_partial:
        per_cycle[-1] = int(rng.integers(1, per_cycle[-1] + 1))
    return sum(per_cycle)


def _lognormal(rng, median, sigma):
    return median * math.exp(sigma * rng.standard_normal())


def _ms(minutes):
    return max(0, int(round(minutes * MIN)))


def inputs_for(s, rng, infusion, role, nominal=None, ir_factor=1.0):
    """The scripted inputs of one infusion: reactions, a pause, an early stop. nominal: the
    arm's nominal minutes by infusion (Part B's by default); ir_factor: the patient's own
    factor on IR onset and resolution times."""
    nominal = (nominal or _NOMINAL)[min(infusion, 3)]
    out = []
    if role["ir"] and infusion == role.get("at", 1):
        kind = preview.IR if role["interrupted"] or s.ir_grade != 2 else preview.IR_CONTINUE
        onset = ir_factor * _lognormal(rng, s.ir_onset_median_min, s.ir_onset_sigma)
        t = min(onset, nominal - 5)
        for episode in range(role["episodes"]):
            if episode:
                t += _lognormal(rng, s.ir_second_after_median_min, s.ir_onset_sigma)
            resolve = ir_factor * _lognormal(rng, s.ir_resolve_median_min, s.ir_resolve_sigma)
            out += [(_ms(t), kind, s.ir_grade), (_ms(t + resolve), preview.RESOLVED, 0)]
            t += resolve
    # Drawn whether used or not, so that a changed share moves nothing else.
    pause, at, length = rng.random(), rng.uniform(0, 1), rng.standard_normal()
    if pause < s.pause_share:
        at = 5 + at * (nominal - 10)
        length = s.pause_median_min * math.exp(s.pause_sigma * length)
        out += [(_ms(at), preview.PAUSE, 0), (_ms(at + length), preview.RESUME, 0)]
    stop, when = rng.random(), rng.uniform(0, 1)
    if stop < s.stop_early_share:
        at = nominal * (s.stop_early_from + when * (1 - s.stop_early_from))
        out.append((_ms(at), preview.STOP, 0))
    return out


def step_up_holds(rng, mean_min, initial_rate_ul_h):
    """react() for preview.run: at every rate increase the operator holds the pump for an
    exponential time (a check before each step-up), then resumes."""
    last = [initial_rate_ul_h]

    def react(c, now):
        if c.state != ctl.RUNNING or c.rate_ul_h <= last[0]:
            if c.state == ctl.RUNNING:
                last[0] = c.rate_ul_h
            return None
        last[0] = c.rate_ul_h
        hold = _ms(rng.exponential(mean_min))
        if hold == 0:
            return None
        return [(now, preview.PAUSE, 0), (now + hold, preview.RESUME, 0)]

    return react


def simulate(s, seed, replicate, patient, role, upto=None):
    """-> the summary rows of one patient's infusions (INFUSION_COLUMNS + replicate, arm,
    weight_kg); upto: only the first infusions (the same draws as in the whole course)."""
    rng = rng_for(seed, replicate, patient)
    me = traits(s, rng)
    regimen, nominal = regimen_for(s, me["weight_kg"])
    subject = "c%03d-p%03d" % (replicate, patient)
    source = "sim:%s seed=%d" % (s.name, seed)
    rows = []
    last = course(s, rng)
    for infusion in range(1, min(last, upto or last) + 1):
        # Each infusion its own stream: what one infusion draws never shifts the next one's,
        # so a changed assumption is compared on the same random numbers (cohort sweep, fit).
        rng = np.random.default_rng([seed, replicate, patient, infusion])
        inputs = inputs_for(s, rng, infusion, role, nominal, me["ir_factor"])
        mean = me["hold_factor"] * s.step_up_lag_mean_min[min(infusion, 2) - 1]
        react = None
        if mean > 0:
            react = step_up_holds(rng, mean, regimen.program(infusion).initial_rate_ul_h)
        result = preview.run(regimen, infusion, inputs, react=react)
        events = [(t, name, _fields(name, a, b)) for t, name, a, b in result["events"]]
        last = {"elapsed_ms": result["elapsed_ms"], "infusing_ms": result["infusing_ms"],
                "vol_ul": result["delivered_ul"]}
        row = summarise(events, last, subject=subject, source=source, index=infusion,
                        reboots=0, end_source=source)
        row.update(replicate=replicate, arm=s.arm, weight_kg=float(me["weight_kg"]))
        rows.append(row)
    return rows


def _fields(name, a, b):
    first, second = _FIELDS[name]
    out = {}
    if first:
        out[first] = a
    if second:
        out[second] = b
    return out

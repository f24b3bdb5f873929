# The infusion protocols as data: a rate ladder per infusion number plus the post-IR rules.
# Integer units only: rates in uL/h (mg/h for a dose regimen), durations in ms, volumes in uL
# (docs/infusion-schedule.md).
from pumpfw.compat import const

MINUTE_MS = const(60_000)
# A hold of 0 means "stay at this rate until the volume is infused".
UNTIL_DONE = const(0)


class Program:
    """One infusion's program: the ladder and what to do after a grade-2 IR.

    ladder: tuple of (rate_ul_h, hold_ms) steps, the last one with hold UNTIL_DONE.
    ladder_block_grade: an active IR of this grade or above holds escalation on the ladder.
    ir_increment_ul_h: the post-IR step, every ir_step_ms, up to max_rate_ul_h.
    """

    def __init__(self, ladder, ladder_block_grade, ir_increment_ul_h, ir_step_ms=30 * MINUTE_MS):
        if not ladder or ladder[-1][1] != UNTIL_DONE:
            raise ValueError("ladder must end with an UNTIL_DONE step")
        for rate, hold in ladder:
            if rate <= 0 or hold < 0:
                raise ValueError("ladder rates must be > 0 and holds >= 0")
        self.ladder = ladder
        self.ladder_block_grade = ladder_block_grade
        self.ir_increment_ul_h = ir_increment_ul_h
        self.ir_step_ms = ir_step_ms
        self.initial_rate_ul_h = ladder[0][0]
        self.max_rate_ul_h = max(rate for rate, _ in ladder)
        # "Resumed at one-half of the initial infusion rate" (seed, Methods).
        self.ir_resume_rate_ul_h = self.initial_rate_ul_h // 2
        # After a grade-2 IR, any recurring symptom (grade >= 1) holds escalation.
        self.ir_block_grade = 1


class Regimen:
    """A fixed-volume regimen: programs for infusion 1, 2, ... (the last one repeats)."""

    def __init__(self, name, volume_ul, programs):
        self.name = name
        self.volume_ul = volume_ul
        self.programs = programs

    def program(self, infusion):
        if infusion < 1:
            raise ValueError("infusion number must be >= 1")
        return self.programs[min(infusion, len(self.programs)) - 1]

    def max_rate_ul_h(self):
        return max(p.max_rate_ul_h for p in self.programs)


# Isatuximab 10 mg/kg as a 250 mL fixed-volume infusion (NCT02283775 Part B, Methods and Fig. 1).
ISATUXIMAB_250 = Regimen(
    "isatuximab-fixed-250",
    250_000,
    (
        # Infusion 1: 25 mL/h; with no IR after 1 h, +25 mL/h every 30 min up to 150 mL/h.
        Program(
            (
                (25_000, 60 * MINUTE_MS),
                (50_000, 30 * MINUTE_MS),
                (75_000, 30 * MINUTE_MS),
                (100_000, 30 * MINUTE_MS),
                (125_000, 30 * MINUTE_MS),
                (150_000, UNTIL_DONE),
            ),
            ladder_block_grade=1,
            ir_increment_ul_h=25_000,
        ),
        # Infusion 2: 50 mL/h; with no grade >= 2 IR, 100 and 200 mL/h for 30 min each, then 300.
        Program(
            (
                (50_000, 30 * MINUTE_MS),
                (100_000, 30 * MINUTE_MS),
                (200_000, 30 * MINUTE_MS),
                (300_000, UNTIL_DONE),
            ),
            ladder_block_grade=2,
            ir_increment_ul_h=50_000,
        ),
        # Infusion 3 and every later one: 200 mL/h until the volume is infused (75 min).
        Program(((200_000, UNTIL_DONE),), ladder_block_grade=2, ir_increment_ul_h=50_000),
    ),
)

DEFAULT_REGIMEN = ISATUXIMAB_250


# ---- dose mode: a regimen written in mg/h, turned into uL/h for one patient and one bag -----


class DoseRegimen:
    """A weight-based regimen written in mg/h: the same ladders, rates in mg/h instead of uL/h.

    for_patient() turns it into a Regimen the controller runs like any other: the dose is
    dose_mg_per_kg x weight, the bag's volume follows from its concentration, and every rate
    is converted mg/h -> uL/h rounding toward the slower rate (docs/infusion-schedule.md)."""

    def __init__(self, name, dose_mg_per_kg, programs_mg):
        self.name = name
        self.dose_mg_per_kg = dose_mg_per_kg
        self.programs_mg = programs_mg  # Program objects whose rates are mg/h

    def for_patient(self, weight_kg, conc_ug_per_ml, max_rate_ul_h=0):
        return dosed(self, weight_kg, conc_ug_per_ml, max_rate_ul_h)


def ul_per_h(rate_mg_h, conc_ug_per_ml):
    """mg/h -> uL/h at this concentration, rounded down: never faster than the mg/h asked.
    Fits a small int: 1000 mg/h x 10^6 = 10^9 < 2^30."""
    return rate_mg_h * 1_000_000 // conc_ug_per_ml


def dose_mg(regimen, weight_kg):
    return regimen.dose_mg_per_kg * weight_kg


def dosed(regimen, weight_kg, conc_ug_per_ml, max_rate_ul_h=0):
    """A DoseRegimen for one patient -> a Regimen in uL/h. The bag holds the dose: volume =
    dose / concentration, rounded down (the pump stops at most 1 uL short, never over).
    max_rate_ul_h (the board's, when given) caps every rate as the controller would."""
    if weight_kg <= 0 or weight_kg > 300:
        raise ValueError("weight must be 1..300 kg")
    if conc_ug_per_ml <= 0:
        raise ValueError("concentration must be > 0")
    dose = dose_mg(regimen, weight_kg)
    volume_ul = dose * 1000 // conc_ug_per_ml * 1000
    volume_ul += (dose * 1000 % conc_ug_per_ml) * 1000 // conc_ug_per_ml
    programs = []
    for p in regimen.programs_mg:
        ladder = []
        for rate_mg, hold in p.ladder:
            rate = ul_per_h(rate_mg, conc_ug_per_ml)
            if max_rate_ul_h and rate > max_rate_ul_h:
                rate = max_rate_ul_h
            ladder.append((rate, hold))
        prog = Program(tuple(ladder), p.ladder_block_grade,
                       ul_per_h(p.ir_increment_ul_h, conc_ug_per_ml), p.ir_step_ms)
        prog.rate_mg_h = tuple(rate for rate, _ in p.ladder)
        programs.append(prog)
    out = Regimen("%s-%dkg" % (regimen.name, weight_kg), volume_ul, tuple(programs))
    out.dose_mg = dose
    out.conc_ug_per_ml = conc_ug_per_ml
    return out


def _ladder_mg(start, step, top):
    """start, start+step, ... every 30 min, capped at top, held there until the dose is in."""
    out, rate = [], start
    while rate < top:
        out.append((rate, 30 * MINUTE_MS))
        rate += step
    out.append((top, UNTIL_DONE))
    return tuple(out)


# Isatuximab 10 mg/kg, weight-based volume, rate in mg/h (NCT02283775 Part A: the seed's
# Introduction): 175 mg/h, then every 30 min without IRs +50 mg/h (infusion 1) or +100 mg/h
# (later infusions), at most 400 mg/h. Any IR holds the ladder ("in the absence of IRs").
# Assumed (the seed gives no Part A IR rules): after a grade-2 interrupt, half the initial
# rate, then the ladder's own increment every 30 min, as in Part B.
ISATUXIMAB_PART_A = DoseRegimen(
    "isatuximab-part-a",
    10,
    (
        Program(_ladder_mg(175, 50, 400), ladder_block_grade=1, ir_increment_ul_h=50),
        Program(_ladder_mg(175, 100, 400), ladder_block_grade=1, ir_increment_ul_h=100),
    ),
)
# Assumed bag concentration (the seed gives none): 4 mg/mL, so 72 kg (720 mg) is 180 mL and
# 400 mg/h is 100 mL/h (docs/infusion-schedule.md, "Part A").
PART_A_CONC_UG_PER_ML = const(4000)

# The infusion protocols as data: a rate ladder per infusion number plus the post-IR rules.
# Integer units only: rates in uL/h, durations in ms, volumes in uL (docs/infusion-schedule.md).
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

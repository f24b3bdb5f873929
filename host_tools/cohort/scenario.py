"""Cohort scenarios: each assumption of the simulator as one named value (docs/cohort.md)."""

import dataclasses
import json
from pathlib import Path

from host_tools.logs.capfile import UserError

# The paper's cycles received (Results, Patients; Table 1 footnote c): median 9, range 1-19,
# 31/47 started >= 6 cycles, 18/47 started >= 12. Probability per number of cycles 1..19: flat
# within 1-5 and 6-11, falling as (20 - cycles)^2 within 12-19 (an assumption inside those
# anchors, which gives the paper's 871 infusions in 47 patients on average).
_TAIL = [(20 - k) ** 2 for k in range(12, 20)]
CYCLES_PMF = tuple([(1 - 31 / 47) / 5] * 5 + [(31 / 47 - 18 / 47) / 6] * 6
                   + [18 / 47 * w / sum(_TAIL) for w in _TAIL])


@dataclasses.dataclass(frozen=True)
class Scenario:
    """All parameters of a simulated cohort (minutes unless named otherwise). Where each value
    comes from (paper, assumed, invented, fitted): docs/cohort.md, "The assumptions"."""

    name: str = "paper"
    arm: str = "B"  # B: 250 mL fixed volume, mL/h (the paper); A: 10 mg/kg by weight, mg/h
    patients: int = 47
    cycles_pmf: tuple = CYCLES_PMF  # P(cycles = 1), P(= 2), ...
    last_cycle_partial: bool = True  # the last cycle may stop before all its doses
    # Infusion reactions (Results, Safety): 19/47 patients, all grade 2, infusion 1 only,
    # 20 episodes, 18 of the 19 interrupted, 1 not.
    ir_patient_share: float = 19 / 47
    ir_second_episode_share: float = 1 / 19
    ir_not_interrupted_share: float = 1 / 19
    ir_later_share: float = 0.0  # of the IR patients, those whose IR is at ir_later_infusion
    ir_later_infusion: int = 2
    ir_grade: int = 2
    ir_onset_median_min: float = 60.0  # assumption: lognormal, early in the infusion
    ir_onset_sigma: float = 0.6
    ir_resolve_median_min: float = 30.0  # assumption: lognormal; "recovered the same day"
    ir_resolve_sigma: float = 0.6
    ir_second_after_median_min: float = 45.0  # after the first resolved
    # Practice: a hold at every rate step-up (the nurse checks before increasing; the pump is
    # paused meanwhile), exponential with this mean: infusion 1, infusions 2+. Fitted:
    # `pumpctl cohort fit --replicates 20 --seed 1` (docs/cohort.md), medians of 20 cohorts.
    step_up_lag_mean_min: tuple = (2.75, 2.34)
    pause_share: float = 0.035  # infusions with one operator pause
    pause_median_min: float = 15.0  # lognormal
    pause_sigma: float = 1.0
    stop_early_share: float = 0.012  # doses stopped before the whole volume ...
    stop_early_from: float = 0.5  # ... uniformly from this fraction of the program to its end
    # Patients differ (invented spreads, lognormal factors per patient): one factor on all
    # the patient's step-up holds, one on the patient's IR onset and resolution times.
    patient_hold_sigma: float = 0.5
    patient_ir_sigma: float = 0.4
    # Weight (invented: the paper gives none), lognormal; the dose in arm A is 10 mg/kg.
    weight_median_kg: float = 75.0
    weight_sigma: float = 0.2
    conc_mg_per_ml: float = 4.0  # arm A's bag (assumed: the paper gives no concentration)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=1)


PAPER = Scenario()
# The same patients and reactions on this pump as it is: escalation on time, no hold at the
# step-ups (the lag is a manual-pump habit), the same pauses and early stops.
PUMP = dataclasses.replace(PAPER, name="pump", step_up_lag_mean_min=(0.0, 0.0))
# The protocol alone: no reaction, no deviation (200 / 105 / 75 min every time).
NOMINAL = dataclasses.replace(PAPER, name="nominal", ir_patient_share=0.0,
                              step_up_lag_mean_min=(0.0, 0.0), pause_share=0.0,
                              stop_early_share=0.0)
# Part A, the comparator (Table 2, Fig. 2): 31 patients at 10 mg/kg; 48.3 % with an IR
# (Results, Safety: 15 of 31), 42 % of patients at infusion 1 and 6.7 % later (Introduction,
# for all 45 Part A patients): 13 at infusion 1, 2 at infusion 2 (assumed), one episode
# each, all interrupted (assumed; Part A's one grade-3 IR is not modelled). The practice and
# the course are Part B's assumptions; the hold means are fitted to Table 2's Part A.
PART_A = dataclasses.replace(PAPER, name="part-a", arm="A", patients=31,
                             ir_patient_share=15 / 31, ir_second_episode_share=0.0,
                             ir_not_interrupted_share=0.0, ir_later_share=2 / 15,
                             step_up_lag_mean_min=(2.72, 9.61))
SCENARIOS = {s.name: s for s in (PAPER, PUMP, NOMINAL, PART_A)}


def load(name_or_path):
    """A scenario by name (paper, pump, nominal, part-a) or a JSON file of fields over `paper`
    (or over `part-a` when the file says "arm": "A")."""
    if name_or_path in SCENARIOS:
        return SCENARIOS[name_or_path]
    path = Path(name_or_path)
    if not path.exists():
        raise UserError("no scenario %r: use %s or a JSON file" % (
            name_or_path, ", ".join(SCENARIOS)))
    try:
        fields = json.loads(path.read_text())
    except ValueError as exc:
        raise UserError("%s: not JSON (%s)" % (path, exc)) from None
    known = {f.name for f in dataclasses.fields(Scenario)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise UserError("%s: unknown fields %s (known: %s)" % (path, ", ".join(unknown),
                                                               ", ".join(sorted(known))))
    for key, value in fields.items():
        if isinstance(value, list):
            fields[key] = tuple(value)
    fields.setdefault("name", path.stem)
    base = PART_A if fields.get("arm") == "A" else PAPER
    return check(dataclasses.replace(base, **fields))


def check(s):
    """Refuse a scenario that cannot be simulated, with the reason."""
    shares = ("ir_patient_share", "ir_second_episode_share", "ir_not_interrupted_share",
              "ir_later_share", "pause_share", "stop_early_share")
    for name in shares:
        if not 0 <= getattr(s, name) <= 1:
            raise UserError("%s must be 0..1, got %r" % (name, getattr(s, name)))
    if not 0 <= s.stop_early_from <= 1:
        raise UserError("stop_early_from must be 0..1")
    if s.patients < 1:
        raise UserError("patients must be >= 1")
    if abs(sum(s.cycles_pmf) - 1) > 1e-6 or min(s.cycles_pmf) < 0:
        raise UserError("cycles_pmf must be probabilities that add up to 1")
    if not 1 <= s.ir_grade <= 2:
        raise UserError("ir_grade must be 1 or 2 (grade >= 3 discontinues: not this model)")
    if len(s.step_up_lag_mean_min) != 2 or min(s.step_up_lag_mean_min) < 0:
        raise UserError("step_up_lag_mean_min: two means >= 0 (infusion 1, infusions 2+)")
    if s.arm not in ("A", "B"):
        raise UserError("arm must be A (10 mg/kg, mg/h) or B (250 mL, mL/h)")
    if s.ir_later_infusion < 2:
        raise UserError("ir_later_infusion must be >= 2")
    for name in ("patient_hold_sigma", "patient_ir_sigma", "weight_sigma"):
        if not 0 <= getattr(s, name) <= 3:
            raise UserError("%s must be 0..3, got %r" % (name, getattr(s, name)))
    if not 30 <= s.weight_median_kg <= 200:
        raise UserError("weight_median_kg must be 30..200")
    if not 0.1 <= s.conc_mg_per_ml <= 50:
        raise UserError("conc_mg_per_ml must be 0.1..50")
    return s

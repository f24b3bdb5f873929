# Dose mode: Part A in mg/h turned into uL/h for one patient (runs on CPython and MicroPython).
from pumpfw import controller as ctl
from pumpfw import preview
from pumpfw import schedule as S

MIN = 60_000


def test_part_a_for_72_kg_is_720_mg_in_180_ml_and_its_ladders_in_ul_h():
    r = S.ISATUXIMAB_PART_A.for_patient(72, 4000)
    assert r.dose_mg == 720 and r.volume_ul == 180_000
    # 175 mg/h, +50 every 30 min to 400 (infusion 1); +100 later; 4 mg/mL -> mL/h = mg/h / 4
    assert [rate for rate, _ in r.program(1).ladder] == [43_750, 56_250, 68_750, 81_250,
                                                          93_750, 100_000]
    assert [rate for rate, _ in r.program(2).ladder] == [43_750, 68_750, 93_750, 100_000]
    assert r.program(7) is r.program(2)
    assert [hold for _, hold in r.program(2).ladder] == [30 * MIN] * 3 + [S.UNTIL_DONE]
    assert r.program(1).ir_resume_rate_ul_h == 21_875 and r.program(2).ir_increment_ul_h == 25_000


def test_mg_to_ul_rounds_toward_the_slower_rate_and_the_volume_down():
    # 175 mg/h at 3 mg/mL is 58 333.3 uL/h: 58 333, never 58 334
    assert S.ul_per_h(175, 3000) == 58_333
    assert S.ul_per_h(400, 3000) * 3000 <= 400 * 1_000_000
    r = S.ISATUXIMAB_PART_A.for_patient(73, 3000)
    assert r.volume_ul == 243_333  # 730 mg / 3 mg/mL = 243.33 mL, down to the uL
    for p in r.programs:
        for rate_ul, rate_mg in zip([rate for rate, _ in p.ladder], p.rate_mg_h):
            assert rate_ul * 3000 <= rate_mg * 1_000_000 < (rate_ul + 1) * 3000


def test_the_board_maximum_caps_a_dose_regimen_too():
    r = S.ISATUXIMAB_PART_A.for_patient(72, 1000, max_rate_ul_h=300_000)  # 1 mg/mL: 400 mL/h
    assert max(rate for p in r.programs for rate, _ in p.ladder) == 300_000
    c = ctl.Controller(S.ISATUXIMAB_PART_A.for_patient(72, 1000), 300_000)
    assert c.start(0, 2) == ctl.OK
    c.tick(200 * MIN, 0)
    assert c.rate_ul_h <= 300_000


def test_the_controller_runs_part_a_like_any_program():
    r = S.ISATUXIMAB_PART_A.for_patient(72, 4000)
    first = preview.run(r, 1)
    assert first["outcome"] == "complete" and first["delivered_ul"] == 180_000
    # 175, 225, 275, 325, 375 mg/h for 30 min each: 687.5 mg at 150 min, then the last
    # 32.5 mg at 400 mg/h in 4.875 min
    assert first["elapsed_ms"] == 154_875 * 60
    later = preview.run(r, 3)
    assert later["elapsed_ms"] == 136_125 * 60  # 175, 275, 375 for 30 min, then 400 mg/h


def test_bad_weights_and_concentrations_are_refused():
    for weight, conc in ((0, 4000), (301, 4000), (72, 0)):
        try:
            S.ISATUXIMAB_PART_A.for_patient(weight, conc)
        except ValueError:
            continue
        raise AssertionError("accepted %r kg at %r ug/mL" % (weight, conc))

"""Power cuts at 100 random instants across infusions 1, 2 and 3 (issue 7's fault injection)."""

import random

import pytest
from powercut import MIN, check, cut_and_recover

from pumpfw.schedule import ISATUXIMAB_250 as REG

DURATION_MIN = {1: 200, 2: 105, 3: 75}
CUTS = {1: 34, 2: 33, 3: 33}  # 100 in all


@pytest.mark.parametrize("infusion", [1, 2, 3])
def test_power_cut_at_random_instants(infusion):
    rng = random.Random(7_000 + infusion)
    max_rate = REG.program(infusion).max_rate_ul_h
    for _ in range(CUTS[infusion]):
        cut_ms = rng.randint(1, DURATION_MIN[infusion] * MIN - 1)
        check(cut_and_recover(infusion, cut_ms), max_rate)

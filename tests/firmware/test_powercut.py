# Power cuts at a few instants (the host lane cuts at 100): recover paused, end at 250 mL.
from powercut import MIN, check, cut_and_recover

from pumpfw.schedule import ISATUXIMAB_250 as REG


def test_cut_while_running_recovers_paused_and_finishes_exactly():
    for infusion, cut_ms in ((3, 31 * MIN + 2_345), (2, 95 * MIN + 17)):
        check(cut_and_recover(infusion, cut_ms), REG.program(infusion).max_rate_ul_h)


def test_cut_right_after_start_and_near_the_end():
    check(cut_and_recover(3, 1_500), 200_000)
    check(cut_and_recover(3, 74 * MIN + 55_000), 200_000)

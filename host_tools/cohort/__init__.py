"""Cohort simulator: patients x their course, each infusion run through the real controller."""

# Typical use (docs/cohort.md):
#   from host_tools import cohort
#   table = cohort.simulate(cohort.PAPER, seed=1, replicates=20)   # the summary's columns
#   cohort.paper.beside_paper(table)                               # medians next to the paper's
#   cohort.simulate(cohort.PART_A, seed=1, replicates=20)          # Part A, the comparator
from host_tools.cohort import paper  # noqa: F401
from host_tools.cohort.engine import COLUMNS, roles, simulate  # noqa: F401
from host_tools.cohort.scenario import (  # noqa: F401
    NOMINAL,
    PAPER,
    PART_A,
    PUMP,
    SCENARIOS,
    Scenario,
    load,
)

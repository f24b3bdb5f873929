"""Hypothesis: random pauses and IRs never break the controller's invariants."""

from fwtest import MIN, InvariantChecker, check_random_script
from hypothesis import given, settings
from hypothesis import strategies as st

from pumpfw import controller as ctl
from pumpfw import preview
from pumpfw.schedule import ISATUXIMAB_250 as REG

inputs_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=320 * MIN),
        st.sampled_from(preview.INPUT_KINDS),
        st.integers(min_value=1, max_value=5),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(infusion=st.integers(min_value=1, max_value=12), inputs=inputs_strategy)
def test_random_inputs_keep_invariants(infusion, inputs):
    result = check_random_script(REG, infusion, inputs)
    assert result["outcome"] in ("complete", "discontinued", "stopped", "interrupted", "paused")
    grade3 = [t for t, kind, arg in inputs if kind == preview.IR and arg >= 3]
    if result["outcome"] == "discontinued":
        assert grade3
    if result["outcome"] == "complete":
        assert result["elapsed_ms"] >= result["infusing_ms"] > 0


@settings(max_examples=200, deadline=None)
@given(
    infusion=st.integers(min_value=1, max_value=4),
    at=st.integers(min_value=0, max_value=74 * MIN),
    grade=st.integers(min_value=3, max_value=5),
)
def test_grade3_freezes_volume_and_rate(infusion, at, grade):
    checker = InvariantChecker(REG, infusion)
    result = preview.run(REG, infusion, [(at, preview.IR, grade)], observe=checker)
    assert result["outcome"] == "discontinued"
    assert result["elapsed_ms"] == at
    assert result["delivered_ul"] < REG.volume_ul
    assert result["segments"][-1][4] == result["delivered_ul"]


@settings(max_examples=200, deadline=None)
@given(
    pauses=st.lists(
        st.tuples(st.integers(0, 200 * MIN), st.integers(1, 60 * MIN)), max_size=5
    ),
    infusion=st.integers(min_value=1, max_value=3),
)
def test_pauses_only_add_their_own_length(pauses, infusion):
    """Paused time never counts toward a rate step: infusing time is unchanged."""
    base = preview.run(REG, infusion)
    inputs = []
    for at, length in pauses:
        inputs += [(at, preview.PAUSE, 0), (at + length, preview.RESUME, 0)]
    result = preview.run(REG, infusion, inputs)
    assert result["outcome"] == "complete"
    assert result["infusing_ms"] == base["infusing_ms"]
    assert result["delivered_ul"] == REG.volume_ul
    t = result["time_in_state_ms"]
    assert result["elapsed_ms"] == base["elapsed_ms"] + t[ctl.PAUSED]


@settings(max_examples=200, deadline=None)
@given(max_rate=st.integers(min_value=1_000, max_value=400_000), infusion=st.integers(1, 5))
def test_no_rate_ever_exceeds_the_board_maximum(max_rate, infusion):
    seen = []
    preview.run(REG, infusion, max_rate_ul_h=max_rate,
                observe=lambda c, now: seen.append(c.rate_ul_h))
    assert seen and max(seen) <= max_rate

"""host_tools.logs on captures of the real controller: durations, integrity, cohort, U test."""

import numpy as np
import pandas as pd
import pytest
from capkit import MIN, VirtualDevice, corrupt, write_capture

from host_tools import logs
from host_tools.logs import capfile
from pumpfw import preview
from pumpfw import protocol as P

IR_45_RESOLVED_65 = [(45 * MIN, preview.IR, 2), (65 * MIN, preview.RESOLVED, 0)]


def three_infusions():
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(1, IR_45_RESOLVED_65)
    dev.infusion(2, [(20 * MIN, preview.PAUSE, 0), (35 * MIN, preview.RESUME, 0),
                     (50 * MIN, preview.IR, 1)])
    dev.infusion(3, [(30 * MIN, preview.STOP, 0)])
    return dev


def test_infusion_1_grade2_ir_durations_match_the_controller(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    own = dev.infusion(1, IR_45_RESOLVED_65)
    table = logs.summary(logs.load(write_capture(tmp_path / "a.cap", dev.lines)))
    assert len(table) == 1
    row = table.iloc[0]
    assert row["duration_min"] == 247.5 == own["elapsed_ms"] / MIN
    assert row["infusing_min"] == 227.5 == own["infusing_ms"] / MIN
    assert row["interrupted_min"] == 20
    assert row["n_interruptions"] == own["interruptions"] == 1
    assert row["ir_grades"] == "2" and row["max_ir_grade"] == 2
    assert row["delivered_ml"] == own["delivered_ul"] / 1000 == 250
    assert row["outcome"] == "complete" and row["timing"] == "events"


def test_several_infusions_split_and_summarised(tmp_path):
    dev = three_infusions()
    log = logs.load(write_capture(tmp_path / "b.cap", dev.lines))
    table = logs.summary(log)
    assert list(table["infusion"]) == [1, 2, 3]
    assert list(table["outcome"]) == ["complete", "complete", "stopped"]
    for (_, row), own in zip(table.iterrows(), dev.results, strict=True):
        assert row["duration_min"] == own["elapsed_ms"] / MIN
        assert row["infusing_min"] == own["infusing_ms"] / MIN
        assert row["delivered_ml"] == own["delivered_ul"] / 1000
        assert row["device_elapsed_min"] == own["elapsed_ms"] / MIN
    assert table.loc[1, "paused_min"] == 15 and table.loc[1, "n_pauses"] == 1
    assert table.loc[1, "ir_grades"] == "1" and table.loc[1, "n_interruptions"] == 0
    assert table.loc[2, "duration_min"] == 30
    # the records of each infusion are its own
    parts = logs.split(log)
    assert [set(p.records["inf"]) for p in parts] == [{1}, {2}, {3}]
    assert len(log.records) == sum(len(p.records) for p in parts)


def test_sequence_gap_is_reported_and_the_rest_still_loads(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(1, IR_45_RESOLVED_65)
    kept = dev.lines[:100] + dev.lines[105:]  # five records lost on the way
    log = logs.load(write_capture(tmp_path / "gap.cap", kept, markers=[(100, "gap", "usb")]))
    counts = log.integrity().iloc[0]
    assert counts["seq_gaps"] == 1 and counts["seq_missing"] == 5 and counts["corrupted"] == 0
    got = log.lines[log.lines["entry"] == "line"]
    at = got[got["missing_before"] > 0]
    assert list(at["seq"]) == [105]
    assert list(log.lines.loc[log.lines["entry"] == "marker", "kind"]) == ["gap"]
    assert len(log.records) == sum(1 for _, raw in kept if b" rec " in raw)
    # events survived, so the Table 2 numbers do too
    assert logs.summary(log).iloc[0]["duration_min"] == 247.5


def test_corrupted_line_is_counted_and_excluded_never_dropped(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(3)
    lines = list(dev.lines)
    i = next(k for k, (_, raw) in enumerate(lines) if b" rec " in raw and k > 10)
    bad = corrupt(lines[i][1])
    lines[i] = (lines[i][0], bad)
    log = logs.load(write_capture(tmp_path / "bad.cap", lines))
    counts = log.integrity().iloc[0]
    assert counts["corrupted"] == 1 and counts["checksum_failures"] == 1
    assert counts["seq_gaps"] == 0  # it was received, only damaged
    row = log.lines[log.lines["status"] != "ok"].iloc[0]
    assert row["kind"] == "corrupt" and capfile.unescape(row["raw"]) == bad
    assert int(bad.split(b" ")[0]) not in set(log.records["seq"])
    assert len(log.records) == sum(1 for _, raw in dev.lines if b" rec " in raw) - 1


def test_reordered_lines_are_flagged(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(3)
    lines = list(dev.lines)
    lines[8], lines[9] = lines[9], lines[8]
    log = logs.load(write_capture(tmp_path / "r.cap", lines))
    assert log.integrity().iloc[0]["reordered"] == 1


def test_record_columns_are_the_protocol_fields(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(2)
    log = logs.load(write_capture(tmp_path / "c.cap", dev.lines))
    assert tuple(log.records.columns[4:]) == P.RECORD_FIELDS
    first = P.parse_line(next(raw for _, raw in dev.lines if b" rec " in raw))
    assert {k: log.records.iloc[0][k] for k in first.fields} == first.fields
    assert log.records["host_time"].dt.tz is not None
    assert list(log.events["event"][:2]) == ["start", "rate"]


def test_folder_and_plain_logs(tmp_path):
    dev = three_infusions()
    write_capture(tmp_path / "one.cap", dev.lines[:300])
    write_capture(tmp_path / "two.cap", dev.lines[300:])
    (tmp_path / "notes.txt").write_text("not a capture\n")
    log = logs.load(tmp_path)
    assert len(log.sources) == 2
    assert len(log.messages) == len(dev.lines)
    plain = tmp_path / "plain" / "term.log"
    plain.parent.mkdir()
    plain.write_bytes(b"".join(raw for _, raw in dev.lines))
    table = logs.summary(logs.load(plain))
    assert list(table["infusion"]) == [1, 2, 3]
    assert table["start_host_time"].isna().all()


def test_user_mistakes(tmp_path):
    with pytest.raises(logs.LogError, match="no such file"):
        logs.load(tmp_path / "missing.cap")
    with pytest.raises(logs.LogError, match="no capture files"):
        logs.load(tmp_path)


def _table(durations_h):
    return pd.DataFrame({"infusion": [n for n, _ in durations_h], "outcome": "complete",
                         "duration_h": [h for _, h in durations_h],
                         "duration_min": [h * 60 for _, h in durations_h]})


def test_cohort_median_and_range_by_infusion_number(tmp_path):
    elapsed = {1: [], 2: []}
    for k, at in enumerate((20, 45, 90)):
        dev = VirtualDevice()
        dev.hello()
        own = dev.infusion(1, [(at * MIN, preview.IR, 2), ((at + 10 * k) * MIN + MIN,
                                                          preview.RESOLVED, 0)])
        elapsed[1].append(own["elapsed_ms"] / MIN / 60)
        elapsed[2].append(dev.infusion(2)["elapsed_ms"] / MIN / 60)
        write_capture(tmp_path / ("p%d.cap" % k), dev.lines)
    table = logs.summary(logs.load(tmp_path))
    got = logs.cohort(table).set_index("infusion_group")
    assert got.loc["1", "n"] == 3
    assert got.loc["1", "median_h"] == pytest.approx(np.median(elapsed[1]))
    assert got.loc["1", "min_h"] == pytest.approx(min(elapsed[1]))
    assert got.loc["2", "max_h"] == pytest.approx(1.75)  # 105 min, docs/infusion-schedule.md
    lumped = logs.cohort(_table([(3, 1.0), (4, 2.0), (7, 4.0), (1, 3.7)]))
    assert list(lumped["infusion_group"]) == ["1", "3+"]
    assert lumped.iloc[1]["text"] == "2.00 h (range 1.00-4.00)"  # 1.85 h never reads 1.9 h


def test_mann_whitney_against_a_hand_count():
    a = _table([(1, 1.0), (1, 2.0), (1, 3.0), (2, 1.5)])
    b = _table([(1, 4.0), (1, 5.0), (1, 6.0), (2, 1.0)])
    with pytest.warns(logs.SmallSampleWarning) as caught:
        res = logs.compare(a, b).set_index("infusion_group")
    # every A value is below every B value: U_A = 0; exact two-sided p = 2 / C(6, 3) = 0.1
    assert res.loc["1", "u_statistic"] == 0
    assert res.loc["1", "p_value"] == pytest.approx(0.1)
    assert res.loc["1", "median_a_h"] == 2.0 and res.loc["1", "median_b_h"] == 5.0
    # one patient a side: no test, and a word about it; three: p given, but flagged
    assert res.loc["2", "n_a"] == 1 and np.isnan(res.loc["2", "p_value"])
    words = [str(w.message) for w in caught]
    assert any("infusion 2: n = 1 and 1: no test" in w for w in words)
    assert any("infusion 1: n = 3 and 3: p-value given but cannot show" in w for w in words)


def test_named_event_fields_stay_text_beside_numbers(tmp_path):
    """Alarm/fault names (`what`) and button presses (`press`) are text; the rest stays ints."""
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(3, [(10 * MIN, preview.PAUSE, 0), (14 * MIN, preview.RESUME, 0)])
    dev._emit(80 * MIN, P.encode_event(P.EV_ALARM, 80 * MIN, 2, 120))
    dev._emit(81 * MIN, P.encode_event(P.EV_BUTTON, 81 * MIN, 1, 0))
    dev._emit(82 * MIN, P.encode_event(P.EV_OVERRIDE, 82 * MIN, 4, P.OVERRIDE_NUMBER))
    log = logs.load(write_capture(tmp_path / "named.cap", dev.lines))
    ev = log.events.set_index("event")
    assert ev.loc["alarm", "what"] == "ir_waiting" and ev.loc["alarm", "detail"] == 120
    assert ev.loc["button", "press"] == "pause"
    assert ev.loc["override", "bits"] == P.OVERRIDE_NUMBER
    assert str(log.events["t_ms"].dtype) == "Int64"
    assert logs.summary(log).iloc[0]["duration_min"] == 79

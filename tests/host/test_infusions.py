"""No infusion lost silently: late captures, lost start lines, files split mid-infusion, open
infusions and reboots; the summary's IR, premedication and override columns."""

import re
import warnings

import pytest
from capkit import HOST_NS0, MIN, VirtualDevice, write_capture

from host_tools import logs
from host_tools.logs import capfile, cohortstats, infusions, series
from pumpfw import controller as ctl
from pumpfw import persist, preview
from pumpfw import protocol as P

IR2 = [(45 * MIN, preview.IR, 2), (65 * MIN, preview.RESOLVED, 0)]


def two_infusions():
    dev = VirtualDevice()
    dev.hello()
    first = dev.infusion(1, IR2)
    second = dev.infusion(2, [(20 * MIN, preview.PAUSE, 0), (35 * MIN, preview.RESUME, 0)])
    return dev, first, second


def index_of(lines, text, nth=0):
    hits = [i for i, (_, raw) in enumerate(lines) if text in raw]
    return hits[nth]


def test_capture_started_mid_infusion_is_rebuilt_from_its_records(tmp_path):
    dev, first, second = two_infusions()
    late = dev.lines[index_of(dev.lines, b" rec ", 30):]  # 30 records in: after the IR
    table = logs.summary(logs.load(write_capture(tmp_path / "late.cap", late)))
    assert list(table["infusion"]) == [1, 2]
    row = table.iloc[0]
    assert row["rebuilt"] == "start_before_capture" and row["outcome"] == "complete"
    assert row["duration_min"] == first["elapsed_ms"] / MIN  # from elapsed_ms in the records
    assert row["delivered_ml"] == 250
    assert table.iloc[1]["rebuilt"] == "" and table.iloc[1]["paused_min"] == 15


def test_a_start_line_lost_in_a_gap_is_rebuilt_and_flagged(tmp_path):
    dev, first, second = two_infusions()
    at = index_of(dev.lines, b" ev start ", 1)
    kept = dev.lines[:at] + dev.lines[at + 2:]  # infusion 2's start and first rate lost
    table = logs.summary(logs.load(write_capture(tmp_path / "gap.cap", kept)))
    assert list(table["infusion"]) == [1, 2]
    row = table.iloc[1]
    assert row["rebuilt"] == "start_lost_in_gap" and row["outcome"] == "complete"
    assert row["duration_min"] == second["elapsed_ms"] / MIN
    assert row["paused_min"] == 15  # its pause and resume events were kept


def test_an_infusion_split_over_two_captures_is_joined(tmp_path):
    dev, first, second = two_infusions()
    cut = index_of(dev.lines, b" rec ", 100)  # in the middle of infusion 1
    write_capture(tmp_path / "a.cap", dev.lines[:cut])
    write_capture(tmp_path / "b.cap", dev.lines[cut:])
    table = logs.summary(logs.load(tmp_path))
    assert list(table["infusion"]) == [1, 2] and list(table["outcome"]) == ["complete"] * 2
    row = table.iloc[0]
    assert row["rebuilt"] == "joined" and row["end_source"].endswith("b.cap")
    assert row["duration_min"] == first["elapsed_ms"] / MIN == 247.5
    assert row["interrupted_min"] == 20 and row["ir_onset_min"] == 45


def test_the_two_captures_named_one_by_one_are_joined_as_their_folder_is(tmp_path, capsys):
    # issue 21: `pumpctl report a.cap b.cap` listed the split infusion twice (open, then
    # start_before_capture) and counted N=2 where the folder gives one joined row
    import pandas as pd

    from host_tools.commands.cli import main

    dev, first, second = two_infusions()
    cut = index_of(dev.lines, b" rec ", 100)
    (tmp_path / "caps").mkdir()
    a = write_capture(tmp_path / "caps" / "a.cap", dev.lines[:cut])
    b = write_capture(tmp_path / "caps" / "b.cap", dev.lines[cut:])
    tables, counts = [], []
    for given in ([str(b), str(a)], [str(tmp_path / "caps")]):
        out = tmp_path / ("rep%d" % len(tables))
        assert main(["report", *given, "-o", str(out)]) == 0
        tables.append(pd.read_csv(out / "infusions.csv", keep_default_na=False))
        counts.append(re.findall(r" N=(\d+) ", capsys.readouterr().out))
    files, folder = tables
    assert list(files["infusion"]) == [1, 2] and list(files["rebuilt"]) == ["joined", ""]
    assert files.drop(columns=["source", "end_source"]).equals(
        folder.drop(columns=["source", "end_source"]))
    assert counts[0] == counts[1] and counts[0]  # the same N as the folder


def test_open_infusions_are_listed_and_warned_about_never_dropped(tmp_path):
    dev, first, second = two_infusions()
    cut = index_of(dev.lines, b" rec ", 300)
    table = logs.summary(logs.load(write_capture(tmp_path / "open.cap", dev.lines[:cut])))
    assert list(table["outcome"]) == ["complete", "open"]
    with pytest.warns(cohortstats.LeftOutWarning, match=r"1 infusion\(s\) left out.*open"):
        medians = logs.cohort(table)
    assert list(medians["n"]) == [1]


def test_an_end_line_lost_ends_where_the_records_say(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    own = dev.infusion(3)
    dev.now += 10 * MIN
    dev.record()  # the pump idles after the end: its records still say complete
    at = index_of(dev.lines, b" ev complete ")
    table = logs.summary(logs.load(write_capture(tmp_path / "e.cap",
                                                 dev.lines[:at] + dev.lines[at + 1:])))
    row = table.iloc[0]
    assert row["outcome"] == "complete" and row["rebuilt"] == "end_from_record"
    assert row["duration_min"] == own["elapsed_ms"] / MIN == 75


def reboot_capture(path, off_ms, scale=1):
    """Infusion 3 paused by a power cut at 30 min, the board off for off_ms, restored paused
    from its journal, resumed 2 min after boot. Host time follows each boot's clock; scale: a
    virtual board whose clock runs `scale` times real time (host time = device time / scale)."""
    lines = []
    c = ctl.Controller(VirtualDevice().regimen, 400_000, None)
    seq = [0]
    base = [0]

    def emit(t_ms, body):
        lines.append((base[0] + t_ms, P.frame(seq[0], body)))
        seq[0] += 1

    c.on_event = lambda code, t, a, b: emit(t, P.encode_event(code, t, a, b))
    pump = preview.IdealPump(250_000)
    emit(0, P.encode_hello("0.1.0", "virtual", 20_000, 400_000, 60_000, 1))
    c.start(MIN, 3)
    for t in range(2 * MIN, 31 * MIN, MIN):
        pump.run(c.rate_ul_h, MIN)
        c.tick(t, pump.delivered_ul())
        emit(t, P.encode_record(t, c, 0, 0))
    snap = persist.snapshot(c, 30 * MIN)
    base[0], seq[0] = 30 * MIN + off_ms, 0
    c2 = ctl.Controller(c.regimen, 400_000, lambda code, t, a, b: emit(
        t, P.encode_event(code, t, a, b)))
    persist.restore(c2, snap, 0, c.delivered_ul)
    emit(0, P.encode_hello("0.1.0", "virtual", 20_000, 400_000, 60_000, 1))
    emit(0, P.encode_event(P.EV_REBOOT, 0, 1, 1))
    emit(0, P.encode_event(P.EV_RECOVERY, 0, c.delivered_ul, 0))
    c2.resume(2 * MIN)
    t = 2 * MIN
    while c2.active():
        step = min(MIN, pump.ms_to_finish(c2.rate_ul_h))
        pump.run(c2.rate_ul_h, step)
        t += step
        c2.tick(t, pump.delivered_ul())
        emit(t, P.encode_record(t, c2, 0, 0))
    with capfile.CaptureWriter(path, port="virtual", host_ns=HOST_NS0) as w:
        for host_ms, raw in lines:
            w.line(raw, HOST_NS0 + host_ms * 10**6 // scale + 1000)
    return path, c2


def test_duration_across_a_reboot_counts_the_time_off_from_host_times(tmp_path):
    path, c2 = reboot_capture(tmp_path / "r.cap", off_ms=7 * MIN)
    row = logs.summary(logs.load(path)).iloc[0]
    assert row["reboots"] == 1 and row["timing"] == "host" and row["outcome"] == "complete"
    assert row["off_min"] == 7
    assert row["duration_min"] == c2.elapsed_ms() / MIN + 7  # the device's own excludes it
    assert row["device_elapsed_min"] == c2.elapsed_ms() / MIN
    assert row["infusing_min"] == 75 and row["paused_min"] == 2
    assert row["duration_min"] == 75 + 2 + 7
    inf = infusions.split(logs.load(path))[0]
    assert series.spans(inf) == [("off", 29, 36), ("paused", 36, 38)]
    rate = series.rate_series(inf).set_index("t_min")["rate_ml_h"]
    assert rate.loc[29].iloc[-1] == 0 and rate.loc[38] == 200  # nothing while off or paused


def test_a_power_cut_on_a_time_scaled_virtual_board_is_bridged_at_its_clock_rate(tmp_path):
    # make sim SCALE=10 and a power cut: device time runs 10x the host's. Bridging the two boots
    # by host time as if both clocks ran alike put the events after the boot 38 min before the
    # start (KeyError: 'inf' in pumpctl report); the device clock's rate is read from the log.
    path, c2 = reboot_capture(tmp_path / "r.cap", off_ms=7 * MIN, scale=10)
    row = logs.summary(logs.load(path)).iloc[0]
    assert row["reboots"] == 1 and row["timing"] == "host" and row["outcome"] == "complete"
    assert row["off_min"] == pytest.approx(7, abs=0.01)
    assert row["duration_min"] == pytest.approx(c2.elapsed_ms() / MIN + 7, abs=0.01)
    assert row["infusing_min"] == pytest.approx(75, abs=0.01)


def test_ir_premedication_and_override_columns(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    dev._emit(dev.now + 8 * MIN, P.encode_event(P.EV_PREMED, dev.now + 8 * MIN, 20, 0))
    dev.infusion(1, IR2)  # starts 10 min later: 32 min after the premedication
    t = dev.now + 5 * MIN
    dev._emit(t, P.encode_event(P.EV_PREMED, t, 5, 0))
    dev._emit(dev.now + 10 * MIN, P.encode_event(P.EV_OVERRIDE, dev.now + 10 * MIN, 3,
                                                 P.OVERRIDE_PREMED | P.OVERRIDE_NUMBER))
    dev.infusion(3, [(5 * MIN, preview.IR_CONTINUE, 0), (25 * MIN, preview.RESOLVED, 0)])
    table = logs.summary(logs.load(write_capture(tmp_path / "p.cap", dev.lines)))
    one, three = table.iloc[0], table.iloc[1]
    assert one["ir_onset_min"] == 45 and one["ir_resolved_min"] == 65
    assert one["ir_episodes"] == "45-65" and one["n_ir_continued"] == 0
    assert one["premed_to_start_min"] == 22 and one["premed_window"] == "target"
    assert three["premed_to_start_min"] == 10 and three["premed_window"] == "outside"
    assert three["overrides"] == "number,premed"
    assert three["n_ir_continued"] == 1 and three["n_interruptions"] == 0
    assert three["ir_grades"] == "2" and three["interrupted_min"] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logs.cohort(table)  # nothing left out, nothing to warn about


@pytest.mark.parametrize("minutes,window", [(None, ""), (14.9, "outside"), (15, "target"),
                                            (30, "target"), (30.5, "late"), (60, "late"),
                                            (61, "outside")])
def test_premedication_window(minutes, window):
    from host_tools.logs.timeline import premed_window

    assert premed_window(minutes) == window


def test_without_host_times_a_reboot_falls_back_to_the_controllers_totals(tmp_path):
    path, c2 = reboot_capture(tmp_path / "r.cap", off_ms=7 * MIN)
    plain = tmp_path / "plain.log"  # a terminal recording: the same lines, no host times
    lines = logs.load(path).lines
    plain.write_bytes(b"".join(capfile.unescape(r) for r in lines.loc[
        lines["entry"] == "line", "raw"]))
    row = logs.summary(logs.load(plain)).iloc[0]
    assert row["timing"] == "device" and row["reboots"] == 1
    assert row["duration_min"] == c2.elapsed_ms() / MIN  # the time off cannot be known

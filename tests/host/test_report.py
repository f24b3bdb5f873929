"""`pumpctl report` on a captured infusion 1 with a grade-2 IR: table, plots, plotted values."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from capkit import MIN, VirtualDevice, write_capture

from host_tools import logs
from host_tools.commands import report
from host_tools.commands.cli import main
from host_tools.logs import figures, infusions
from pumpfw import preview
from pumpfw import protocol as P


@pytest.fixture(scope="module")
def capture_ir(tmp_path_factory):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(1, [(45 * MIN, preview.IR, 2), (65 * MIN, preview.RESOLVED, 0)])
    path = tmp_path_factory.mktemp("cap") / "inf1.cap"
    return write_capture(path, dev.lines), dev


def decoded(dev, kind):
    """The log's messages, decoded here straight from the raw lines (not via host_tools)."""
    return [m for m in (P.parse_line(raw) for _, raw in dev.lines) if m.kind == kind]


def test_report_writes_table_and_plots(capture_ir, tmp_path, capsys):
    path, dev = capture_ir
    out = tmp_path / "rep"
    assert main(["report", str(path), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "247.5" in printed and "227.5" in printed
    table = pd.read_csv(out / "infusions.csv")
    assert table.loc[0, "duration_min"] == 247.5 and table.loc[0, "infusing_min"] == 227.5
    assert json.loads((out / "infusions.json").read_text())[0]["ir_grades"] == "2"
    png, svg = out / "infusion_01_1.png", out / "infusion_01_1.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert b"<svg" in svg.read_bytes()[:2000] and svg.stat().st_size > 10_000
    # the series written next to the plot are the log's records (and rate-setting events)
    rate = pd.read_csv(out / "infusion_01_1_rate.csv")
    recs = decoded(dev, "rec")
    start_ms = decoded(dev, "ev")[0].fields["t_ms"]
    from_recs = rate[rate["from"] == "rec"]
    assert list(from_recs["rate_ml_h"]) == [m.fields["rate_ul_h"] / 1000 for m in recs]
    assert list(from_recs["t_min"]) == [(m.fields["t_ms"] - start_ms) / MIN for m in recs]


def test_plotted_lines_are_the_log_values(capture_ir):
    path, dev = capture_ir
    inf = infusions.split(logs.load(path))[0]
    fig, _, _ = report.plot_infusion(inf)
    ax_rate, ax_vol = fig.axes
    start_ms = decoded(dev, "ev")[0].fields["t_ms"]
    recs = decoded(dev, "rec")
    vol_xy = ax_vol.lines[0].get_xydata()
    expected = [((m.fields["t_ms"] - start_ms) / MIN, m.fields["vol_ul"] / 1000) for m in recs]
    assert [tuple(p) for p in vol_xy[: len(expected)]] == expected
    rate_xy = {tuple(p) for p in ax_rate.lines[0].get_xydata()}
    for m in recs:
        assert ((m.fields["t_ms"] - start_ms) / MIN, m.fields["rate_ul_h"] / 1000) in rate_xy
    # the interrupt: rate 0 from 45 min, 12.5 mL/h from the resolution at 65 min
    assert (45.0, 0.0) in rate_xy and (65.0, 12.5) in rate_xy
    marked = sorted({round(line.get_xdata()[0], 3) for line in ax_vol.lines[1:]
                     if line.get_xdata()[0] == line.get_xdata()[-1]})
    assert marked == [45.0, 65.0, 247.5]
    figures.plt.close(fig)


def test_the_figure_is_fit_for_a_paper(capture_ir, tmp_path):
    path, dev = capture_ir
    inf = infusions.split(logs.load(path))[0]
    fig, _, _ = figures.plot_infusion(inf)
    ax_rate, ax_vol = fig.axes
    planned = ax_rate.lines[1]
    assert planned.get_label().startswith("planned program")
    assert sorted(set(planned.get_ydata()))[1:] == [25, 50, 75, 100, 125, 150]
    assert [tuple(ln.get_ydata()) for ln in ax_vol.lines if ln.get_label().startswith(
        "target")] == [(250, 250)]
    shaded = [p for p in ax_rate.patches if p.get_label().startswith("interrupted (reaction)")]
    assert len(shaded) == 1 and shaded[0].get_x() == 45 and shaded[0].get_width() == 20
    assert not ax_rate.texts and not ax_vol.texts  # no label over the data
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "interrupted (reaction): 20 min" in legend
    assert "infusion reaction (grade 2)" in legend and "reaction resolved" in legend
    assert not [w for w in legend if "_" in w]  # human words, not internal names
    assert "board virtual, firmware 0.1.0, 20000 steps/mL, captured 2027-01-15" in \
        fig.texts[0].get_text()
    paths = figures.save(fig, tmp_path, "f")
    png, svg, pdf = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and _png_dpi(png) == 300
    assert b"<svg" in svg.read_bytes()[:2000] and pdf.read_bytes()[:5] == b"%PDF-"


def _png_dpi(path):
    """Dots per inch from the PNG's pHYs chunk."""
    import struct

    data = path.read_bytes()
    at = data.index(b"pHYs")
    per_m = struct.unpack(">I", data[at + 4:at + 8])[0]
    return round(per_m * 0.0254)


def test_repeated_alarms_are_one_legend_entry_with_their_count(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(3, [(10 * MIN, preview.PAUSE, 0), (22 * MIN, preview.RESUME, 0)])
    start = [t for t, raw in dev.lines if b" ev start " in raw][0]
    alarms = [(start + (12 + 2 * k) * MIN, P.encode_event(P.EV_ALARM, start + (12 + 2 * k) * MIN,
                                                          1, 120 * (k + 1))) for k in range(5)]
    lines = sorted(dev.lines + [(t, P.frame(900 + k, body)) for k, (t, body) in
                                enumerate(alarms)], key=lambda x: x[0])
    inf = infusions.split(logs.load(write_capture(tmp_path / "a.cap", lines)))[0]
    fig, _, _ = figures.plot_infusion(inf)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "reminder: still paused (x5)" in legend
    assert "paused: 12 min" in legend
    figures.plt.close(fig)


def test_table2_and_fig2_for_two_groups(tmp_path, capsys):
    from host_tools import cohort
    from host_tools.logs import tables

    small = dataclasses.replace(cohort.PAPER, patients=10)
    a = cohort.simulate(small, seed=2, replicates=1, workers=1)
    b = cohort.simulate(dataclasses.replace(small, name="pump", step_up_lag_mean_min=(0, 0)),
                        seed=2, replicates=1, workers=1)
    tables.write_table(a, tmp_path, "a")
    tables.write_table(b, tmp_path, "b")
    out = tmp_path / "rep"
    assert main(["report", str(tmp_path / "b.parquet"), "--name", "this pump", "--against",
                 str(tmp_path / "a.csv"), "--against-name", "paper practice", "-o",
                 str(out)]) == 0
    md = (out / "table2.md").read_text()
    assert "| Median duration of infusion, h | paper practice N=10 | this pump N=10 |" in md
    t2 = pd.read_csv(out / "table2.csv").set_index("infusion")
    first_a = a.loc[(a["infusion"] == 1) & (a["outcome"] == "complete"), "duration_h"]
    first_b = b.loc[(b["infusion"] == 1) & (b["outcome"] == "complete"), "duration_h"]
    from scipy import stats

    want = stats.mannwhitneyu(first_a, first_b, alternative="two-sided").pvalue
    assert t2.loc["1st Infusion", "p_value"] == pytest.approx(want)
    assert t2.loc["≥3rd Infusion", "median_b_h"] == 1.25
    complete_a = a[a["outcome"] == "complete"]
    assert t2.loc["≥2nd Infusion", "n_a"] == (complete_a["infusion"] >= 2).sum()
    assert t2.loc["≥2nd Infusion", "patients_a"] == complete_a.loc[
        complete_a["infusion"] >= 2, "subject"].nunique()
    for ext in ("png", "svg", "pdf"):
        assert (out / ("fig2." + ext)).stat().st_size > 5_000
    assert "≥3rd Infusion" in capsys.readouterr().out


def test_an_open_infusion_is_reported_with_a_warning(tmp_path, capsys):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(1)
    cut = len(dev.lines) // 2
    path = write_capture(tmp_path / "o.cap", dev.lines[:cut])
    assert main(["report", str(path), "-o", str(tmp_path / "r"), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "warning: 1 infusion(s) left out" in printed and "open" in printed


def test_report_with_balance_writes_trumpet(tmp_path, capsys):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(3)  # 200 mL/h for 75 min
    cap = write_capture(tmp_path / "inf3.cap", dev.lines)
    t_s = np.arange(0, 75 * 60 + 1, 30.0)
    balance = pd.DataFrame({"t_s": t_s, "mass_g": 200 * 1.02 * t_s / 3600 * 0.998})
    balance.to_csv(tmp_path / "bal.csv", index=False)
    out = tmp_path / "rep"
    args = ["report", str(cap), "-o", str(out), "--balance", str(tmp_path / "bal.csv"),
            "--trumpet-start-min", "10", "--trumpet-period-min", "60", "--no-figures"]
    assert main(args) == 0
    trumpet_table = pd.read_csv(out / "trumpet.csv")
    assert np.allclose(trumpet_table[["ep_max_pct", "ep_min_pct"]], 2.0)
    for name in ("trumpet.png", "trumpet.svg", "startup.png", "startup.svg"):
        assert (out / name).stat().st_size > 5_000
    assert "at 200 mL/h" in capsys.readouterr().out  # the set rate came from the log


def test_report_errors_are_one_line(tmp_path, capsys):
    dev = VirtualDevice()
    dev.hello()
    empty = write_capture(tmp_path / "idle.cap", dev.lines)
    assert main(["report", str(empty), "-o", str(tmp_path / "r")]) == 1
    assert capsys.readouterr().err.strip() == (
        "pumpctl report: no infusion (no `start` event) in %s" % empty)
    assert main(["report", str(tmp_path / "missing.cap")]) == 1
    dev.infusion(1)
    cap = write_capture(tmp_path / "inf1.cap", dev.lines)
    bal = tmp_path / "bal.csv"
    bal.write_text("t_s,mass_g\n" + "".join("%d,%g\n" % (t, t / 100) for t in range(0, 9000, 30)))
    capsys.readouterr()
    assert main(["report", str(cap), "-o", str(tmp_path / "r2"), "--balance", str(bal),
                 "--no-figures"]) == 1
    err = capsys.readouterr().err
    assert "not constant" in err and err.count("\n") == 1

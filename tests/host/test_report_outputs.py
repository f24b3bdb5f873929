"""What a researcher takes away from `pumpctl report`: the figures a reviewer reads (Fig. 2 as
the paper draws it, the per-infusion figure), their provenance, and the per-patient table."""

import datetime
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.colors as mcolors
import pandas as pd
import pytest
from capkit import MIN, VirtualDevice, write_capture

from host_tools import logs
from host_tools.commands.cli import main
from host_tools.logs import figures, infusions, paperfigs, patienttable
from pumpfw import preview
from pumpfw import protocol as P

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def capture_ir(tmp_path_factory):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(1, [(45 * MIN, preview.IR, 2), (65 * MIN, preview.RESOLVED, 0),
                     (100 * MIN, preview.PAUSE, 0), (110 * MIN, preview.RESUME, 0)])
    return write_capture(tmp_path_factory.mktemp("cap") / "inf1.cap", dev.lines), dev


def _style(handle):
    """What tells a legend entry apart: kind of artist, colour, line style, marker, hatch."""
    if hasattr(handle, "get_linestyle") and hasattr(handle, "get_marker"):
        return ("line", mcolors.to_hex(handle.get_color()), str(handle.get_linestyle()),
                str(handle.get_marker()))
    return ("patch", mcolors.to_hex(handle.get_facecolor()), str(handle.get_hatch()))


def test_every_legend_entry_of_the_infusion_figure_has_its_own_style(capture_ir):
    path, _ = capture_ir
    fig, _, _ = figures.plot_infusion(infusions.split(logs.load(path))[0])
    legend = fig.legends[0]
    styles = [_style(h) for h in legend.legend_handles]
    assert len(styles) >= 8 and len(set(styles)) == len(styles)
    figures.plt.close(fig)


def test_the_infusion_figure_keeps_labels_off_the_data_and_inside_its_width(capture_ir):
    path, dev = capture_ir
    fig, rate, vol = figures.plot_infusion(infusions.split(logs.load(path))[0])
    fig.canvas.draw()
    ax_rate, ax_vol = fig.axes
    assert not ax_rate.texts and not ax_vol.texts  # span lengths are in the legend
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "paused: 10 min" in legend and "interrupted (reaction): 20 min" in legend
    box, page = fig.legends[0].get_window_extent(), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0
    for ax in fig.axes:  # the legend is under the panels, not over them
        assert box.y1 <= ax.get_window_extent().y0
    t_last = max(rate["t_min"].max(), vol["t_min"].max())
    lo, hi = ax_vol.get_xlim()
    assert lo == 0 and t_last <= hi <= t_last * 1.05  # the x axis spans the data, no more
    figures.plt.close(fig)


def test_the_volume_is_shown_to_the_steps_precision(capture_ir):
    path, dev = capture_ir
    fig, _, _ = figures.plot_infusion(infusions.split(logs.load(path))[0])
    title = fig.axes[0].get_title()
    # 20 000 steps/mL: one step is 0.00005 mL; the last record's 5 000 000 steps
    assert "250.00000 mL (5 000 000 steps)" in title
    figures.plt.close(fig)


def test_board_and_firmware_come_from_an_id_reply_when_the_hello_was_not_captured(tmp_path):
    dev = VirtualDevice()
    dev.infusion(3)
    ident = P.frame(7, P.encode_ok(1, "id", P.hello_fields("0.2.0", "pico", 16_000, 400_000,
                                                             60_000, "power_on")))
    lines = [(dev.lines[0][0], ident)] + dev.lines
    inf = infusions.split(logs.load(write_capture(tmp_path / "id.cap", lines)))[0]
    assert figures.provenance(inf).startswith("board pico, firmware 0.2.0, 16000 steps/mL")


def test_an_example_capture_made_today_says_today(tmp_path):
    # capkit's example (docs/logs.md's walkthrough) said "captured 2027-01-15"
    cap = tmp_path / "example.cap"
    subprocess.run([sys.executable, str(REPO / "tests/host/capkit.py"), str(cap)], check=True,
                   cwd=REPO, capture_output=True)
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    for inf in infusions.split(logs.load(cap)):
        text = figures.provenance(inf)
        assert "captured" in text and today in text.split("captured")[1], text
        assert "2027" not in text


def test_a_capture_dated_after_today_is_flagged(capture_ir):
    path, _ = capture_ir  # capkit's HOST_NS0 is in 2027
    text = figures.provenance(infusions.split(logs.load(path))[0])
    assert "captured 2027-01-15 (after today: the host clock was wrong)" in text


def _table(parts):
    """A summary table: (part, subject, infusion, hours, n_ir) rows."""
    rows = [{"part": part, "subject": s, "source": "sim:test", "index": k, "infusion": n,
             "outcome": "complete", "duration_min": h * 60, "duration_h": h, "n_ir": ir,
             "n_interruptions": ir, "max_ir_grade": 2 if ir else 0}
            for k, (part, s, n, h, ir) in enumerate(parts)]
    return infusions.typed_summary(pd.DataFrame(rows)).assign(
        part=[r[0] for r in parts], replicate=1)


def test_fig2_is_drawn_as_the_paper_draws_it(tmp_path):
    table = _table([("B", "p1", 1, 4.0, 1), ("B", "p1", 2, 2.0, 0), ("B", "p1", 3, 1.25, 0),
                    ("B", "p1", 4, 1.5, 0), ("B", "p2", 1, 3.0, 0), ("A", "a1", 1, 3.5, 1),
                    ("A", "a1", 2, 3.0, 0), ("A", "a1", 3, 2.0, 0)])
    stats = paperfigs.fig2_stats(table).set_index(["part", "group"])
    assert list(stats.index) == [("A", "1"), ("A", "2+"), ("B", "1"), ("B", "2"), ("B", "3+")]
    assert stats.loc[("B", "1"), "median_h"] == 3.5 and stats.loc[("B", "1"), "n"] == 2
    assert (stats.loc[("B", "3+"), "lo_h"], stats.loc[("B", "3+"), "hi_h"]) == (1.25, 1.5)
    assert stats.loc[("A", "2+"), "median_h"] == 2.5 and stats.loc[("A", "2+"), "patients"] == 1
    assert stats.loc[("A", "1"), "paper_median_h"] == 3.30
    assert stats.loc[("B", "1"), "paper_max_h"] == pytest.approx(6.1)
    fig = paperfigs.plot_fig2(table, "test", simulated=True)
    ax_a, ax_b = fig.axes
    assert [t.get_text().split("\n")[0] for t in ax_a.get_xticklabels()] == [
        "Infusion 1", "Infusion 2+"]
    assert [t.get_text().split("\n")[0] for t in ax_b.get_xticklabels()] == [
        "Infusion 1", "Infusion 2", "Infusion 3+"]
    heights = sorted(round(p.get_height(), 3) for p in ax_b.patches)
    assert heights == sorted([3.7, 1.85, 1.25, 3.5, 2.0, 1.375])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0] == "paper, Fig. 2 (N = 31 + 47 patients)"
    assert "test, simulated, Part B: 5 infusions, 2 patients; whiskers min-max" in legend
    assert "test, simulated, Part A: 3 infusions, 1 patient; whiskers min-max" in legend
    figures.plt.close(fig)


def test_without_part_a_rows_fig2_draws_the_papers_values_only_and_says_so():
    table = _table([("B", "p1", 1, 4.0, 0)]).drop(columns="part")
    fig = paperfigs.plot_fig2(table, "bench", simulated=False, whiskers="iqr")
    ax_a = fig.axes[0]
    assert sorted(round(p.get_height(), 2) for p in ax_a.patches) == [2.9, 3.3]
    assert [t.get_text() for t in ax_a.texts] == ["no Part A rows: the paper's values only"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "bench, measured, Part B: 1 infusion, 1 patient; whiskers IQR" in legend
    figures.plt.close(fig)


def test_per_patient_table_csv_and_parquet(tmp_path):
    table = _table([("B", "p1", k, 1.25 + (k == 1) * 2, int(k == 1)) for k in range(1, 8)]
                   + [("B", "p2", 1, 3.0, 0)])
    frame = patienttable.per_patient(table)
    assert list(frame.columns) == list(patienttable.NAMES)
    p1 = frame.set_index("patient").loc["p1"]
    assert (p1["cycles"], p1["infusions"], p1["irs"], p1["interrupted_for_ir"]) == (3, 7, 1, 1)
    assert p1["duration_1_h"] == 3.25 and p1["median_duration_3plus_h"] == 1.25
    assert p1["median_duration_h"] == 1.25
    csv, parquet = patienttable.write(frame, tmp_path / "pp.csv")
    assert (csv.name, parquet.name) == ("pp.csv", "pp.parquet")
    for path in (csv, parquet):
        back = patienttable.read(path)
        pd.testing.assert_frame_equal(back, frame)


@pytest.mark.parametrize("n,cycles", [(1, 1), (4, 1), (5, 2), (6, 2), (7, 3), (22, 10), (40, 19)])
def test_cycles_from_the_infusion_number(n, cycles):
    assert patienttable.cycles_started(n) == cycles


def test_report_per_patient_writes_both_files(capture_ir, tmp_path, capsys):
    path, _ = capture_ir
    out = tmp_path / "rep"
    assert main(["report", str(path), "-o", str(out), "--no-figures", "--per-patient",
                 str(out / "patients")]) == 0
    back = patienttable.read(out / "patients.parquet")
    assert back.loc[0, "infusions"] == 1 and back.loc[0, "irs"] == 1
    assert (out / "patients.csv").exists() and (out / "fig2.png").exists()


def test_the_data_dictionary_in_docs_is_the_declared_one():
    doc = (REPO / "docs/logs.md").read_text()
    assert patienttable.dictionary_markdown() in doc
    prose = re.sub(r"```.*?```", "", doc, flags=re.S)
    named = {n.strip() for span in re.findall(r"`([^`\n]+)`", prose) for n in span.split(",")}
    stats = paperfigs.fig2_stats(_table([("B", "p", 1, 3.0, 0)]))
    for column in list(logs.INFUSION_COLUMNS) + list(stats.columns):  # each one documented
        assert column in named, column


def test_cohort_on_a_capture_without_some_infusion_group_says_so_not_nan(capture_ir, capsys):
    # `pumpctl cohort CAPTURE` printed "nan min (nan-nan)" for the 3+ group of a real capture
    path, _ = capture_ir
    assert main(["cohort", str(path)]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower()
    row = [line for line in out.splitlines() if line.startswith("3+ ")][0]
    assert "no infusion" in row

"""`pumpctl cohort validate`: every figure of the paper the model touches, and its verdict."""

# Each figure is one row: where it is in the paper, what kind it is for this model (input: given
# to the model; fitted: `cohort fit` set a parameter to it; fitted by hand: an assumption was
# chosen with it in view; predicted: nothing was set to it), the paper's value, the model's
# (the median over simulated cohorts) with the 2.5-97.5 % interval over cohorts, and a
# verdict: "within" when the paper's value (to its printed precision) lies in that interval,
# "edge" when it does but 90 % or more of the cohorts lie on one side of it, else MISS. A
# fitted row that is within says nothing about the model: it is by construction.
import math
import warnings

import numpy as np
import pandas as pd

from host_tools.cohort import engine, paper, scenario
from host_tools.cohort.patient import nominal_min
from host_tools.logs import cohortstats

COLUMNS = ("source", "figure", "unit", "kind", "paper", "model", "lo", "hi", "below", "verdict",
           "note")
# Within the interval, but beyond this share of the cohorts on one side: "edge".
EDGE = 0.9
_BY_HAND_MIN = "the early-stop share and timing were chosen by hand with the minima in view"
_BY_HAND_MAX = "the pause share and length were chosen by hand with these maxima in view"


def _rows():
    """(source, figure, unit, kind, paper value text, metric key, note) of every figure."""
    out = []
    fits = {"1": "fitted", "2": "fitted", "3+": "predicted"}
    for g, (median, lo, hi) in paper.DURATIONS.items():
        src = "Results, Safety"
        out.append((src, "Part B infusion %s median" % g, "min", fits[g], str(median),
                    "B:median:" + g, "" if g != "3+" else "the protocol's fixed 75 min"))
        out.append((src, "Part B infusion %s shortest" % g, "min", "fitted by hand", str(lo),
                    "B:min:" + g, _BY_HAND_MIN))
        out.append((src, "Part B infusion %s longest" % g, "min",
                    "predicted" if g == "1" else "fitted by hand", str(hi), "B:max:" + g,
                    "" if g == "1" else _BY_HAND_MAX))
    for label, a_h, b_h, p in paper.TABLE2:
        kind_a = "fitted" if label in ("1st", "2nd") else "predicted"
        kind_b = "fitted" if label in ("1st", "2nd") else "predicted"
        out.append(("Table 2", "Part A %s infusion median" % label, "h", kind_a, "%.2f" % a_h,
                    "A:t2:" + label, ""))
        out.append(("Table 2", "Part B %s infusion median" % label, "h", kind_b, "%.2f" % b_h,
                    "B:t2:" + label, ""))
        out.append(("Table 2", "p, %s infusion, A vs B" % label, "p", "predicted", p,
                    "p:" + label, "Mann-Whitney U, the patient as the unit"))
    for arm, bars in paper.FIG2.items():
        for g, h in bars:
            kind = "fitted" if (arm, g) in (("A", "1"), ("B", "1"), ("B", "2")) else "predicted"
            out.append(("Fig. 2", "Part %s infusion %s bar" % (arm, g), "h", kind, "%.2f" % h,
                        "%s:fig2:%s" % (arm, g), ""))
    pp = paper.PER_PATIENT
    out += [
        ("Results, Patients", "Part B patients", "patients", "input", str(pp["patients"]),
         "B:patients", ""),
        ("Results, Safety", "Part B infusions", "infusions", "fitted by hand",
         str(pp["infusions"]), "B:infusions",
         "the shape of the cycle distribution between Table 1's anchors was chosen for it"),
        ("Results, Safety", "Part B patients with an IR", "patients", "input",
         str(pp["patients_with_ir"]), "B:patients_with_ir", ""),
        ("Results, Safety", "Part B IR episodes", "episodes", "input", str(pp["ir_episodes"]),
         "B:ir_episodes", ""),
        ("Results, Safety", "Part B patients interrupted", "patients", "input",
         str(pp["patients_interrupted"]), "B:patients_interrupted", ""),
        ("Table 2", "Part A patients", "patients", "input", "31", "A:patients", ""),
        ("Results, Safety", "Part A patients with an IR", "%", "input", "48.3",
         "A:patients_with_ir_pct", "15 of 31 = 48.4 %; no k/31 is 48.3 % (14/29 is): the"
         " paper's denominator may not be 31"),
        ("Discussion", "infusion 2 shorter in B than A by", "min", "predicted", ">60",
         "gain:2nd", "Table 2's 2nd-infusion medians, A - B"),
        ("Discussion", "infusions 3+ shorter in B than A by", "min", "predicted", ">90",
         "gain:≥3rd", "Table 2's ≥3rd-infusion medians, A - B"),
    ]
    return out


def metrics(table_b, table_a):
    """{metric key: [value per replicate]} for every metric _rows() names."""
    out = {}
    per = paper.by_cohort(table_b)
    for what in ("median", "min", "max"):
        for g in paper.DURATIONS:
            part = per[per["infusion_group"] == g].sort_values("replicate")
            out["B:%s:%s" % (what, g)] = list(part["%s_min" % what])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        long = cohortstats.table2_by_replicate(table_b, table_a, incomplete=True)
    for label, part in long.groupby("infusion", sort=False):
        key = label.replace(" Infusion", "")
        out["A:t2:" + key] = list(part["median_a_h"])
        out["B:t2:" + key] = list(part["median_b_h"])
        out["p:" + key] = list(part["p_value"])
    out["gain:2nd"] = [60 * (a - b) for a, b in zip(out["A:t2:2nd"], out["B:t2:2nd"])]
    out["gain:≥3rd"] = [60 * (a - b) for a, b in zip(out["A:t2:≥3rd"], out["B:t2:≥3rd"])]
    out["B:fig2:1"] = out["B:t2:1st"]
    out["B:fig2:2"] = out["B:t2:2nd"]
    out["B:fig2:3+"] = [m / 60 for m in out["B:median:3+"]]
    out["A:fig2:1"] = out["A:t2:1st"]
    out["A:fig2:2+"] = out["A:t2:≥2nd"]
    for arm, table in (("A", table_a), ("B", table_b)):
        for _, part in table.groupby("replicate"):
            pp = cohortstats.per_patient(part)
            for k in ("patients", "infusions", "patients_with_ir", "ir_episodes",
                      "patients_interrupted", "patients_with_ir_pct"):
                out.setdefault("%s:%s" % (arm, k), []).append(pp[k])
    return out


def _paper_bounds(text):
    """'0.0007' -> (0.00065, 0.00075); '<0.0001' -> (0, 0.0001); '>60' -> (60, inf): the
    values the printed figure allows (half its last digit either side)."""
    if text.startswith("<"):
        return 0.0, float(text[1:])
    if text.startswith(">"):
        return float(text[1:]), math.inf
    decimals = len(text.split(".")[1]) if "." in text else 0
    half = 0.5 * 10 ** -decimals
    return float(text) - half, float(text) + half


def judge(values, paper_text):
    """(model, lo, hi, below, verdict) of one figure: the cohorts' values against the paper's
    printed figure."""
    v = np.asarray([x for x in values if not _nan(x)], float)
    model = float(np.median(v)) if len(v) else math.nan
    lo, hi = np.percentile(v, [2.5, 97.5]) if len(v) > 1 else (math.nan, math.nan)
    p_lo, p_hi = _paper_bounds(paper_text)
    point = p_hi if paper_text.startswith("<") else p_lo if paper_text.startswith(">") \
        else float(paper_text)
    below = "%d/%d" % ((v < point).sum(), len(v))
    if math.isnan(lo):
        return model, math.nan, math.nan, below, "no interval"
    verdict = "within" if (p_lo <= hi and p_hi >= lo) else "MISS"
    beyond = max((v < point).sum(), (v > point).sum()) / len(v)
    if verdict == "within" and paper_text[0] not in "<>" and beyond >= EDGE:
        verdict = "edge"
    return model, float(lo), float(hi), below, verdict


def validate(table_b, table_a):
    """The validation table (COLUMNS), one row per figure."""
    values = metrics(table_b, table_a)
    rows = []
    for source, figure, unit, kind, paper_text, key, note in _rows():
        model, lo, hi, below, verdict = judge(values.get(key, []), paper_text)
        if key.startswith("B:min:"):
            fastest = nominal_min(paper._FIRST[key.rsplit(":", 1)[1]])
            if float(paper_text) < fastest:
                note = "below the fastest complete infusion (%g min): only a dose stopped" \
                       " early is that short; " % fastest + note
        if kind == "fitted":
            note = "set by `cohort fit`: agreement is by construction" + (
                "; " + note if note else "")
        rows.append({"source": source, "figure": figure, "unit": unit, "kind": kind,
                     "paper": paper_text, "model": model, "lo": float(lo), "hi": float(hi),
                     "below": below, "verdict": verdict, "note": note})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _nan(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


def _num(x, unit):
    if _nan(x):
        return "-"
    if unit == "p":
        return "<0.0001" if x < 0.0001 else "%.4f" % x
    if unit == "h":
        return "%.2f" % x
    if unit == "%":
        return "%.1f" % x
    return "%.0f" % x


def markdown(table, replicates, seed):
    """The table as Markdown, with its header line (what the interval is)."""
    head = ("Model: the median over %d simulated cohorts (seed %d); interval: 2.5-97.5 %% of "
            "the cohorts' values; below: cohorts whose value is under the paper's; verdict: "
            "the paper's value, to its printed precision, inside that interval (within; edge "
            "when %d %% of the cohorts or more lie on one side of it) or not (MISS)."
            % (replicates, seed, EDGE * 100))
    lines = [head, "", "| source | figure | kind | paper | model | 95 % of cohorts | below"
             " | verdict | note |", "|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append("| %s | %s (%s) | %s | %s | %s | %s-%s | %s | %s | %s |" % (
            r["source"], r["figure"], r["unit"], r["kind"], r["paper"],
            _num(r["model"], r["unit"]), _num(r["lo"], r["unit"]), _num(r["hi"], r["unit"]),
            r["below"], r["verdict"], r["note"]))
    return "\n".join(lines) + "\n"


def summary(table):
    """One line: how many of each kind are within, and the misses named."""
    out = []
    for kind in ("input", "fitted", "fitted by hand", "predicted"):
        part = table[table["kind"] == kind]
        if len(part):
            ok = part["verdict"].isin(["within", "edge"]).sum()
            out.append("%s %d/%d within or edge" % (kind, ok, len(part)))
    text = "; ".join(out)
    for verdict in ("edge", "MISS"):
        named = table[table["verdict"] == verdict]["figure"]
        if len(named):
            text += ". %s: %s" % (verdict, ", ".join(named))
    return text


def run(seed=1, replicates=20, workers=None, b=None, a=None):
    """Simulate both arms and validate: (validation table, table B, table A)."""
    table_b = engine.simulate(b or scenario.PAPER, seed, replicates, workers)
    table_a = engine.simulate(a or scenario.PART_A, seed, replicates, workers)
    return validate(table_b, table_a), table_b, table_a

"""Benchmark results: one record per metric, medians, the printed table and bench/results.json."""

import datetime
import json
import math
import os
import platform
import statistics
from pathlib import Path

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
KEYS = ("value", "unit", "limit", "ok", "how")


def metric(value, unit, limit=None, how="", ok=None, **extra):
    """One measured figure. ok: compared with limit as value <= limit unless given."""
    if ok is None and limit is not None and value is not None:
        ok = bool(value <= limit)
    out = {"value": value, "unit": unit, "limit": limit, "ok": ok, "how": how}
    out.update(extra)
    return out


def not_measured(unit, reason, limit=None, how=""):
    """A figure that could not be measured: value null and the reason, never a guess."""
    return {"value": None, "unit": unit, "limit": limit, "ok": None, "how": how,
            "reason": reason}


def median(values):
    return statistics.median(values)


def check_schema(results):
    """Raise ValueError unless results is {name: {value, unit, limit, ok, how, ...}}."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty object")
    for name, rec in results.items():
        if name.startswith("_"):
            continue
        missing = [k for k in KEYS if k not in rec]
        if missing:
            raise ValueError("%s lacks %s" % (name, ", ".join(missing)))
        value = rec["value"]
        if value is None:
            if not rec.get("reason"):
                raise ValueError("%s: a null value needs a reason" % name)
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError("%s: value must be a number or null" % name)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError("%s: value must be finite" % name)
        if rec["ok"] not in (True, False, None):
            raise ValueError("%s: ok must be true, false or null" % name)
        if not isinstance(rec["unit"], str) or not isinstance(rec["how"], str):
            raise ValueError("%s: unit and how must be text" % name)


def machine():
    return "%s, %d cores, Python %s" % (platform.machine(), os.cpu_count() or 0,
                                        platform.python_version())


def stamp(results):
    """Adds the run's date and machine under the `_run` key (not a metric)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["_run"] = {"date": now, "machine": machine()}
    return results


def write(results, path=RESULTS_PATH):
    check_schema(results)
    Path(path).write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")


def load(path=RESULTS_PATH):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def _fmt(x):
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, int):
        return str(x)
    if abs(x) >= 10_000:
        return "%.0f" % x
    return "%.6g" % x


def table(results):
    """A Markdown table of every metric (the one docs/benchmarks.md shows)."""
    rows = [("metric", "value", "unit", "limit", "ok")]
    for name, rec in results.items():
        if name.startswith("_"):
            continue
        value = _fmt(rec["value"]) if rec["value"] is not None else "not measured"
        ok = "-" if rec["ok"] is None else _fmt(rec["ok"])
        rows.append((name, value, rec["unit"], _fmt(rec["limit"]), ok))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for k, r in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)

"""Per-test HIL records: measurements with limits (OpenHTF-style) and the captured device log."""

import json
import math
import os
import time


class Measurement:
    """name, value, unit and limits; outcome is pass, marginal or fail."""

    def __init__(self, name, value, unit, low=None, high=None, marginal=0.0):
        self.name = name
        self.value = value
        self.unit = unit
        self.low = low
        self.high = high
        self.marginal = marginal  # fraction of the band, at each edge, that counts as marginal
        self.outcome = self._judge()

    def _judge(self):
        v = self.value
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "fail"
        if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
            return "fail"
        if self.marginal and self.low is not None and self.high is not None:
            edge = (self.high - self.low) * self.marginal
            if v < self.low + edge or v > self.high - edge:
                return "marginal"
        return "pass"

    def as_dict(self):
        value = self.value
        if hasattr(value, "item"):
            value = value.item()  # a numpy scalar (pandas results): as a plain number
        return {
            "name": self.name,
            "value": value,
            "unit": self.unit,
            "low": self.low,
            "high": self.high,
            "outcome": self.outcome,
        }

    def describe(self):
        return "%s = %r %s (limits %s..%s): %s" % (
            self.name, self.value, self.unit, self.low, self.high, self.outcome)


class TestRecord:
    """Everything one test measured, written as JSON next to its device log."""

    def __init__(self, nodeid, run_id):
        self.nodeid = nodeid
        self.run_id = run_id
        self.rig = None  # the rig's describe(), once there is one
        self.device = None  # the device's hello fields, once identified
        self.started = time.time()
        self.measurements = []
        self.device_lines = []
        self.outcome = None
        self.reason = None  # why it failed or was skipped: the first line of the report

    def measure(self, name, value, unit, low=None, high=None, marginal=0.0):
        """Record a measurement; fails the test (AssertionError) when outside its limits."""
        m = Measurement(name, value, unit, low, high, marginal)
        self.measurements.append(m)
        assert m.outcome != "fail", m.describe()
        return value

    def within(self, name, value, unit, nominal, tolerance, marginal=0.0):
        """A measurement limited to nominal +/- tolerance."""
        return self.measure(name, value, unit, nominal - tolerance, nominal + tolerance, marginal)

    def write(self, directory):
        os.makedirs(directory, exist_ok=True)
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in self.nodeid)
        doc = {
            "test": self.nodeid,
            "run": self.run_id,
            "rig": self.rig,
            "device": self.device,
            "started": self.started,
            "duration_s": round(time.time() - self.started, 3),
            "outcome": self.outcome,
            "reason": self.reason,
            "measurements": [m.as_dict() for m in self.measurements],
            "device_log": stem + ".log" if self.device_lines else None,
        }
        with open(os.path.join(directory, stem + ".json"), "w") as f:
            json.dump(doc, f, indent=1)
        if self.device_lines:
            with open(os.path.join(directory, stem + ".log"), "wb") as f:
                for line in self.device_lines:
                    f.write(line if line.endswith(b"\n") else line + b"\n")
        return os.path.join(directory, stem + ".json")


def summary(folders):
    """A Markdown table of the records in `folders` (runs): test, outcome, wall time, and what
    is worth reading: failed and marginal measurements, or the reason it failed or was skipped."""
    import glob

    rows = ["| test | outcome | wall s | failed / marginal measurements, or reason |",
            "|---|---|---|---|"]
    records = []
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            with open(path) as f:
                doc = json.load(f)
            if "test" in doc and "outcome" in doc:
                records.append(doc)
    for doc in sorted(records, key=lambda d: d["test"]):
        notes = ["%s = %s %s (%s..%s) %s" % (m["name"], m["value"], m["unit"], m["low"],
                                             m["high"], m["outcome"])
                 for m in doc["measurements"] if m["outcome"] != "pass"]
        if not notes and doc["outcome"] != "passed":
            notes = [(doc["reason"] or "").replace("|", "/")[:160]]
        name = doc["test"].split("::", 1)[-1]
        rows.append("| `%s` | %s | %.0f | %s |" % (name, doc["outcome"], doc["duration_s"],
                                                   "; ".join(notes)))
    return "\n".join(rows)


if __name__ == "__main__":
    import sys

    print(summary(sys.argv[1:]))

"""`pumpctl plan`: the rate program the real controller produces, previewed on a virtual clock;
and the program ETA of a running pump (the same controller run on from where the pump is)."""

import argparse
import json
from fractions import Fraction

from host_tools.commands.view import hms
from host_tools.link.errors import UserError
from pumpfw import controller as ctl
from pumpfw import persist, preview, schedule
from pumpfw import protocol as P
from pumpfw.schedule import DEFAULT_REGIMEN

MS_PER_MIN = 60_000
REGIMENS = ("part-b", "part-a")  # the seed's fixed volume (mL/h), and Part A's mg/h by weight


def regimen_for(name, weight_kg=None, conc_mg_ml=None):
    """--regimen/--weight-kg/--concentration-mg-ml -> the Regimen the controller runs."""
    if name == "part-b":
        if weight_kg is not None or conc_mg_ml is not None:
            raise UserError("--weight-kg and --concentration-mg-ml are for --regimen part-a"
                            " (part-b is a fixed 250 mL whatever the weight)")
        return DEFAULT_REGIMEN
    if weight_kg is None:
        raise UserError("--regimen part-a needs --weight-kg (the dose is 10 mg/kg)")
    conc = schedule.PART_A_CONC_UG_PER_ML
    if conc_mg_ml is not None:
        try:
            exact = Fraction(conc_mg_ml) * 1000
        except (ValueError, ZeroDivisionError):
            exact = Fraction(-1)
        conc = int(exact)
        if conc <= 0 or exact != conc:
            raise UserError("--concentration-mg-ml must be > 0, to the ug/mL")
    try:
        return schedule.ISATUXIMAB_PART_A.for_patient(weight_kg, conc)
    except ValueError as exc:
        raise UserError("--regimen part-a: %s" % exc) from None


def parse_minutes(text):
    """'45', '12.5' -> whole ms. Exact decimal parsing: no float rounding."""
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError("not a number of minutes: %r" % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError("minutes must be >= 0: %r" % text)
    ms = value * MS_PER_MIN
    if ms.denominator != 1:
        raise argparse.ArgumentTypeError("minutes finer than 1 ms: %r" % text)
    return int(ms)


def parse_ir(text):
    """MIN:GRADE[:RESOLVED_AFTER_MIN] -> list of preview inputs."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(
            "--ir takes MIN:GRADE[:RESOLVED_AFTER_MIN], got %r" % text)
    at_ms = parse_minutes(parts[0])
    if not parts[1].isdigit() or not 1 <= int(parts[1]) <= 5:
        raise argparse.ArgumentTypeError("IR grade must be 1..5, got %r" % parts[1])
    grade = int(parts[1])
    if len(parts) == 3 and grade >= 3:
        raise argparse.ArgumentTypeError("a grade >= 3 IR discontinues: it cannot resolve")
    return _with_resolution((at_ms, preview.IR, grade), parts[2:])


def _with_resolution(reaction, after):
    """[reaction] plus its resolution RESOLVED_AFTER_MIN later when one is given."""
    inputs = [reaction]
    if after:
        after_ms = parse_minutes(after[0])
        if after_ms == 0:
            raise argparse.ArgumentTypeError("RESOLVED_AFTER_MIN must be > 0")
        inputs.append((reaction[0] + after_ms, preview.RESOLVED, 0))
    return inputs


def parse_ir_continue(text):
    """MIN[:RESOLVED_AFTER_MIN] -> a grade-2 IR not interrupted (the operator's choice)."""
    parts = text.split(":")
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(
            "--ir-continue takes MIN[:RESOLVED_AFTER_MIN], got %r" % text)
    return _with_resolution((parse_minutes(parts[0]), preview.IR_CONTINUE, 0), parts[1:])


def parse_pause(text):
    """MIN:DURATION_MIN -> pause and resume inputs."""
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError("--pause takes MIN:DURATION_MIN, got %r" % text)
    at_ms, duration_ms = parse_minutes(parts[0]), parse_minutes(parts[1])
    if duration_ms == 0:
        raise argparse.ArgumentTypeError("pause DURATION_MIN must be > 0")
    return [(at_ms, preview.PAUSE, 0), (at_ms + duration_ms, preview.RESUME, 0)]


def argparse_plan(parser):
    parser.add_argument("--infusion", type=int, required=True, help="infusion number (1, 2, 3...)")
    parser.add_argument("--ir", type=parse_ir, action="append", default=[],
                        metavar="MIN:GRADE[:RESOLVED_AFTER_MIN]",
                        help="an infusion reaction at MIN; grade 2 resumes when resolved")
    parser.add_argument("--ir-continue", type=parse_ir_continue, action="append", default=[],
                        metavar="MIN[:RESOLVED_AFTER_MIN]",
                        help="a grade-2 IR at MIN that is not interrupted (escalation held)")
    parser.add_argument("--pause", type=parse_pause, action="append", default=[],
                        metavar="MIN:DURATION_MIN", help="an operator pause")
    parser.add_argument("--regimen", choices=REGIMENS, default="part-b",
                        help="part-b (default): 250 mL fixed volume, mL/h; part-a: 10 mg/kg,"
                        " weight-based volume, mg/h (needs --weight-kg)")
    parser.add_argument("--weight-kg", type=int, default=None, help="patient weight (part-a)")
    parser.add_argument("--concentration-mg-ml", default=None,
                        help="bag concentration for part-a (default 4, an assumption:"
                        " docs/infusion-schedule.md)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _minutes(ms):
    value = Fraction(ms, MS_PER_MIN)
    return int(value) if value.denominator == 1 else round(float(value), 4)


def plan_dict(infusion, inputs, regimen=DEFAULT_REGIMEN):
    """Run the preview and shape it for people: minutes and mL."""
    result = preview.run(regimen, infusion, inputs)
    conc = getattr(regimen, "conc_ug_per_ml", None)
    out = {
        "infusion": infusion,
        "regimen": regimen.name,
        "volume_ml": result["delivered_ul"] / 1000,
        "infusing_min": _minutes(result["infusing_ms"]),
        "total_min": _minutes(result["elapsed_ms"]),
        "interruptions": result["interruptions"],
        "outcome": result["outcome"],
        "segments": [
            {
                "start_min": _minutes(start),
                "end_min": _minutes(end),
                "state": state,
                "rate_ml_h": rate / 1000,
                "volume_ml": delivered / 1000,
            }
            for start, end, state, rate, delivered in result["segments"]
        ],
        "rejected": [
            {"min": _minutes(t), "input": kind, "arg": arg, "reason": why}
            for t, kind, arg, why in result["rejected"]
        ],
    }
    if conc:
        out["dose_mg"] = regimen.dose_mg
        out["concentration_mg_ml"] = conc / 1000
        for seg in out["segments"]:
            seg["rate_mg_h"] = seg["rate_ml_h"] * conc / 1000
    return out


def do_plan(args):
    if not 1 <= args.infusion <= 999:
        raise UserError("--infusion must be 1..999")
    inputs = [item for group in args.ir + args.ir_continue + args.pause for item in group]
    regimen = regimen_for(args.regimen, args.weight_kg, args.concentration_mg_ml)
    report = plan_dict(args.infusion, inputs, regimen)
    if args.json:
        print(json.dumps(report))
        return 0
    print("infusion %d (%s), %g mL" % (args.infusion, report["regimen"], report["volume_ml"]))
    dosed = "dose_mg" in report
    if dosed:
        print("  dose %g mg (10 mg/kg x %d kg) at %g mg/mL; mL/h rounded down from mg/h"
              % (report["dose_mg"], args.weight_kg, report["concentration_mg_ml"]))
    print("  %9s %9s  %-12s %9s %10s%s" % ("start min", "end min", "state", "mL/h", "volume mL",
                                         "  %9s" % "mg/h" if dosed else ""))
    for seg in report["segments"]:
        print("  %9g %9g  %-12s %9g %10g%s" % (
            seg["start_min"], seg["end_min"], seg["state"], seg["rate_ml_h"], seg["volume_ml"],
            "  %9.1f" % seg["rate_mg_h"] if dosed else ""))
    print("infusing %g min, total %g min (interruptions included), outcome: %s"
          % (report["infusing_min"], report["total_min"], report["outcome"]))
    for item in report["rejected"]:
        print("  note: %s at %g min was refused (%s)"
              % (item["input"], item["min"], item["reason"]))
    return 0


# ---- the program ETA of a pump -------------------------------------------------------------


def restore(fields, max_rate_ul_h, regimen=DEFAULT_REGIMEN):
    """A Controller where a pump's `status` answer (record + program fields) says it is, on the
    pump's own clock (t_ms); None when the answer has no program position (an older firmware)."""
    if any(name not in fields for name in P.PROGRAM_FIELDS + ("t_ms", "st", "inf")):
        return None
    state = ctl.STATE_NAMES.index(fields["st"])
    phase = P.PHASE_NAMES.index(fields["phase"])
    snap = (fields["inf"], state, phase, fields["step"], fields["prog_rate_ul_h"],
            fields["hold_ms"], fields["ir_grade"], 0, 0, fields["vol_ul"], fields["elapsed_ms"],
            fields["infusing_ms"], 0, 0)
    c = ctl.Controller(regimen, max_rate_ul_h)
    now = fields["t_ms"]
    if persist.restore(c, snap, now, fields["vol_ul"]) != ctl.OK:
        return None
    if state == ctl.RUNNING:
        c.resume(now)  # restore() brings a running infusion back paused, as after a reboot
    return c


class ProgramEta:
    """When the infusion ends by the controller's program if nothing else happens (no pause,
    reaction or stop): the real controller, restored from a `status` answer and run on with an
    ideal pump (pumpfw.preview). Not the remaining volume at the current rate: the program's
    escalations are in it. A paused infusion has no end until resumed: the time it needs once
    resumed is given instead."""

    def __init__(self, max_rate_ul_h, regimen=DEFAULT_REGIMEN):
        self.max_rate_ul_h = max_rate_ul_h
        self.regimen = regimen
        self.state = None
        self.end_t_ms = None  # running: the device time it ends at
        self.after_resume_ms = None  # paused: how long it runs once resumed

    def update(self, status):
        """Recompute from a fresh `status` answer."""
        self.state = status.get("st")
        self.end_t_ms = self.after_resume_ms = None
        c = restore(status, self.max_rate_ul_h, self.regimen)
        if c is None or not c.active():
            return
        now = status["t_ms"]
        if c.state == ctl.PAUSED:
            c.resume(now)
        result = preview.follow(c, now)
        if result["outcome"] != "complete":
            return
        if self.state == "running":
            self.end_t_ms = result["now_ms"]
        elif self.state == "paused":
            self.after_resume_ms = result["now_ms"] - now

    def left_ms(self, rec):
        """ms until the end, by the program, for a record (None if it has no end now)."""
        if rec.get("st") != "running" or self.state != "running" or self.end_t_ms is None:
            return None
        return max(0, self.end_t_ms - rec["t_ms"])

    def text(self, rec):
        """The live view's ETA words for a record."""
        left = self.left_ms(rec)
        if left is not None:
            return "program ETA %s" % hms(left)
        st = rec.get("st")
        if st == "paused" and self.state == "paused" and self.after_resume_ms is not None:
            return "paused: %s once resumed (program)" % hms(self.after_resume_ms)
        if st == "interrupted":
            return "waits for `resolved`"
        return ""

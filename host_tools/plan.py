"""`pumpctl plan`: the rate program the real controller produces, previewed on a virtual clock."""

import argparse
import json
from fractions import Fraction

from pumpfw import preview
from pumpfw.schedule import DEFAULT_REGIMEN

MS_PER_MIN = 60_000


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
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _minutes(ms):
    value = Fraction(ms, MS_PER_MIN)
    return int(value) if value.denominator == 1 else round(float(value), 4)


def plan_dict(infusion, inputs, regimen=DEFAULT_REGIMEN):
    """Run the preview and shape it for people: minutes and mL."""
    result = preview.run(regimen, infusion, inputs)
    return {
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


def do_plan(args):
    if args.infusion < 1:
        raise ValueError("--infusion must be >= 1")
    inputs = [item for group in args.ir + args.ir_continue + args.pause for item in group]
    report = plan_dict(args.infusion, inputs)
    if args.json:
        print(json.dumps(report))
        return 0
    print("infusion %d (%s), %g mL" % (args.infusion, report["regimen"], report["volume_ml"]))
    print("  %9s %9s  %-12s %9s %10s" % ("start min", "end min", "state", "mL/h", "volume mL"))
    for seg in report["segments"]:
        print("  %9g %9g  %-12s %9g %10g" % (seg["start_min"], seg["end_min"], seg["state"],
                                             seg["rate_ml_h"], seg["volume_ml"]))
    print("infusing %g min, total %g min (interruptions included), outcome: %s"
          % (report["infusing_min"], report["total_min"], report["outcome"]))
    for item in report["rejected"]:
        print("  note: %s at %g min was refused (%s)"
              % (item["input"], item["min"], item["reason"]))
    return 0

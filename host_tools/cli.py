"""pumpctl: one console script, one command table (argparse_<name> / do_<name> pairs)."""

import argparse
import sys

from host_tools import calibrate, capture, control, flash, monitor, plan, ports, report
from host_tools.errors import PumpError


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    # One clear line instead of argparse's usage dump; exit status 2 as argparse does.
    def error(self, message):
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        raise SystemExit(2)


# Each entry: name -> (argparse_<name>, do_<name>, one-line help). Later issues add rows here.
COMMANDS = {
    "plan": (plan.argparse_plan, plan.do_plan, "preview an infusion's rate program"),
    "capture": (capture.argparse_capture, capture.do_capture,
                "record every device line to a capture file (lossless, survives reconnects)"),
    "report": (report.argparse_report, report.do_report,
               "per-infusion table and plots from captures (trumpet curve with --balance)"),
    "ports": (ports.argparse_ports, ports.do_ports,
              "list serial ports and virtual boards, and which ones run this firmware"),
    "flash": (flash.argparse_flash, flash.do_flash,
              "compile the firmware (mpy-cross) and copy it to a board (mpremote)"),
    "status": (control.argparse_status, control.do_status, "the pump's state, one line"),
    "start": (control.argparse_start, control.do_start, "start infusion number N"),
    "pause": (control.argparse_pause, control.do_pause, "pause the running infusion"),
    "resume": (control.argparse_resume, control.do_resume, "resume a paused infusion"),
    "ir": (control.argparse_ir, control.do_ir, "report an infusion reaction of grade GRADE"),
    "resolved": (control.argparse_resolved, control.do_resolved,
                 "the active infusion reaction resolved"),
    "stop": (control.argparse_stop, control.do_stop, "end the infusion now (abort)"),
    "clear": (control.argparse_clear, control.do_clear,
              "clear the discontinue latch (you type back the token the pump shows)"),
    "monitor": (monitor.argparse_monitor, monitor.do_monitor,
                "live view: state, rate, volume, progress to 250 mL, ETA, events"),
    "calibrate": (calibrate.argparse_calibrate, calibrate.do_calibrate,
                  "measure steps per mL (balance or typed volume) and write it to the board"),
}


def build_parser():
    parser = _Parser(prog="pumpctl", description="Infusion-pump host tool.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (add_args, _, help_text) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    _, do, _ = COMMANDS[args.command]
    try:
        return do(args) or 0
    except (CommandError, ValueError, PumpError) as exc:
        sys.stderr.write("pumpctl %s: %s\n" % (args.command, exc))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("pumpctl: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())

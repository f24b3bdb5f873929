"""pumpctl: one console script, one command table (argparse_<name> / do_<name> pairs)."""

import argparse
import importlib
import sys

from host_tools.errors import PumpError


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    # One clear line instead of argparse's usage dump; exit status 2 as argparse does.
    def error(self, message):
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        raise SystemExit(2)


# name -> (module in host_tools, stem, one-line help): the module has argparse_<stem>(parser)
# and do_<stem>(args). Only the chosen command's module is imported, so a quick command does
# not pay for pandas and matplotlib.
COMMANDS = {
    "plan": ("plan", "plan", "preview an infusion's rate program"),
    "capture": ("capture", "capture",
                "record every device line to a capture file (lossless, survives reconnects)"),
    "report": ("report", "report",
               "tables and figures from captures or cohorts: per infusion, Table 2, Fig. 2"
               " (trumpet curve with --balance)"),
    "cohort": ("cohort.command", "cohort",
               "simulate a cohort through the real controller, or read captures, beside the"
               " paper's durations and per-patient figures"),
    "ports": ("ports", "ports",
              "list serial ports and virtual boards, and which ones run this firmware"),
    "flash": ("flash", "flash",
              "compile the firmware (mpy-cross) and copy it to a board (mpremote)"),
    "status": ("control", "status", "the pump's state, one line"),
    "start": ("control", "start", "start infusion number N"),
    "pause": ("control", "pause", "pause the running infusion"),
    "resume": ("control", "resume", "resume a paused infusion"),
    "ir": ("control", "ir", "report an infusion reaction of grade GRADE"),
    "resolved": ("control", "resolved", "the active infusion reaction resolved"),
    "stop": ("control", "stop", "end the infusion now (abort)"),
    "clear": ("control", "clear",
              "clear the discontinue latch (you type back the token the pump shows)"),
    "monitor": ("monitor", "monitor",
                "live view: state, rate, volume, progress to 250 mL, ETA, events"),
    "calibrate": ("calibrate", "calibrate",
                  "measure steps per mL (balance or typed volume) and write it to the board"),
}


def load(name):
    """(argparse_<stem>, do_<stem>) of a command, importing its module now."""
    module, stem, _ = COMMANDS[name]
    mod = importlib.import_module("host_tools." + module)
    return getattr(mod, "argparse_" + stem), getattr(mod, "do_" + stem)


def build_parser(only=None):
    """The parser; with `only`, just that command's arguments are loaded (others stay bare)."""
    parser = _Parser(prog="pumpctl", description="Infusion-pump host tool.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (_, _, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            load(name)[0](cmd)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    only = chosen if chosen in COMMANDS else ""  # help or a typo: no module needed
    args = build_parser(only).parse_args(argv)
    do = load(args.command)[1]
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

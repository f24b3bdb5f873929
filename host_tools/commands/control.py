"""`pumpctl status/start/startover/premed/pause/resume/ir/resolved/stop/clear`: every protocol
command an operator needs, each one result line. The actions are one table below."""

import json
import re
import sys

from host_tools.commands.options import add_port_argument, protocol_int
from host_tools.commands.view import say, status_text
from host_tools.link.errors import UserError
from host_tools.link.session import Session
from pumpfw import protocol as P

# The operator's protocol commands (protocol.COMMANDS: their ranges, whether the pump always
# asks for a confirmation, the help unless a fuller one is given here), and how pumpctl takes
# their arguments: (flag or NAME, protocol argument, help).
ACTIONS = {
    "start": ("start infusion number N", [("--infusion", "inf", "infusion number (1 = first"
                                           " dose; the schedule depends on it)")]),
    "startover": ("start infusion N despite the expected number, the premedication window or a"
                  " lost journal (you confirm with a token)",
                  [("--infusion", "inf", "infusion number to start")]),
    "premed": ("tell the pump the premedication was given MIN_AGO minutes ago (a start is then"
               " accepted 15..60 min after it)",
               [("MIN_AGO", "min_ago", "minutes since the premedication, 0..120")]),
    "pause": (None, []),
    "resume": (None, []),
    "ir": ("report an infusion reaction of grade GRADE",
           [("GRADE", "grade", "grade 1..5 (2: interrupt, >= 3: discontinue)")]),
    "resolved": (None, []),
    "stop": (None, []),
    "clear": ("clear the discontinue latch (you type back the token the pump shows)", []),
}


def action_help(name):
    return ACTIONS[name][0] or P.command_spec(name)[P.CMD_HELP]


def two_step(name):
    """The pump always answers this command with an ask (protocol.F_TWO_STEP)."""
    return P.command_spec(name)[P.CMD_FLAGS] == P.F_TWO_STEP


_DONE = {"premed": "premedication recorded; ", "clear": "latch cleared; "}
_NOT_DONE = {"clear": "nothing was cleared", "startover": "nothing was started"}


def _dest(flag):
    return flag.lstrip("-").replace("-", "_").lower()


def _option(flag):
    return "--" + flag.lower().replace("_", "-")


def _values(args, name):
    """The action's protocol arguments, each given once (positional or as its option)."""
    values = []
    for flag, _, _ in ACTIONS[name][1]:
        value = getattr(args, _dest(flag))
        if flag.startswith("-"):
            values.append(value)
            continue
        other = getattr(args, _dest(flag) + "_opt", None)
        if value is not None and other is not None and value != other:
            raise UserError("%s given twice (%s and %s %s): give it once" % (
                flag, value, _option(flag), other))
        value = value if value is not None else other
        if value is None:
            raise UserError("%s needs %s (pumpctl %s 2, or %s 2)" % (
                name, flag, name, _option(flag)))
        values.append(value)
    return values


def argparse_action(parser, name):
    """The arguments of one action, from the table."""
    add_port_argument(parser)
    for flag, arg, help_text in ACTIONS[name][1]:
        kind = protocol_int(name, arg)
        if flag.startswith("-"):
            parser.add_argument(flag, type=kind, required=True, metavar="N", help=help_text)
        else:  # `ir 2` and `ir --grade 2` alike (a user types either)
            parser.add_argument(_dest(flag), type=kind, metavar=flag, nargs="?", help=help_text)
            parser.add_argument(_option(flag), dest=_dest(flag) + "_opt", type=kind,
                                metavar=flag, help="the same as %s" % flag)
    if name == "ir":
        parser.add_argument("--no-interrupt", action="store_true",
                            help="grade 2 only: keep infusing at the current rate, escalation"
                            " held until resolved (the operator's choice; interrupting is the"
                            " default)")
    parser.add_argument("--json", action="store_true",
                        help="the result as one JSON object: command, ok, the board (port,"
                        " board, fw, serial) and the status fields after it")
    if two_step(name):
        parser.add_argument("--yes", action="store_true",
                            help="confirm with the token without asking (scripts and test rigs"
                                 " only: it skips the person reading the token back)")


def do_action(args, read_line=None, interactive=None):
    """Send the action; one line with the state it left the pump in."""
    name = args.command
    values = _values(args, name)
    sent = (name, values)
    if getattr(args, "no_interrupt", False):
        if values != [2]:
            raise UserError("--no-interrupt is for grade 2 only (grade 1 never interrupts,"
                            " grade >= 3 always discontinues)")
        sent = ("ircontinue", [])
    with Session.from_args(args) as s:
        if two_step(name):
            ok = _two_step(s, name, values, args.yes, read_line, interactive)
        else:
            ok = s.command(sent[0], *sent[1])
        fields = ok.fields if "st" in ok.fields else s.status()  # an older firmware's ok
        what = _DONE.get(name, "")
        if args.json:
            say(json.dumps({"command": name, "args": values, "ok": True,
                            "board": s.identity(), "status": fields}, sort_keys=True))
        else:
            say("%s: ok - %s%s (%s)" % (" ".join([name, *map(str, values)]), what,
                                        status_text(fields), s.named()))
    return 0


def _two_step(s, name, values, yes, read_line, interactive):
    """The device answers with an ask and a token; the person types the token back and the
    device (not pumpctl) checks it. Without a terminal, only --yes confirms."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    ask = s.command(name, *values)
    token = "%04X" % ask.fields["token"]
    if yes:
        typed = token
    elif not interactive:
        raise UserError("%s needs a person to read back the token at a terminal; scripts pass"
                        " --yes (%s)" % (name, _NOT_DONE[name]))
    else:
        say("The pump asks you to confirm: %s %s." % (name, " ".join(map(str, values))))
        try:
            typed = (read_line or input)("Type %s to confirm (anything else cancels): " % token)
        except EOFError:
            typed = ""
        typed = typed.strip().upper()
    if not re.fullmatch(r"[0-9A-F]{4}", typed):
        raise UserError("cancelled: %s (the ask expires by itself)" % _NOT_DONE[name])
    return s.command("confirm", int(typed, 16))  # a wrong token: the device refuses, cancels


def argparse_status(parser):
    add_port_argument(parser)
    parser.add_argument("--json", action="store_true",
                        help="the status fields and the board's identity as one JSON object")


def do_status(args):
    with Session.from_args(args) as s:
        fields = s.status()
        if args.json:
            say(json.dumps({"port": s.url, "hello": s.hello, "board": s.identity(),
                            "status": fields}, sort_keys=True))
        else:
            say("%s (%s)" % (status_text(fields), s.named()))
    return 0

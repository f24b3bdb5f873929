"""`pumpctl start/pause/resume/ir/resolved/stop/status/clear`: one command, one result line."""

import json
import re
import sys

from host_tools.session import Session, UserError, add_port_argument, say


def ml(ul):
    return "%.3f mL" % (ul / 1000)


def hms(ms):
    s = max(0, int(ms)) // 1000
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def format_status(f):
    """The record fields on one line, in the units a bench engineer reads."""
    return "%s, infusion %s, %.1f mL/h, delivered %s, remaining %s, elapsed %s" % (
        f.get("st", "?"), f.get("inf", "?"), f.get("rate_ul_h", 0) / 1000,
        ml(f.get("vol_ul", 0)), ml(f.get("remain_ul", 0)), hms(f.get("elapsed_ms", 0)))


def _run(args, name, *cmd_args):
    """Send one command, then read the status so the line says where the pump is now."""
    with Session.from_args(args) as s:
        s.command(name, *cmd_args)
        say("%s: ok - %s" % (" ".join([name, *map(str, cmd_args)]), format_status(s.status())))
    return 0


def argparse_start(parser):
    add_port_argument(parser)
    parser.add_argument("--infusion", type=int, required=True, metavar="N",
                        help="infusion number (1 = first dose; the schedule depends on it)")


def do_start(args):
    return _run(args, "start", args.infusion)


def argparse_pause(parser):
    add_port_argument(parser)


def do_pause(args):
    return _run(args, "pause")


def argparse_resume(parser):
    add_port_argument(parser)


def do_resume(args):
    return _run(args, "resume")


def argparse_ir(parser):
    add_port_argument(parser)
    parser.add_argument("grade", type=int, metavar="GRADE",
                        help="infusion-reaction grade 1..5 (2: interrupt, >= 3: discontinue)")
    parser.add_argument("--no-interrupt", action="store_true",
                        help="grade 2 only: keep infusing at the current rate, escalation held"
                        " until resolved (the operator's choice; interrupting is the default)")


def do_ir(args):
    if args.no_interrupt:
        if args.grade != 2:
            raise UserError("--no-interrupt is for grade 2 only (grade 1 never interrupts,"
                            " grade >= 3 always discontinues)")
        return _run(args, "ircontinue")
    return _run(args, "ir", args.grade)


def argparse_resolved(parser):
    add_port_argument(parser)


def do_resolved(args):
    return _run(args, "resolved")


def argparse_stop(parser):
    add_port_argument(parser)


def do_stop(args):
    return _run(args, "stop")


def argparse_status(parser):
    add_port_argument(parser)
    parser.add_argument("--json", action="store_true",
                        help="the record fields and the board's identity as one JSON object")


def do_status(args):
    with Session.from_args(args) as s:
        fields = s.status()
        if args.json:
            say(json.dumps({"port": s.url, "hello": s.hello, "status": fields}, sort_keys=True))
        else:
            say("%s (%s %s on %s)" % (format_status(fields), s.hello.get("board"),
                                      s.hello.get("fw"), s.url))
    return 0


# ---- clear: the deliberate two-step latch clear ------------------------------------------


def argparse_clear(parser):
    add_port_argument(parser)
    parser.add_argument("--yes", action="store_true",
                        help="confirm with the token without asking (scripts and test rigs"
                             " only: it skips the person reading the token back)")


def do_clear(args, read_line=None, interactive=None):
    """The device answers `clear` with an ask and a token; the person types the token back and
    the device (not pumpctl) checks it. Without a terminal, only --yes confirms."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    if read_line is None:
        read_line = input
    with Session.from_args(args) as s:
        ask = s.command("clear")
        token = "%04X" % ask.fields["token"]
        if args.yes:
            typed = token
        elif not interactive:
            raise UserError("clear needs a person to read back the token at a terminal;"
                            " scripts pass --yes (nothing was cleared)")
        else:
            say("The pump is discontinued (latched). Clearing it allows a new start.")
            typed = read_line("Type %s to clear the latch (anything else cancels): " % token)
            typed = typed.strip().upper()
        if not re.fullmatch(r"[0-9A-F]{4}", typed):
            raise UserError("cancelled: nothing was cleared (the ask expires by itself)")
        s.command("confirm", int(typed, 16))  # a wrong token: the device refuses, cancels
        say("clear: ok - latch cleared; %s" % format_status(s.status()))
    return 0

"""`pumpctl ports`: every serial port and running board, and which ones run this firmware."""

import json

from host_tools.commands.view import say
from host_tools.link.discovery import PROBE_TIMEOUT_S, survey


def argparse_ports(parser):
    parser.add_argument("--json", action="store_true", help="one JSON object per port")
    parser.add_argument("--timeout", type=float, default=PROBE_TIMEOUT_S, metavar="S",
                        help="seconds each port has to answer `id` (default %g)" % PROBE_TIMEOUT_S)


def do_ports(args):
    rows = survey(args.timeout)
    if args.json:
        for row in rows:
            say(json.dumps(row, sort_keys=True))
        return 0
    if not rows:
        say("no serial ports and no virtual boards (start one: make sim SERVE=1)")
        return 0
    say("%-4s %-28s %-7s %-8s %s" % ("", "PORT", "BOARD", "FW", "WHAT"))
    for row in rows:
        hello = row.get("hello") or {}
        what = row["desc"] if row["ok"] else "%s - %s" % (row["why"], row["desc"])
        if row.get("served_by"):
            what += " [shared by %(command)s, pid %(pid)d]" % row["served_by"]
        say("%-4s %-28s %-7s %-8s %s" % (row["name"], row["port"], hello.get("board", "-"),
                                         hello.get("fw", "-"), what.strip(" -")))
    return 0

"""pumpctl's shared options and argument types: --port/--timeout, seconds > 0, and protocol
arguments checked against the protocol table so an error names the user's option."""

import argparse
import re
import sys

from pumpfw import protocol as P


class Parser(argparse.ArgumentParser):
    """One clear line instead of argparse's usage dump, naming the option as the user typed it
    ("--infusion must be 1..999"); exit status 2 as argparse's."""

    def error(self, message):
        message = re.sub(r"^argument ([^:]+): ", r"\1 ", message)
        sys.stderr.write("%s: error: %s\n" % (self.prog, message))
        raise SystemExit(2)


def checked(convert, noun, low, high=None, include_low=False, unit=""):
    """An argparse type: convert(text) within [low, high] (low itself only if include_low);
    the message says what was wanted and what was given."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError("must be %s, not %r" % (noun, text)) from None
        too_low = value < low or (value == low and not include_low)
        if value != value or value == float("inf") or too_low or (high is not None
                                                                   and value > high):
            wanted = "%d..%d" % (low, high) if high is not None else "%s %g%s" % (
                ">=" if include_low else ">", low, unit)
            raise argparse.ArgumentTypeError("must be %s, not %s" % (wanted, text))
        return value

    return parse


# 0 seconds would mean 'never wait' or 'forever': refused where it makes no sense.
positive_seconds = checked(float, "a number of seconds", 0, unit=" seconds")
seconds_or_zero = checked(float, "a number of seconds", 0, include_low=True, unit=" seconds")
positive_number = checked(float, "a number", 0)
positive_int = checked(int, "a whole number", 0)


def protocol_int(command, arg):
    """argparse type for a command argument, checked against the protocol table's range, so
    the error names the user's option (`--infusion must be 1..999`), not the protocol field."""
    lo, hi = next((a[P.ARG_LO], a[P.ARG_HI]) for a in P.command_spec(command)[P.CMD_ARGS]
                  if a[P.ARG_NAME] == arg)
    return checked(int, "a whole number %d..%d" % (lo, hi), lo, hi, include_low=True)


ENV_PORT = "PUMPCTL_PORT"
PORT_HELP = ("auto (default: the one board that fits the command; several: they are listed),"
             " a0 = /dev/ttyACM0, u0 = /dev/ttyUSB0, c3 = COM3, v0 = the first running virtual"
             " board, a path or a pyserial URL (socket://host:port). Also before the command"
             " (pumpctl --port a0 status) or in $%s" % ENV_PORT)


def add_port_argument(parser):
    """--port/--timeout of a command that talks to a board. Their defaults are None: the value
    given before the command, then $PUMPCTL_PORT, then auto, fill them in (port_defaults)."""
    parser.add_argument("--port", default=None, help=PORT_HELP)
    parser.add_argument("--timeout", type=positive_seconds, default=None, metavar="S",
                        help="seconds to wait for each answer (default 3)")


def add_global_port(parser):
    """The connection first, as mpremote takes it: pumpctl --port v0 status."""
    parser.add_argument("--port", dest="global_port", default=None, metavar="PORT",
                        help=PORT_HELP)
    parser.add_argument("--timeout", dest="global_timeout", type=positive_seconds,
                        default=None, metavar="S", help="seconds to wait for each answer")


def port_defaults(args, environ):
    """Fill in --port/--timeout: after the command, else before it, else $PUMPCTL_PORT / auto.
    Returns an error line when a port was given to a command that talks to no board."""
    if not hasattr(args, "port"):
        if args.global_port is not None:
            return "%s talks to no board: --port does not apply" % args.command
        return None
    if args.port is None:
        args.port = args.global_port or environ.get(ENV_PORT, "").strip() or "auto"
    if args.timeout is None:
        args.timeout = args.global_timeout
    fill_port(args)
    return None


def fill_port(args):
    """--port/--timeout as a command reads them, also when its args were parsed without main()
    (tests, other tools): auto and 3 s unless given."""
    args.port = getattr(args, "port", None) or "auto"
    if getattr(args, "timeout", None) is None:
        args.timeout = 3.0
    return args

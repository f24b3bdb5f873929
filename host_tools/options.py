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


def positive_seconds(text):
    """argparse type: a number of seconds > 0 (0 would mean 'never wait' or 'forever')."""
    return _seconds(text, 0.0, ">")


def seconds_or_zero(text):
    """argparse type: a number of seconds >= 0."""
    return _seconds(text, 0.0, ">=")


def _seconds(text, low, op):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds, not %r" % text) from None
    ok = value > low if op == ">" else value >= low
    if not ok or value == float("inf"):
        raise argparse.ArgumentTypeError("must be %s %g seconds, not %s" % (op, low, text))
    return value


def positive_number(text):
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number, not %r" % text) from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be > 0, not %s" % text)
    return value


def positive_int(text):
    """argparse type: a whole number > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number, not %r" % text) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0, not %d" % value)
    return value


def protocol_int(command, arg):
    """argparse type for a command argument, checked against the protocol table's range, so
    the error names the user's option (`--infusion must be 1..999`), not the protocol field."""
    spec = P.command_spec(command)
    lo, hi = next((a[1], a[2]) for a in spec[1] if a[0] == arg)

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("must be a whole number %d..%d, not %r"
                                             % (lo, hi, text)) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError("must be %d..%d, not %d" % (lo, hi, value))
        return value

    return parse


def add_port_argument(parser):
    parser.add_argument(
        "--port", default="auto",
        help="auto (default: the first board that answers as this firmware), a0 = /dev/ttyACM0,"
             " u0 = /dev/ttyUSB0, c3 = COM3, v0 = the first running virtual board, a path or"
             " a pyserial URL (socket://host:port)")
    parser.add_argument("--timeout", type=positive_seconds, default=3.0, metavar="S",
                        help="seconds to wait for each answer (default 3)")

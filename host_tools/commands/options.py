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


def add_port_argument(parser):
    parser.add_argument(
        "--port", default="auto",
        help="auto (default: the first board that answers as this firmware), a0 = /dev/ttyACM0,"
             " u0 = /dev/ttyUSB0, c3 = COM3, v0 = the first running virtual board, a path or"
             " a pyserial URL (socket://host:port)")
    parser.add_argument("--timeout", type=positive_seconds, default=3.0, metavar="S",
                        help="seconds to wait for each answer (default 3)")

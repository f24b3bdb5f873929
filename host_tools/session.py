"""One command's connection to a pump (mpremote's State): port, client, identity, and every
failure turned into one line that says what to do."""

import errno
import sys

from host_tools import errors
from host_tools.client import Client


class UserError(ValueError):
    """A failure the user can fix: cli.main prints it as one line and exits with status 1."""


def add_port_argument(parser):
    parser.add_argument(
        "--port", default="auto",
        help="auto (default: the first board that answers as this firmware), a0 = /dev/ttyACM0,"
             " u0 = /dev/ttyUSB0, c3 = COM3, v0 = the first running virtual board, a path or"
             " a pyserial URL (socket://host:port)")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="S",
                        help="seconds to wait for each answer (default 3)")


def _open_failure(url, exc):
    text = str(exc)
    low = text.lower()
    code = getattr(exc, "errno", None)
    if code == errno.EBUSY or "busy" in low or "lock" in low:
        return "port %s is busy: close the program using it (mpremote, a terminal, another" \
               " pumpctl) and try again" % url
    if code == errno.EACCES or "permission denied" in low:
        return "no permission to open %s: add yourself to the dialout group" \
               " (sudo usermod -aG dialout $USER) and log in again" % url
    if "refused" in low:
        return "nothing is listening at %s: is the virtual board still running" \
               " (python -m host_tools.sim.board --serve)?" % url
    if "no such file" in low or "errno 2]" in low or "could not open port" in low:
        return "no such port %s: check the cable, or list the boards with `pumpctl ports`" % url
    return "%s: check --port (`pumpctl ports` lists the boards)" % text


def explain(exc, url, client=None, identifying=False):
    """A PumpError -> the one line the user reads."""
    if isinstance(exc, errors.TransportError):
        return _open_failure(url, exc)
    if isinstance(exc, errors.CommandError):
        hint = ""
        if exc.reason == "latched":
            hint = ": clear the latch first (pumpctl clear)"
        elif exc.reason in ("checksum", "syntax", "unknown"):
            hint = " (a protocol problem between pumpctl and the firmware: update one of them)"
        return "%s%s" % (exc.text or exc.reason, hint)
    if isinstance(exc, errors.ProtocolError):
        return "%s (pumpctl flash installs this version's firmware)" % exc
    if isinstance(exc, errors.DeviceTimeout) and identifying:
        check = client.check if client is not None else None
        if check is not None and (check.noise or check.corrupt):
            return "%s is not running this firmware (it answered with lines that are not this" \
                   " protocol): flash it with `pumpctl flash --board pico --port %s`" % (url, url)
        return "no answer from %s: is the board powered and running the pump firmware? (a board" \
               " left at the REPL: press reset; a fresh board: pumpctl flash)" % url
    if isinstance(exc, errors.DeviceTimeout):
        return "%s: check the cable; the board may have reset (pumpctl status)" % exc
    return str(exc)


class Session:
    """Connection state for one command: ensure_connected() opens and identifies once."""

    def __init__(self, port="auto", timeout_s=3.0, client_factory=Client):
        self.port_name = port
        self.timeout_s = timeout_s
        self.client_factory = client_factory
        self.url = None
        self.client = None
        self.hello = None

    @classmethod
    def from_args(cls, args):
        return cls(args.port, getattr(args, "timeout", 3.0))

    def ensure_connected(self):
        if self.client is not None:
            return self.client
        from host_tools import ports  # ports imports this module

        self.url = ports.resolve(self.port_name, self.timeout_s)
        client = self.client_factory(self.url, timeout_s=self.timeout_s)
        try:
            client.connect()
            self.hello = client.identify()
        except errors.PumpError as exc:
            client.close()
            raise UserError(explain(exc, self.url, client, identifying=True)) from None
        self.client = client
        return client

    def command(self, name, *args):
        """Send one command; ok/ask returned, any failure raised as UserError."""
        client = self.ensure_connected()
        try:
            return client.command(name, *args)
        except errors.PumpError as exc:
            raise UserError(explain(exc, self.url, client)) from None

    def status(self):
        return self.command("status").fields

    def close(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        if isinstance(exc, errors.PumpError):  # raised by direct client use inside the block
            raise UserError(explain(exc, self.url or self.port_name, self.client)) from None
        return False


def say(text, stream=None):
    """One result line on stdout (or `stream`), flushed: scripts read it as it happens."""
    stream = stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()

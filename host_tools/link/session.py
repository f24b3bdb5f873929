"""One command's connection to a pump (mpremote's State): port, client, identity, and every
failure turned into one line that says what to do."""

import errno

from host_tools.link import discovery, errors
from host_tools.link.client import Client
from host_tools.link.errors import UserError


def open_failure(url, exc):
    """Why a port did not open, and what to do: the one explanation every command gives."""
    text = str(exc)
    low = text.lower()
    code = getattr(exc, "errno", None)
    if code == errno.EBUSY or "busy" in low or "lock" in low:
        return "port %s is busy: close the program using it (mpremote, a terminal) and try" \
               " again" % url
    if code == errno.EACCES or "permission denied" in low:
        return "no permission to open %s: add yourself to the dialout group" \
               " (sudo usermod -aG dialout $USER) and log in again" % url
    if "refused" in low:
        return "nothing is listening at %s: is the virtual board still running" \
               " (make sim SERVE=1)?" % url
    if "no such file" in low or "errno 2]" in low or "could not open port" in low:
        return "no such port %s: check the cable, or list the boards with `pumpctl ports`" % url
    return "%s: check --port (`pumpctl ports` lists the boards)" % text


def _refusal(exc):
    """A device refusal, with what pumpctl can do about it."""
    text = exc.text or exc.reason
    if exc.reason == "latched":
        return "%s: clear the latch first (pumpctl clear)" % text
    if exc.reason in ("checksum", "syntax", "unknown"):
        return "%s (a protocol problem between pumpctl and the firmware: update one of them)" \
            % text
    if exc.command == "resolved" and exc.reason == "state" and "refused by" in text:
        return "no infusion reaction is active: there is nothing to resolve"
    if exc.reason == "state" and " while " in text and exc.command in ("start", "startover"):
        return "%s: an infusion is on; it must end first (pumpctl stop)" % text
    if "startover" in text and exc.command != "startover":
        return "%s (pumpctl startover --infusion N starts it once you confirm)" % text
    return text


def explain(exc, url, client=None, identifying=False):
    """A PumpError -> the one line the user reads."""
    if isinstance(exc, errors.TransportError):
        return open_failure(url, exc)
    if isinstance(exc, errors.CommandError):
        return _refusal(exc)
    if isinstance(exc, errors.ProtocolError):
        return "%s (pumpctl flash installs this version's firmware)" % exc
    if isinstance(exc, errors.DeviceTimeout) and identifying:
        check = client.check if client is not None else None
        if check is not None and (check.noise or check.corrupted):
            return "%s is not running this firmware (it answered with lines that are not this" \
                   " protocol): flash it with `pumpctl flash --board pico --port %s`" % (url, url)
        return "no answer from %s: is the board powered and running the pump firmware? (a board" \
               " left at the REPL: press reset; a fresh board: pumpctl flash)" % url
    if isinstance(exc, errors.DeviceTimeout):
        return "%s: check the cable; the board may have reset (pumpctl status)" % exc
    return str(exc)


class Session:
    """Connection state for one command: ensure_connected() opens and identifies once (with
    --port auto, the client that answered the search is the one used)."""

    def __init__(self, port="auto", timeout_s=3.0, client_factory=Client):
        self.port_name = port
        self.timeout_s = timeout_s
        self.client_factory = client_factory
        self.url = None
        self.client = None
        self.hello = None

    @classmethod
    def from_args(cls, args):
        timeout = getattr(args, "timeout", None)
        return cls(getattr(args, "port", None) or "auto", 3.0 if timeout is None else timeout)

    def ensure_connected(self):
        if self.client is not None:
            return self.client
        if self.port_name == "auto":
            self.url, client, self.hello = discovery.find_auto(self.timeout_s)
            client.timeout_s = self.timeout_s
            self.client = client
            return client
        self.url = discovery.resolve(self.port_name)
        client = self.client_factory(self.url, timeout_s=self.timeout_s)
        try:
            client.connect()
            self.hello = client.identify()
        except errors.PumpError as exc:
            client.close()
            raise UserError(explain(exc, self.url, client, identifying=True)) from None
        self.client = client
        return client

    def identity(self):
        """{port, board, fw, serial} of the board this session acts on."""
        return discovery.identity(self.url, self.hello)

    def named(self):
        """The words every result line ends with: which board, which port."""
        return discovery.identity_text(self.identity())

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
        if isinstance(exc, errors.PumpError) and not isinstance(exc, UserError):
            # raised by direct client use inside the block
            raise UserError(explain(exc, self.url or self.port_name, self.client)) from None
        return False

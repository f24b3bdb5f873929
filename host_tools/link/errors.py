"""The error tree of host_tools: each one prints as one clear line for the user."""


class PumpError(Exception):
    """Base of every error host_tools raises on purpose."""


class UserError(PumpError):
    """A failure the user can fix (an option, a file, a port): printed as one line, exit 1."""


class TransportError(PumpError):
    """The port could not be opened, read or written (unplugged, busy, wrong path)."""


class DeviceTimeout(PumpError):
    """The device did not answer, or sent nothing, within the time allowed."""


class ProtocolError(PumpError):
    """The device speaks another protocol version, or something unexpected arrived."""


class IntegrityError(PumpError):
    """Lines were lost, reordered or corrupted on the way from the device."""


class CommandError(PumpError):
    """The device refused a command: reason is a protocol.REASONS name, text its message."""

    def __init__(self, command, reason, text):
        super().__init__("%s refused: %s (%s)" % (command, text, reason))
        self.command = command
        self.reason = reason
        self.text = text

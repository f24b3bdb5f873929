# Why an input changed nothing: every reason code of the protocol's `err` lines, once, with its
# name. The controller, the framing and the dispatcher each raise some of them.
from pumpfw.compat import const

OK = const(0)
E_STATE = const(1)  # not allowed in the current state (controller)
E_RANGE = const(2)  # an argument out of range (controller, dispatcher)
E_LATCHED = const(3)  # discontinued: only the latch clear allows a new start (controller)
E_TIME = const(4)  # time went backwards (controller)
E_CHECKSUM = const(5)  # the line's CRC does not match (framing)
E_SYNTAX = const(6)  # not a line of the protocol (framing)
E_UNKNOWN = const(7)  # no such command (dispatcher)
E_CONFIRM = const(8)  # no such ask, or it expired (dispatcher)
E_TOOLONG = const(9)  # longer than MAX_LINE_BYTES (dispatcher)
E_ENCODING = const(10)  # a byte outside printable ASCII (framing)
E_INTERNAL = const(11)  # a command's handler failed: a firmware bug (dispatcher)
NAMES = ("ok", "state", "range", "latched", "time", "checksum", "syntax", "unknown", "confirm",
         "toolong", "encoding", "internal")

# Non-blocking line assembler for the serial input: one byte in, at most one finished line out.
# It never allocates per byte: the line lives in a buffer allocated once.
from pumpfw.compat import const

# What feed() returns.
NONE = const(0)  # nothing finished yet
LINE = const(1)  # line() holds a complete line of printable ASCII (no CR/LF)
TOO_LONG = const(2)  # a line overflowed the buffer; it was discarded up to its end
BAD_BYTES = const(3)  # a line held NUL, control or non-ASCII bytes; discarded up to its end
INTR = const(4)  # Ctrl-C (0x03): answered with an err; it never breaks the pump loop
STATUS_NAMES = ("none", "line", "too_long", "bad_bytes", "intr")

_CR = const(13)
_LF = const(10)
_TAB = const(9)
_BS = const(8)
_DEL = const(127)
_CTRL_C = const(3)
_CTRL_U = const(21)
_SPACE = const(32)


class LineIn:
    """Assembles lines from single bytes.

    CR, LF or CR LF end a line; empty lines are ignored (so CR LF gives one line, not two).
    Backspace/DEL erase the last byte and Ctrl-U the whole line, for people typing in a terminal;
    TAB counts as a space. Any other byte outside printable ASCII spoils the line, which is then
    reported once as BAD_BYTES at its end, never passed on. The counters say what was seen.
    """

    def __init__(self, max_bytes=120):
        self.buf = bytearray(max_bytes)
        self._mv = memoryview(self.buf)
        self.max_bytes = max_bytes
        self.n = 0
        self._overflow = False
        self._bad = False
        self._done = False  # line() is a finished line; the next byte starts a new one
        self.lines = 0
        self.too_long = 0
        self.bad = 0
        self.intr = 0

    def clear(self):
        self.n = 0
        self._overflow = False
        self._bad = False
        self._done = False

    def line(self):
        """The finished line (a view into the buffer: valid until the next feed)."""
        return self._mv[: self.n]

    def feed(self, byte):
        if self._done:
            self.n = 0
            self._done = False
        if byte == _CR or byte == _LF:
            return self._end()
        if byte == _CTRL_C:
            self.intr += 1
            self.clear()
            return INTR
        if byte == _BS or byte == _DEL:
            if self.n and not self._overflow:
                self.n -= 1
            return NONE
        if byte == _CTRL_U:
            self.clear()
            return NONE
        if byte == _TAB:
            byte = _SPACE
        if byte < _SPACE or byte > 126:
            self._bad = True
            return NONE
        if self.n >= self.max_bytes:
            self._overflow = True
            return NONE
        self.buf[self.n] = byte
        self.n += 1
        return NONE

    def _end(self):
        if self._overflow:
            status = TOO_LONG
            self.too_long += 1
        elif self._bad:
            status = BAD_BYTES
            self.bad += 1
        elif self.n == 0:
            return NONE
        else:
            self.lines += 1
            self._done = True
            return LINE
        self.clear()
        return status

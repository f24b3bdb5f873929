# Framing shared by every line of the protocol: CRC-16, `<seq> <body>*<CRC>` and its checks.
# Part of protocol.py's interface (re-exported there); split out to keep each file small.
from array import array

from pumpfw.compat import const
from pumpfw.reasons import E_CHECKSUM, E_ENCODING, E_SYNTAX

_MAX_DIGITS = const(9)  # decimal arguments stay below 2**30 (MicroPython small ints)

# ---- checksum and framing -----------------------------------------------------------------
# CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), a nibble at a time: a 16-entry table keeps
# RAM small and every intermediate below 2**16.
_CRC_NIBBLE = (
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
    0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF,
)  # fmt: skip


def _crc16_nibbles(data, crc=0xFFFF):
    t = _CRC_NIBBLE
    for b in data:
        crc = ((crc << 4) & 0xFFFF) ^ t[(crc >> 12) ^ (b >> 4)]
        crc = ((crc << 4) & 0xFFFF) ^ t[(crc >> 12) ^ (b & 0x0F)]
    return crc


# A byte at a time: the nibble table's two steps for each of the 256 bytes, built once (512
# bytes of RAM). Every line sent is checked: this halves the work on the record path.
_CRC_BYTE = array("H", bytes(512))
for _i in range(256):
    _CRC_BYTE[_i] = _crc16_nibbles(b"\x00", _i << 8)


def _crc16_bytes(data, crc=0xFFFF):
    t = _CRC_BYTE
    for b in data:
        crc = ((crc << 8) & 0xFF00) ^ t[(crc >> 8) ^ b]
    return crc


try:
    # CPython's C implementation of the same CRC (poly 0x1021, no reflection): host tools decode
    # long logs ten times faster with it. MicroPython has no crc_hqx: the table above is used.
    from binascii import crc_hqx as _crc_hqx
except ImportError:
    _crc_hqx = None


_unit = None  # a board's CRC unit (use_crc_unit), else the table


def use_crc_unit(fn):
    """A board with a CRC unit (the virtual board's harness; an RP2040's DMA sniffer) computes
    crc16 with fn(data, crc). It must agree with the table on a check value, or it is refused
    (False). None goes back to the table."""
    global _unit
    if fn is not None and (fn(b"123456789", 0xFFFF) != 0x29B1 or fn(b"", 0x1D0F) != 0x1D0F):
        return False
    _unit = fn
    return True


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of bytes-like data; pass the result back in to continue."""
    if _crc_hqx is not None:
        return _crc_hqx(data, crc)
    if _unit is not None:
        return _unit(data, crc)
    return _crc16_bytes(data, crc)


def frame(seq, body):
    """One checked line: b"<seq> <body>*<CRC>\\r\\n" (body: ASCII str)."""
    head = ("%d %s" % (seq, body)).encode()
    return head + (b"*%04X\r\n" % crc16(head))


class LineError(ValueError):
    """A line that cannot be decoded; reason is an E_* code."""

    def __init__(self, reason, text):
        super().__init__(text)
        self.reason = reason
        self.text = text


# These checks run on every line a board reads: built-ins, no generator (on the rp2 port a
# generator over 4 characters cost ~270 us, the whole command check ~2.5 ms).
def _digits(s, n_max=_MAX_DIGITS):
    # isdigit() alone takes other scripts' digits on CPython: all of them are above "9"
    return 0 < len(s) <= n_max and s.isdigit() and max(s) <= "9"


def _hex4(s):
    if len(s) != 4:
        return False
    try:
        value = int(s, 16)  # also takes "0x", a sign, spaces, "_": the round trip refuses them
    except ValueError:
        return False
    return value >= 0 and "%04X" % value == s.upper()


def _unframe(line):
    """bytes without EOL -> (seq or None, body str, checked). Raises LineError."""
    if len(line) == 0:
        raise LineError(E_SYNTAX, "empty line")
    if min(line) < 0x20 or max(line) > 0x7E:
        raise LineError(E_ENCODING, "only printable ASCII is allowed")
    text = bytes(line).decode()
    star = text.rfind("*")
    if star < 0:
        if text[0] >= "0" and text[0] <= "9":
            raise LineError(E_CHECKSUM, "a numbered line needs *CRC at its end")
        return None, text, False
    crc_text = text[star + 1 :]
    if not _hex4(crc_text):
        raise LineError(E_CHECKSUM, "the checksum must be 4 hex digits after '*'")
    body = text[:star]
    if crc16(body.encode()) != int(crc_text, 16):
        raise LineError(E_CHECKSUM, "checksum mismatch")
    sp = body.find(" ")
    if sp <= 0 or not _digits(body[:sp]):
        raise LineError(E_SYNTAX, "a checked line starts with its sequence number")
    return int(body[:sp]), body[sp + 1 :], True

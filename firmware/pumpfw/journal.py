# Power-loss journal: one small record, written to a temp file and renamed over the old one.
# On littlefs a rename is atomic, so a cut leaves either the old record or the new one, whole.
import binascii
import json
import os

VERSION = 1


class JournalError(Exception):
    """The journal exists but cannot be trusted (bad checksum, bad JSON, wrong version)."""


def _crc_hex(body):
    return "%08x" % (binascii.crc32(body) & 0xFFFFFFFF)


def encode(record):
    """dict -> bytes: a JSON line, then its CRC-32 in hex on a line of its own."""
    body = json.dumps(record, separators=(",", ":")).encode()
    return body + b"\n" + _crc_hex(body).encode() + b"\n"


def decode(data):
    """bytes -> dict, or JournalError saying what is wrong."""
    lines = data.split(b"\n")
    if len(lines) < 2 or not lines[0]:
        raise JournalError("truncated")
    body, crc = lines[0], lines[1].strip()
    if _crc_hex(body).encode() != crc:
        raise JournalError("checksum mismatch")
    try:
        record = json.loads(body)
    except ValueError:
        raise JournalError("unreadable")
    if not isinstance(record, dict) or record.get("v") != VERSION:
        raise JournalError("unknown version")
    return record


class Journal:
    """The journal file at root/name; save() replaces it atomically, load() verifies it."""

    def __init__(self, root, name="journal"):
        self.path = root + "/" + name
        self.tmp_path = self.path + ".tmp"
        self.seq = 0
        self.writes = 0
        try:
            os.mkdir(root)
        except OSError:
            pass  # already there

    def load(self):
        """The last saved record, None if there is none; JournalError if it is corrupt."""
        try:
            os.remove(self.tmp_path)  # a write cut short: the old record is still whole
        except OSError:
            pass
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        record = decode(data)
        self.seq = record.get("seq", 0)
        return record

    def save(self, record):
        """Replace the record atomically; returns the bytes written."""
        self.seq += 1
        record["v"] = VERSION
        record["seq"] = self.seq
        data = encode(record)
        with open(self.tmp_path, "wb") as f:
            f.write(data)
        os.rename(self.tmp_path, self.path)
        self.writes += 1
        return len(data)

    def erase(self):
        for path in (self.tmp_path, self.path):
            try:
                os.remove(path)
            except OSError:
                pass

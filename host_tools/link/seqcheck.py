"""The one sequence tracker: follows device sequence numbers line by line and explains each gap."""

from pumpfw import protocol as P


class SeqTracker:
    """Gaps (lines never received), reordering, reboots, and the device's own drops.

    check() takes one decoded line: it returns (missing_before, reordered), where missing_before
    counts the numbers skipped just before this line, not counting lines that arrived corrupted
    (they used their number: note each with corrupt() first). A `hello` with sequence 0 is a
    reboot: numbering starts again, which is not a gap. A number going backwards is a reordered
    or repeated line.

    Records and `ok` lines carry the device's cumulative `drop` counter: missing lines that it
    accounts for were dropped by the device itself (its queue was full, `dropped`); the rest were
    lost on the way (`lost`).
    """

    def __init__(self):
        self.expected = None
        self.corrupt_since = 0  # corrupted lines since the last decoded one
        self.lines = 0  # decoded lines seen
        self.corrupted = 0  # lines that failed their CRC or syntax (they carried a number)
        self.noise = 0  # unframed text (a REPL banner, a traceback): counted by the reader
        self.gaps = 0
        self.missing = 0
        self.reordered = 0
        self.restarts = 0
        self.dropped = 0
        self.lost = 0
        self._last_drop = None
        self._unexplained = 0  # missing lines not yet matched against a drop count

    def corrupt(self):
        """A line arrived but did not decode (bad CRC, bad syntax): it used up a number."""
        self.corrupted += 1
        self.corrupt_since += 1

    def check(self, seq, kind, drop=None):
        """One decoded line -> (missing_before, reordered)."""
        self.lines += 1
        missing, reordered = 0, False
        if kind == "hello" and seq == 0:
            if self.expected is not None:
                self.restarts += 1
            self._last_drop = None
            self._unexplained = 0
        elif self.expected is not None and seq != self.expected:
            ahead = (seq - self.expected) % P.SEQ_MOD
            if ahead < P.SEQ_MOD // 2:
                missing = max(0, ahead - self.corrupt_since)
            else:
                reordered = True
        if reordered:
            self.reordered += 1
            return 0, True
        if missing:
            self.gaps += 1
            self.missing += missing
            self._unexplained += missing
        self.expected = (seq + 1) % P.SEQ_MOD
        self.corrupt_since = 0
        if drop is not None:
            self._reconcile(drop)
        return missing, False

    def see(self, msg):
        """check() for a protocol.Message (its `drop` field is used by records and oks)."""
        drop = msg.fields.get("drop") if msg.kind in ("rec", "ok") else None
        return self.check(msg.seq, msg.kind, drop if isinstance(drop, int) else None)

    def _reconcile(self, drop):
        device = 0 if self._last_drop is None else (drop - self._last_drop) % P.SEQ_MOD
        self._last_drop = drop
        self.dropped += device
        if self._unexplained > device:
            self.lost += self._unexplained - device
        self._unexplained = 0

    def problems(self):
        """What went wrong on the way, as words (empty when nothing did)."""
        parts = []
        for name, count in (("lost", self.lost), ("corrupt", self.corrupted),
                            ("reordered", self.reordered)):
            if count:
                parts.append("%d %s" % (count, name))
        return parts

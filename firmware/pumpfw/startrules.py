# Whether an infusion may start now (docs/safety.md): the premedication window (seed, Methods:
# 15-60 min after it), the infusion number the pump expects next, and a journal that was lost;
# startover passes each of these (logged as `ev override`), nothing passes a failed self-check.
from pumpfw import protocol as P


class StartRules:
    """The pump's start rules, a component of App: StartRules(on_event). on_event(code, now_ms,
    a, b) reports `ev premed` and `ev override`. Tunables are class attributes."""

    premed_min_ms = 15 * 60_000
    premed_max_ms = 60 * 60_000

    def __init__(self, on_event):
        self._event = on_event
        self.premed_ms = None  # when the premedication was given (app clock; may be < 0)
        self.next_infusion = 0  # 0: unknown (no infusion completed on this pump yet)
        self.journal_lost = False  # the journal was corrupt: a start needs startover
        self.problems = ()  # what the self-check found (a "journal..." problem is passable)

    # The "starts" handler of protocol.COMMANDS (the `premed` command).
    def set_premed(self, now_ms, min_ago):
        self.premed_ms = now_ms - min_ago * 60_000
        self._event(P.EV_PREMED, now_ms, min_ago, 0)
        return P.E_OK

    def refusal(self, now_ms, infusion, override):
        """None if infusion may start now, else (reason code, why in words). An override
        passes the number, premedication and lost-journal checks (logged), never a failed
        self-check."""
        for problem in self.problems:
            if not problem.startswith("journal"):
                return P.E_STATE, "self-check failed: " + problem
        what = 0
        why = ""
        if self.journal_lost:
            what |= P.OVERRIDE_JOURNAL
            why = "the journal was corrupt: confirm with startover"
        if self.next_infusion and infusion != self.next_infusion:
            what |= P.OVERRIDE_NUMBER
            why = "expected infusion %d next: use startover to start %d" % (
                self.next_infusion, infusion)
        if self.premed_ms is not None:
            age = now_ms - self.premed_ms
            if not self.premed_min_ms <= age <= self.premed_max_ms:
                what |= P.OVERRIDE_PREMED
                why = "premedication was %d min ago: start 15-60 min after it, or startover" % (
                    age // 60_000)
        if what and not override:
            return P.E_RANGE, why
        if what:
            self._event(P.EV_OVERRIDE, now_ms, infusion, what)
            self.journal_lost = False
        return None

    def started(self):
        """An infusion started: each infusion needs its own premedication."""
        self.premed_ms = None

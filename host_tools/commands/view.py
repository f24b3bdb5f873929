"""How a pump is shown to people: one formatter for pumpctl's result lines, `pumpctl monitor` and
`make sim` (infusion time, mL/h, event words), and say() for result lines."""

import sys

from pumpfw.schedule import DEFAULT_REGIMEN

BAR_WIDTH = 20
ACTIVE = ("running", "paused", "interrupted")


def say(text, stream=None):
    """One result line on stdout (or `stream`), flushed: scripts read it as it happens."""
    stream = stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()


def hms(ms):
    s = max(0, int(ms)) // 1000
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def ml(ul):
    return "%.3f mL" % (ul / 1000)


def ml_h(ul_h):
    return "%.1f mL/h" % (ul_h / 1000)


def full_volume_ul(fields):
    """The infusion's whole volume: delivered + remaining as the pump counts them, else the
    regimen's volume (before any infusion)."""
    full = fields.get("vol_ul", 0) + fields.get("remain_ul", 0)
    return full if full > 0 else DEFAULT_REGIMEN.volume_ul


def progress_bar(vol_ul, full_ul, width=BAR_WIDTH):
    done = min(width, max(0, vol_ul * width // full_ul)) if full_ul > 0 else 0
    return "[" + "#" * done + "." * (width - done) + "]"


def status_text(fields):
    """A status or record on one line, in the units a bench engineer reads."""
    return "%s, infusion %s, %s, delivered %s, remaining %s, infusion time %s" % (
        fields.get("st", "?"), fields.get("inf", "?"), ml_h(fields.get("rate_ul_h", 0)),
        ml(fields.get("vol_ul", 0)), ml(fields.get("remain_ul", 0)),
        hms(fields.get("elapsed_ms", 0)))


def live_line(fields, eta_text=""):
    """The live view's line: state, rate, volume and progress, infusion time, the ETA."""
    vol = fields.get("vol_ul", 0)
    full = full_volume_ul(fields)
    line = "%-12s inf %s  %s  %.3f/%g mL %s %5.1f%%  time %s" % (
        fields.get("st", "?"), fields.get("inf", "?"), ml_h(fields.get("rate_ul_h", 0)),
        vol / 1000, full / 1000, progress_bar(vol, full), 100 * vol / full,
        hms(fields.get("elapsed_ms", 0)))
    return line + ("  " + eta_text if eta_text else "")


WIDE = 100  # columns from which the live view is one line; below it, two


def live_lines(fields, eta_text="", width=None):
    """The live view for a terminal `width` columns wide (None: no limit, one line): below
    WIDE columns two lines, the first with what a bench watches (state, rate, volume, infusion
    time, ETA), the second the rest (infusion number, progress bar, percent), each cut to fit."""
    if width is None or width >= WIDE:
        line = live_line(fields, eta_text)
        return [line if width is None else line[: width - 1]]
    vol = fields.get("vol_ul", 0)
    full = full_volume_ul(fields)
    first = "%s  %s  %.3f mL  time %s%s" % (
        fields.get("st", "?"), ml_h(fields.get("rate_ul_h", 0)), vol / 1000,
        hms(fields.get("elapsed_ms", 0)),
        ("  " + eta_text.replace("program ETA", "ETA")) if eta_text else "")
    room = max(0, width - 30)
    bar = progress_bar(vol, full, min(BAR_WIDTH, room)) if room >= 5 else ""
    second = "inf %s  of %g mL %s %5.1f%%" % (fields.get("inf", "?"), full / 1000, bar,
                                              100 * vol / full)
    return [first[: width - 1], second[: width - 1]]


_ALARMS = {  # alarm name -> words, and how its detail reads (s: seconds, ul: volume left)
    "paused_long": ("paused for a long time", "s"),
    "ir_waiting": ("interrupted, waiting for `resolved`", "s"),
    "near_end": ("near the end", "ul"),
    "complete": ("complete", ""),
    "fault": ("fault", ""),
    "low_volume": ("low volume", "ul"),
}
_OVERRIDES = ((1, "not the expected infusion number"), (2, "outside the premedication window"),
              (4, "after a lost journal"))


def event_words(name, f, clock=hms):
    """One event's meaning in words; clock(t_ms) shows a device time (e.g. as infusion time)."""
    if name == "start":
        return "infusion %s started" % f.get("inf")
    if name == "rate":
        since = f.get("since_ms", f.get("t_ms"))
        when = "" if since == f.get("t_ms") else " (from %s)" % clock(since)
        return "rate %s%s" % (ml_h(f.get("rate_ul_h", 0)), when)
    if name == "resume":
        return "resumed at %s" % ml_h(f.get("rate_ul_h", 0))
    if name == "ir":
        return "infusion reaction, grade %s" % f.get("grade")
    if name == "ir_resolved":
        return "the grade-%s reaction resolved" % f.get("grade")
    if name == "interrupt":
        return "interrupted (grade-2 reaction): waiting for `resolved`"
    if name == "discontinue":
        return "discontinued (grade %s reaction): latched until cleared" % f.get("grade")
    if name in ("complete", "stop"):
        return "%s: %s delivered" % ("complete" if name == "complete" else "stopped",
                                     ml(f.get("vol_ul", 0)))
    if name == "limit":
        return "programmed %s clamped to the board's maximum %s" % (
            ml_h(f.get("rate_ul_h", 0)), ml_h(f.get("max_ul_h", 0)))
    if name == "alarm":
        words, unit = _ALARMS.get(f.get("what"), (str(f.get("what")), ""))
        detail = f.get("detail", 0)
        extra = {"s": " (%s s)" % detail, "ul": " (%s left)" % ml(detail)}.get(unit, "")
        return "alarm: %s%s" % (words, extra)
    if name == "fault":
        return "fault: %s (detail %s)" % (f.get("what"), f.get("detail"))
    if name == "reboot":
        back = ", the infusion recovered paused" if f.get("recovered") else ""
        return "the board restarted (%s)%s" % (f.get("cause"), back)
    if name == "recovery":
        return "recovery counts %s as delivered, up to %s of it unsure" % (
            ml(f.get("vol_ul", 0)), ml(f.get("uncertain_ul", 0)))
    if name == "override":
        what = [text for bit, text in _OVERRIDES if f.get("bits", 0) & bit]
        return "infusion %s started despite: %s" % (f.get("inf"), ", ".join(what) or "-")
    if name == "premed":
        return "premedication given %s min ago" % f.get("min_ago")
    simple = {"pause": "paused", "latch_cleared": "latch cleared"}
    if name in simple:
        return simple[name]
    if name == "button":
        return "button: %s" % str(f.get("press")).replace("_", " ")
    rest = " ".join("%s=%s" % kv for kv in f.items() if kv[0] != "t_ms")
    return ("%s %s" % (name, rest)).strip()


class Timeline:
    """Shows device times as infusion time (time since the infusion's start), learnt from the
    `start` event or from any record of an active infusion (t_ms - elapsed_ms)."""

    def __init__(self):
        self.start_t_ms = None

    def record(self, fields):
        if fields.get("st") in ACTIVE and "t_ms" in fields and "elapsed_ms" in fields:
            self.start_t_ms = fields["t_ms"] - fields["elapsed_ms"]

    def event(self, name, fields):
        if name in ("start",) and "t_ms" in fields:
            self.start_t_ms = fields["t_ms"]
        elif name == "reboot":
            self.start_t_ms = None  # device time starts again; the next record tells

    def clock(self, t_ms):
        if self.start_t_ms is None or t_ms is None:
            return "-:--:--"
        return hms(t_ms - self.start_t_ms)

    def event_line(self, msg):
        """"0:48:00  infusion reaction, grade 2": infusion time, then the event in words."""
        self.event(msg.name, msg.fields)
        return "%7s  %s" % (self.clock(msg.fields.get("t_ms")),
                            event_words(msg.name, msg.fields, self.clock))

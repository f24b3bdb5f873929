"""A log as streams (one per subject) of events and record runs, with device-clock epochs."""

# Used by host_tools/logs/infusions.py. An epoch is one run of the device clock: it ends at a
# `reboot` event or where device time goes backwards. Records are collapsed into runs of equal
# key (file, epoch, infusion number, active or not, and the controller's start time
# t_ms - elapsed_ms), so a walk over a stream visits events and runs, not every record.
import numpy as np
import pandas as pd

ACTIVE = ("running", "paused", "interrupted")


class Run:
    """Consecutive records of one infusion in one device epoch."""

    __slots__ = ("file", "source", "key", "inf", "active", "start_est", "first", "last",
                 "first_line", "last_line", "last_t", "last_record")


class Item:
    __slots__ = ("kind", "file", "line", "data")

    def __init__(self, kind, file, line, data):
        self.kind, self.file, self.line, self.data = kind, file, line, data


class Stream:
    """The captures of one subject (or of no subject), in capture-time order."""

    def __init__(self, subject, files, sources, offsets, gaps):
        self.subject = subject
        self.files = files
        self.sources = sources
        self.offsets = offsets
        self.gaps = gaps
        self.items = []

    def source_of(self, item):
        return self.sources[item["file"] if isinstance(item, dict) else item.file]

    def offset_ns(self, key):
        """host ns - device ms * 1e6 / rate for an epoch (the smallest seen: the least delayed
        line), or None without host times."""
        got = self.offsets.get(key)
        return None if got is None else got[0]

    def clock_rate(self, key):
        """Device ms per host ms in this epoch's file (1.0 for a board in real time)."""
        got = self.offsets.get(key)
        return 1.0 if got is None else got[1]

    def gap_before(self, run, since_line):
        lines = self.gaps.get(run.file)
        if lines is None:
            return False
        return bool(((lines > since_line) & (lines <= run.first_line)).any())


class Context:
    """What came before an infusion in its file: premedication, override, and events seen
    while no infusion was known (orphans, kept for one rebuilt from its records)."""

    def __init__(self, since_line=0):
        self.events = []
        self.since_line = since_line  # where the previous infusion ended (0: file start)

    def orphan(self, e):
        self.events.append(e)

    def before_start(self, start):
        premed, bits = None, 0
        for e in self.events:
            if e["event"] == "premed" and e.get("min_ago") is not None:
                premed = (e["t_ms"], int(e["min_ago"]))
            elif e["event"] == "override" and (start is None or e.get("inf") == start["inf"]):
                bits = int(e.get("bits") or 0)
        return premed, bits

    def since(self, run):
        return [e for e in self.events if (e["file"], e["epoch"]) == run.key
                and e["t_ms"] >= run.start_est
                and e["event"] not in ("premed", "override", "reboot", "start")]


def streams(log):
    """-> [Stream], each with its items in order (a "file" item where each capture begins)."""
    ev, rec = log.events, log.records
    file_of = {s: i for i, s in enumerate(log.sources)}
    ev_file = ev["source"].map(file_of).to_numpy(np.int64)
    rec_file = rec["source"].map(file_of).to_numpy(np.int64)
    ev_epoch, rec_epoch = _epochs(ev, ev_file, rec, rec_file)
    offsets = _offsets(ev, ev_file, ev_epoch, rec, rec_file, rec_epoch)
    gaps = _gaps(log, file_of)
    events = _event_dicts(ev, ev_file, ev_epoch)
    runs = _runs(rec, rec_file, rec_epoch, log.sources)
    subjects = log.subjects
    first_ns = log.lines.groupby("source")["host_time"].min()
    out = []
    for subject in dict.fromkeys(subjects.get(s) for s in log.sources):
        files = [file_of[s] for s in log.sources if subjects.get(s) == subject]
        files.sort(key=lambda f: _time_order(first_ns.get(log.sources[f]), f))
        stream = Stream(subject, files, log.sources, offsets, gaps)
        rank = {f: k for k, f in enumerate(files)}
        items = [Item("file", f, 0, None) for f in files]
        items += [Item("event", e["file"], e["line_no"], e) for e in events if e["file"] in rank]
        items += [Item("run", r.file, r.first_line, r) for r in runs if r.file in rank]
        items.sort(key=lambda it: (rank[it.file], it.line, it.kind != "file"))
        stream.items = items
        out.append(stream)
    return out


def _time_order(first, file):
    """Files by their first host time (files without one after, in name order)."""
    if first is None or pd.isna(first):
        return (1, 0, file)
    return (0, first.value, file)


def _epochs(ev, ev_file, rec, rec_file):
    n_ev = len(ev)
    file = np.concatenate([ev_file, rec_file])
    line = np.concatenate([ev["line_no"].to_numpy(np.int64), rec["line_no"].to_numpy(np.int64)])
    t = np.concatenate([ev["t_ms"].fillna(-1).to_numpy(np.int64),
                        rec["t_ms"].fillna(-1).to_numpy(np.int64)])
    reboot = np.concatenate([(ev["event"] == "reboot").to_numpy(bool), np.zeros(len(rec), bool)])
    order = np.lexsort((line, file))
    f, tt, rb = file[order], t[order], reboot[order]
    new_file = np.ones(len(f), bool)
    new_file[1:] = f[1:] != f[:-1]
    back = np.zeros(len(f), bool)
    back[1:] = tt[1:] < tt[:-1]
    epoch_sorted = np.cumsum(new_file | rb | back)
    epoch = np.empty_like(epoch_sorted)
    epoch[order] = epoch_sorted
    return epoch[:n_ev], epoch[n_ev:]


def _offsets(ev, ev_file, ev_epoch, rec, rec_file, rec_epoch):
    """(file, epoch) -> (host ns - device ms * 1e6 / rate, rate): the least delayed line's
    offset, and the device clock's rate against the host's, per file (a virtual board at
    SCALE=10 runs 10x; a real board 1x: rates within 2 % of 1 are taken as 1)."""
    frames = []
    for frame, file, epoch in ((ev, ev_file, ev_epoch), (rec, rec_file, rec_epoch)):
        host = frame["host_time"]
        ok = host.notna().to_numpy() & frame["t_ms"].notna().to_numpy()
        frames.append(pd.DataFrame({"file": file[ok], "epoch": epoch[ok],
                                    "host": host[ok].astype("int64").to_numpy(),
                                    "t_ms": frame["t_ms"][ok].to_numpy(np.int64)}))
    both = pd.concat(frames)
    if not len(both):
        return {}
    rates = _rates(both)
    rate = both["file"].map(rates).to_numpy(float)
    both["off"] = both["host"].to_numpy(np.int64) - np.round(
        both["t_ms"].to_numpy(np.int64) * 1e6 / rate).astype(np.int64)
    offs = both.groupby(["file", "epoch"])["off"].min()
    return {(int(f), int(e)): (int(v), rates[int(f)]) for (f, e), v in offs.items()}


def _rates(both):
    """file -> the device clock's rate against the host clock: the median over its epochs that
    span at least 10 s of both clocks; 1.0 where none does or the rate is within 2 % of 1."""
    out = {}
    for file, part in both.groupby("file"):
        slopes = []
        for _, ep in part.groupby("epoch"):
            t, host = ep["t_ms"].to_numpy(np.int64), ep["host"].to_numpy(np.int64)
            dt = int(t.max() - t.min())
            dh = (host[t.argmax()] - host[t.argmin()]) / 1e6
            if dt >= 10_000 and dh >= 10_000:
                slopes.append(dt / dh)
        rate = float(np.median(slopes)) if slopes else 1.0
        out[int(file)] = 1.0 if abs(rate - 1) < 0.02 else rate
    return out


def _gaps(log, file_of):
    lines = log.lines[log.lines["missing_before"] > 0]
    out = {}
    for source, part in lines.groupby("source"):
        out[file_of[source]] = part["line_no"].to_numpy(np.int64)
    return out


def _event_dicts(ev, ev_file, ev_epoch):
    out = []
    for row, e in enumerate(ev.to_dict("records")):
        clean = {k: v for k, v in e.items() if not (v is None or v is pd.NA or (
            isinstance(v, float) and v != v) or v is pd.NaT)}
        clean.update(file=int(ev_file[row]), epoch=int(ev_epoch[row]), row=row,
                     host_time=e["host_time"])
        out.append(clean)
    return out


def _runs(rec, rec_file, rec_epoch, sources):
    if not len(rec):
        return []
    st = rec["st"].fillna("").to_numpy(object)
    active = np.isin(st, ACTIVE)
    t = rec["t_ms"].fillna(-1).to_numpy(np.int64)
    elapsed = rec["elapsed_ms"].fillna(-1).to_numpy(np.int64)
    inf = rec["inf"].fillna(-1).to_numpy(np.int64)
    k2 = np.where(active, t - elapsed, elapsed)
    st_code = pd.factorize(st)[0]
    keys = (rec_file, rec_epoch, inf, active, k2, st_code)
    change = np.zeros(len(rec), bool)
    change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    firsts = np.flatnonzero(change)
    lasts = np.append(firsts[1:] - 1, len(rec) - 1)
    lines = rec["line_no"].to_numpy(np.int64)
    out = []
    for a, b in zip(firsts.tolist(), lasts.tolist()):
        run = Run()
        run.file = int(rec_file[a])
        run.source = sources[run.file]
        run.key = (run.file, int(rec_epoch[a]))
        run.inf, run.active = int(inf[a]), bool(active[a])
        run.start_est = int(t[a] - elapsed[a])
        run.first, run.last = a, b
        run.first_line, run.last_line = int(lines[a]), int(lines[b])
        run.last_t = int(t[b])
        last = rec.iloc[b].to_dict()
        run.last_record = {k: (None if v is pd.NA or v is None else v) for k, v in last.items()}
        out.append(run)
    return out

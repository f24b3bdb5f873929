"""Running virtual boards, found by `pumpctl ports`: one endpoints file per `make sim SERVE=1`.

`make sim SERVE=1` (host_tools/sim/run.py --serve) writes its endpoints (the JSON line it
prints, plus its own pid) to `<runtime dir>/sim-<pid>.json` when it starts and removes the file
when it ends. The runtime dir is $ISAPUMP_RUNTIME_DIR, else $XDG_RUNTIME_DIR/isapump, else
<tmp>/isapump-<uid>.
A file left by a process that was killed (SIGKILL, power loss) is noticed by its dead pid and
removed the next time the list is read. SimBoard objects made by tests do not register.
"""

import json
import os
import tempfile
import time
from pathlib import Path

ENV_DIR = "ISAPUMP_RUNTIME_DIR"


def runtime_dir():
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "isapump"
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / ("isapump-%s" % uid)


def register(endpoints, pid=None):
    """Write the endpoints file of this process; returns its path (for unregister)."""
    pid = os.getpid() if pid is None else pid
    folder = runtime_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("sim-%d.json" % pid)
    record = dict(endpoints, host_pid=pid, started=time.time())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)  # readers never see half a file
    return path


def unregister(path):
    try:
        Path(path).unlink()
    except OSError:
        pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def running():
    """Endpoints of the virtual boards running now, oldest first (v0 is the first)."""
    folder = runtime_dir()
    if not folder.is_dir():
        return []
    boards = []
    for path in folder.glob("sim-*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or "serial" not in record:
            continue
        if not _alive(int(record.get("host_pid", 0)) or -1):
            unregister(path)  # its server was killed without cleaning up
            continue
        boards.append(record)
    boards.sort(key=lambda r: (r.get("started", 0), r["serial"]))
    return boards

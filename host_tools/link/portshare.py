"""Opening a board's port so it can be shared: the first pumpctl process to open it serves it
(host_tools/link/broker.py); every later one, on this machine, joins through the broker's socket.

A board is known by a key: a device's real path (so /dev/serial/by-id/... and /dev/ttyACM0 are
one board), or its socket:// URL (a virtual board; its pty path leads there too). The broker of
a key listens at <runtime dir>/port-<hash>.sock and describes itself in port-<hash>.json (key,
pid, command). ISAPUMP_SHARE=0 opens ports directly, alone, as before. Docs:
docs/port-sharing.md.
"""

import atexit
import hashlib
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from host_tools.link import broker as broker_mod
from host_tools.link import registry
from host_tools.link.sockport import PortClosed, SocketPort, open_url

ENV_SHARE = "ISAPUMP_SHARE"
_served = {}  # key -> [Broker, users in this process]: the ports this process serves
_served_lock = threading.Lock()


def enabled():
    supported = hasattr(socket, "AF_UNIX") and os.name == "posix"
    return supported and os.environ.get(ENV_SHARE, "1") not in ("0", "no", "off")


def key_of(url):
    """The board a port name means, or None for ports that are not shared (loop://, rfc2217)."""
    if url.startswith("socket://"):
        return url.split("?", 1)[0].lower()
    if "://" in url:
        return None
    real = os.path.realpath(url)
    for board in registry.running():  # a virtual board's pty is that board
        if board.get("pty") and os.path.realpath(board["pty"]) == real:
            return board["serial"]
    return real


def _paths(key):
    """(socket, description) of a key's broker. A socket path has ~100 bytes at most: under a
    long runtime dir the socket goes to the temp dir instead (private to this user)."""
    stem = "port-" + hashlib.sha1(key.encode()).hexdigest()[:16]
    folder = registry.runtime_dir()
    sock = folder / (stem + ".sock")
    if len(os.fsencode(sock)) > 100:
        short = Path(tempfile.gettempdir()) / ("isapump-%d" % os.getuid())
        short.mkdir(mode=0o700, exist_ok=True)
        sock = short / (stem + ".sock")
    return sock, folder / (stem + ".json")


def holder(url):
    """Who serves this port now: {"key", "pid", "command", ...} or None."""
    key = key_of(url)
    if key is None:
        return None
    sock_path, info_path = _paths(key)
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        return None
    return info if sock_path.exists() and _alive(info.get("pid", 0)) else None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return pid > 0


class SharedPort(SocketPort):
    """A client's end of a broker: the device's bytes in, whole lines out. `seq_block` is
    (first, size) of the command numbers this client may use."""

    def __init__(self, sock, name, timeout, write_timeout, served=None):
        SocketPort.__init__(self, sock, name, timeout, write_timeout)
        self.served = served  # (key, Broker) when this process serves the port
        self.seq_block = None
        self.server_pid = None
        self._read_handshake()
        who = "this process" if served else "pumpctl pid %s" % self.server_pid
        self.closed_why = "%s stopped serving %s" % (who, name)

    def _read_handshake(self):
        saved, self.timeout = self.timeout, 5.0
        try:
            line = self.readline()
        finally:
            self.timeout = saved
        words = line.split()
        if not line.startswith(broker_mod.HANDSHAKE) or not line.endswith(b"\n"):
            raise PortClosed("%s: no handshake from the pumpctl serving it" % self.name)
        fields = dict(w.split(b"=", 1) for w in words[2:] if b"=" in w)
        self.seq_block = (int(fields[b"seq"]), int(fields[b"size"]))
        self.server_pid = int(fields[b"pid"])

    def close(self):
        SocketPort.close(self)
        served, self.served = self.served, None
        if served is not None:
            _release(*served)


def open_port(url, baudrate=115200, timeout=None, write_timeout=None, share=None):
    """The port, shared when it can be: through the broker serving it, or by becoming that
    broker. Raises what opening the device raises (serial.SerialException, OSError)."""
    key = key_of(url) if (enabled() if share is None else share) else None
    if key is None:
        return open_url(url, baudrate, timeout, write_timeout, exclusive=_exclusive(url))
    sock_path, info_path = _paths(key)
    with _served_lock:
        entry = _served.get(key)
        if entry is not None and not entry[0].closing.is_set():
            entry[1] += 1
            local = (key, entry[0])
        else:
            local = None
            _served.pop(key, None)  # its device went away: serve it anew below
    if local is not None:
        return _join(sock_path, url, timeout, write_timeout, served=local)
    joined = _try_join(sock_path, url, timeout, write_timeout)
    if joined is not None:
        return joined
    sock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    info_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    sweep(info_path.parent)  # what dead servers left (their locks, descriptions, sockets)
    with _ElectionLock(info_path.with_suffix(".lock")):
        joined = _try_join(sock_path, url, timeout, write_timeout)  # lost the race: join
        if joined is not None:
            return joined
        try:
            sock_path.unlink()  # a dead server's socket
        except OSError:
            pass
        # A virtual board's pty leads to its serial socket: serve that, never the pty (whose
        # bridge may hold lines nobody read).
        target = key if key.startswith("socket://") else url
        device = open_url(target, baudrate, 0.05, write_timeout, exclusive=_exclusive(target))
        try:
            served = broker_mod.Broker(device, str(sock_path), key)
        except OSError:
            device.close()
            raise
        info = {"key": key, "url": url, "device": target, "pid": os.getpid(),
                "command": _command(), "started": time.time()}
        tmp = info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(info_path)
        with _served_lock:
            _served[key] = [served, 1]
    return _join(sock_path, url, timeout, write_timeout, served=(key, served))


def _exclusive(url):
    return True if "://" not in url and os.name == "posix" else None


def _command():
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return " ".join([name] + sys.argv[1:2])


def _join(sock_path, url, timeout, write_timeout, served=None):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(sock_path))
        return SharedPort(sock, url, timeout, write_timeout, served)
    except OSError:
        sock.close()
        if served is not None:
            _release(*served)
        raise


def _try_join(sock_path, url, timeout, write_timeout):
    if not sock_path.exists():
        return None
    try:
        return _join(sock_path, url, timeout, write_timeout)
    except OSError:
        return None  # refused: its server died without cleaning up


def _release(key, served):
    """One user of a port this process serves is done; the last one stops the service."""
    with _served_lock:
        entry = _served.get(key)
        if entry is not None and entry[0] is served:
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _served[key]
            try:
                _paths(key)[1].unlink()
            except OSError:
                pass
    served.close()


@atexit.register
def _stop_serving():
    """At exit, hand the ports back cleanly (the clients reconnect and one takes over)."""
    for key in list(_served):
        with _served_lock:
            entry = _served.pop(key, None)
        if entry is not None:
            try:
                _paths(key)[1].unlink()
            except OSError:
                pass
            entry[0].close()


def sweep(folder=None):
    """Remove what owners that are gone left in the runtime folder: a port's lock nobody holds,
    its description and socket when the pid in it is dead, a half-written .tmp. Each port is
    looked at under its own election lock, so a server starting now is never swept."""
    folder = Path(folder or registry.runtime_dir())
    removed = []
    if not folder.is_dir():
        return removed
    stems = {p.name.split(".", 1)[0] for p in folder.glob("port-*.*")}
    for stem in sorted(stems):
        lock = _ElectionLock(folder / (stem + ".lock"), wait=False)
        if not lock.acquire():
            continue  # an election is going on: its owner is alive
        try:
            info_path = folder / (stem + ".json")
            try:
                pid = json.loads(info_path.read_text()).get("pid", 0)
            except (OSError, ValueError, AttributeError):
                pid = 0
            if not _alive(pid):
                for path in (info_path, folder / (stem + ".sock"), folder / (stem + ".tmp")):
                    if path.exists():
                        path.unlink()
                        removed.append(path.name)
        finally:
            removed += lock.release()
    return removed


class _ElectionLock:
    """An exclusive lock file, so two processes never both open a free port to serve it. The
    file goes when the lock is released: a waiter that then holds a file no longer at the path
    takes the lock again (on the new file), so no lock file outlives its election."""

    def __init__(self, path, wait=True):
        self.path = Path(path)
        self.wait = wait
        self.fd = None

    def acquire(self):
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)  # its holder removed it: take the lock on the file there now

    def release(self):
        """Unlock and remove the file; returns [its name] once removed."""
        import fcntl

        gone = []
        try:
            os.unlink(self.path)  # still held: nobody can take this file in between
            gone.append(self.path.name)
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None
        return gone

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

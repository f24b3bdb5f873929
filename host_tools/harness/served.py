"""A board served by a Node harness process (the virtual board, the emulated Pico), from Python:
the one core both boards share. The harness prints its endpoints (serial, control, balance) as
one JSON line; HarnessBoard starts it, bridges a pty, talks to its control channel, and serve()
registers it for `pumpctl ports` until Ctrl-C. The JavaScript side of the same contract:
harness/control.mjs (the control channel and the process lifetime), harness/fanout.mjs (the
serial's clients), harness/balance.mjs (the MT-SICS balance)."""

import itertools
import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

from host_tools.harness.ptybridge import PtyBridge
from host_tools.link import registry
from host_tools.link.balance import Balance

REPO_ROOT = Path(__file__).resolve().parents[2]


class HarnessError(Exception):
    """The harness could not start, answered with an error, or broke the connection."""


class HarnessTimeout(HarnessError):
    """No answer in time."""


def host_port(url):
    u = urlparse(url)
    return u.hostname, u.port


class Control:
    """The control side channel: one JSON request per line, a reply carrying the same id."""

    def __init__(self, url, timeout_s):
        self.sock = socket.create_connection(host_port(url), timeout=timeout_s)
        self.file = self.sock.makefile("rb")
        self.events = []  # unsolicited {"event": ...} lines, oldest first
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def call(self, cmd, timeout_s, **args):
        with self._lock:
            req_id = next(self._ids)
            self.sock.settimeout(timeout_s)
            try:
                self.sock.sendall((json.dumps({"cmd": cmd, "id": req_id, **args}) + "\n").encode())
                while True:
                    line = self.file.readline()
                    if not line:
                        raise HarnessError("control channel closed by the harness")
                    msg = json.loads(line)
                    if "event" in msg:
                        self.events.append(msg)
                    elif msg.get("id") == req_id:
                        break
            except TimeoutError as exc:
                raise HarnessTimeout(f"no reply to {cmd!r} within {timeout_s} s") from exc
        if not msg.get("ok"):
            raise HarnessError(f"{cmd}: {msg.get('error')}")
        return msg

    def close(self):
        self.file.close()
        self.sock.close()


class HarnessBoard:
    """A board served by a Node harness on 127.0.0.1 (its serial, control and balance
    endpoints, printed as one JSON line), optionally behind a pty. Subclasses give the command.
    Use as a context manager; every call has a timeout."""

    def __init__(self, cmd, pty=True, timeout_s=10.0, stderr=None):
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr)
        self.endpoints = self._read_endpoints(timeout_s)
        self.serial_url = self.endpoints["serial"]
        self.balance_url = self.endpoints["balance"]
        self.control = Control(self.endpoints["control"], timeout_s)
        self._balance = None
        self.bridge = PtyBridge(*host_port(self.serial_url)) if pty else None
        self.pty = self.bridge.path if self.bridge else None
        self.endpoints["pty"] = self.pty

    @staticmethod
    def clock_args(fast=False, scale=None, hold=False):
        """A harness's clock options: as fast as it goes, held (time moves on `advance`), or
        real time x scale (default 1)."""
        if fast:
            return ["--fast"]
        if hold:
            return ["--hold"]
        return [] if scale is None else ["--scale", str(scale)]

    @staticmethod
    def node():
        node = shutil.which("node")
        if node is None:
            raise HarnessError("node not found on PATH (the board harness runs under Node)")
        return node

    def _read_endpoints(self, timeout_s):
        box = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not box or not box[0]:
            self.proc.kill()
            raise HarnessError(f"the harness printed no endpoints (exit code {self.proc.poll()})")
        return json.loads(box[0])

    # ---- control -------------------------------------------------------------------------
    def call(self, cmd, timeout_s=None, **args):
        return self.control.call(cmd, timeout_s or self.timeout_s, **args)

    def status(self):
        return self.call("status")

    def press(self, button):
        self.call("press", button=button)

    def release(self, button):
        self.call("release", button=button)

    def advance_ms(self, ms, timeout_s=None, after_rx=0):
        """Run `ms` of virtual time as fast as possible, then hold; returns the status.
        after_rx: first wait until the host's serial bytes, this many in all, have arrived."""
        return self.call("advance", timeout_s, ms=ms, after_rx=after_rx)

    def run_until(self, vtime_ms, timeout_s=None):
        return self.call("run_until", timeout_s, ms=vtime_ms)

    def set_fast(self):
        self.call("fast")

    def set_scale(self, k):
        self.call("scale", k=k)

    def hold(self):
        return self.call("hold")

    def power_cut(self):
        return self.call("power_cut")

    def power_restore(self):
        return self.call("power_restore")

    def hang(self):
        """Fault injection: the firmware's loop stops (time runs on; the watchdog decides)."""
        self.call("hang")

    def host_reading(self, on):
        self.call("host_reading", on=on)

    def set_balance(self, noise_g=None, evap_g_per_h=None):
        args = {}
        if noise_g is not None:
            args["noise_g"] = noise_g
        if evap_g_per_h is not None:
            args["evap_g_per_h"] = evap_g_per_h
        return self.call("balance", **args)

    @property
    def events(self):
        return self.control.events

    # ---- the balance -----------------------------------------------------------------------
    @property
    def balance(self):
        """The virtual balance through the one MT-SICS client (host_tools.link.balance)."""
        if self._balance is None:
            self._balance = Balance(self.balance_url, timeout_s=self.timeout_s)
        return self._balance

    def balance_command(self, line):
        """One MT-SICS command -> its response line (without CR LF)."""
        return self.balance.command(line)

    def balance_grams(self):
        """The stable weight (MT-SICS `S`), as a real balance gives it."""
        return self.balance.grams()

    # ---- lifetime --------------------------------------------------------------------------
    def close(self):
        if self.bridge:
            self.bridge.close()
        if self._balance:
            self._balance.close()
        try:
            self.control.call("quit", 2.0)
        except (HarnessError, OSError):
            pass
        self.control.close()
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def serve(board, kind):
    """Print the endpoints, register them for `pumpctl ports`, --port auto and vN, serve until
    Ctrl-C or the harness ends: `make sim SERVE=1` (the virtual board) and the emulated Pico's
    --serve. kind: what `pumpctl ports` calls it."""
    with board:
        print(json.dumps(board.endpoints), flush=True)
        target = board.pty or board.serial_url
        print("serial: python -m serial.tools.miniterm --echo %s 115200 (type help)" % target,
              file=sys.stderr)
        print("control: %s  balance: %s" % (board.endpoints["control"], board.balance_url),
              file=sys.stderr)
        print("pumpctl finds it: pumpctl ports, pumpctl status (--port auto)", file=sys.stderr)
        registered = registry.register(dict(board.endpoints, kind=kind))
        try:
            board.proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            registry.unregister(registered)
    return 0

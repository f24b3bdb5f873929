"""A HIL farm beyond one machine, on labgrid: boards exported as labgrid resources, places handed
out by its coordinator, one per HIL worker (docs/hil.md, "A farm on labgrid").

    python -m host_tools.farm export pump-a --port /dev/ttyACM0 -o pump-a.yaml   # a real board
    python -m host_tools.farm export pump-a --serve pico -c HOST:20408            # a served one
    python -m host_tools.farm place pump-a --exporter NAME -c HOST:20408          # create a place
    python -m host_tools.farm env -o farm-env.yaml          # the HIL suite's labgrid environment

A real board's serial (and balance) is a RawSerialPort: labgrid's exporter serves it with ser2net
as RFC 2217. A served board (the virtual board, the emulated Pico) already listens on TCP: it is
published as a NetworkSerialPort as it is, and this tool keeps it running beside the exporter.
labgrid is a dev extra (pyproject): it is imported only where it is needed.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

TAG = "rig=isapump"  # every place this tool creates carries it; workers reserve by it
BAUD = {"serial": 115200, "balance": 9600}
ENV_YAML = """\
# The HIL suite's labgrid environment (python -m host_tools.farm env): target main is the place
# this worker acquired; hil_tests/conftest.py sets LG_PLACE before labgrid reads this file.
targets:
  main:
    resources:
      RemotePlace:
        name: !template $LG_PLACE
"""


class FarmError(Exception):
    """A labgrid step failed; the message is one line saying which and why."""


def exporter_config(group, serial, balance=None):
    """labgrid-exporter YAML for one board: resources `serial` (and `balance`) in `group`. Each is
    a device path (a real board: RawSerialPort) or socket://host:port (a served board)."""
    # "##": the exporter reads its config as a Jinja2 template, where "#" starts a statement.
    lines = ["## labgrid-exporter resources, written by python -m host_tools.farm", group + ":"]
    for name, where in (("serial", serial), ("balance", balance)):
        if where is None:
            continue
        lines.append("  %s:" % name)
        if where.startswith("socket://"):
            host, port = where[len("socket://"):].rsplit(":", 1)
            lines += ["    cls: NetworkSerialPort", "    host: '%s'" % host,
                      "    port: %d" % int(port), "    protocol: raw"]
        elif where.startswith("/"):
            lines += ["    cls: RawSerialPort", "    port: '%s'" % where]
        else:
            raise FarmError("%s %r: give a device path or socket://host:port" % (name, where))
        lines.append("    speed: %d" % BAUD[name])
    return "\n".join(lines) + "\n"


def _tool(name):
    """A labgrid command beside this Python (the venv), else on PATH."""
    here = Path(sys.executable).with_name(name)
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        raise FarmError("%s is not installed: pip install -e '.[dev]' (labgrid)" % name)
    return found


def client(coordinator, *args, token=None, timeout_s=120):
    """One labgrid-client command against `coordinator`; its stdout, or FarmError."""
    env = dict(os.environ, LG_COORDINATOR=coordinator)
    if token:
        env["LG_TOKEN"] = token
    try:
        proc = subprocess.run([_tool("labgrid-client"), "-x", coordinator, *args], env=env,
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise FarmError("labgrid-client %s: no answer from %s within %d s" % (
            " ".join(args), coordinator, timeout_s)) from None
    if proc.returncode != 0:
        why = (proc.stderr.strip() or proc.stdout.strip() or "exit %d" % proc.returncode)
        raise FarmError("labgrid-client %s: %s" % (" ".join(args), why.splitlines()[-1]))
    return proc.stdout


def add_place(coordinator, place, exporter, group=None, tags=TAG):
    """A place on the coordinator that takes every resource `exporter` publishes in `group`."""
    client(coordinator, "-p", place, "create")
    client(coordinator, "-p", place, "add-match", "%s/%s/*" % (exporter, group or place))
    client(coordinator, "-p", place, "set-tags", *tags.split())


def acquire(coordinator, choice, worker=0):
    """Acquire this worker's place: `choice` is a comma-separated list of places (worker N takes
    the N-th) or tag=value (the coordinator allocates a free place with that tag, waiting for
    one). Returns its name."""
    if "=" not in choice:
        names = [p.strip() for p in choice.split(",") if p.strip()]
        if worker >= len(names):
            raise FarmError("worker %d has no place: %d given (%s)" % (worker, len(names), choice))
        client(coordinator, "-p", names[worker], "acquire")
        return names[worker]
    out = client(coordinator, "reserve", "--wait", "--shell", *choice.split(), timeout_s=600)
    token = re.search(r"LG_TOKEN=(\S+)", out)
    if token is None:
        raise FarmError("labgrid-client reserve gave no token: %r" % out[-200:])
    client(coordinator, "-p", "+", "acquire", token=token.group(1))
    shown = client(coordinator, "-p", "+", "show", token=token.group(1))
    name = re.search(r"Place '([^']+)'", shown)
    if name is None:
        raise FarmError("the reserved place has no name: %r" % shown[:200])
    return name.group(1)


def release(coordinator, place):
    client(coordinator, "-p", place, "release")


def place_urls(target):
    """pyserial URLs of a labgrid target's `serial` and (or None) `balance` resources, through
    labgrid's proxy manager (an SSH forward where the exporter asks for one)."""
    from labgrid.resource import NetworkSerialPort
    from labgrid.util.proxy import proxymanager

    urls = {}
    for name in ("serial", "balance"):
        try:
            res = target.get_resource(NetworkSerialPort, name=name)
        except Exception:  # noqa: BLE001 - labgrid's NoResourceFoundError: no such resource
            urls[name] = None
            continue
        host, port = proxymanager.get_host_and_port(res)
        if res.protocol == "rfc2217":  # ser2net: it leaves SET_CONTROL unanswered (as labgrid)
            urls[name] = "rfc2217://%s:%d?ign_set_control&timeout=30" % (host, port)
        else:
            urls[name] = "socket://%s:%d" % (host, port)
    return urls


def _served(kind):
    """A served board at real-time scale (its endpoints listen on loopback)."""
    if kind == "pico":
        from host_tools.pico.picoboard import PicoBoard, flashed_once

        folder = Path(os.environ.get("TMPDIR", "/tmp")) / ("isapump-farm-%d" % os.getuid())
        folder.mkdir(exist_ok=True)
        flashed = flashed_once(folder)
        if flashed["rc"] != 0:
            raise FarmError("pumpctl flash failed on the emulated Pico: " + flashed["output"])
        return PicoBoard(image=flashed["flash"], scale=1, pty=False)
    from host_tools.sim.simboard import SimBoard

    return SimBoard(scale=1, pty=False)


def export(args):
    board = _served(args.serve) if args.serve else None
    try:
        serial = board.serial_url if board else args.port
        balance = board.balance_url if board else args.balance
        text = exporter_config(args.name, serial, balance)
        out = Path(args.output or "%s-exporter.yaml" % args.name)
        out.write_text(text)
        print("wrote %s" % out, flush=True)
        if not args.coordinator:
            return 0
        exporter = args.exporter or "%s-%s" % (socket.gethostname(), args.name)
        cmd = [_tool("labgrid-exporter"), "-c", args.coordinator, "-n", exporter,
               "--hostname", args.hostname, *(["--isolated"] if args.isolated else []),
               str(out)]
        print("exporting %s as %s/%s on %s" % (serial, exporter, args.name, args.coordinator),
              flush=True)
        try:
            return subprocess.call(cmd)
        except KeyboardInterrupt:
            return 0
    finally:
        if board is not None:
            board.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m host_tools.farm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    exp = sub.add_parser("export", help="write an exporter config; with -c, run the exporter")
    exp.add_argument("name", help="the resource group (and place) name, e.g. pump-a")
    where = exp.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="a real board's serial device, e.g. /dev/ttyACM0")
    where.add_argument("--serve", choices=("sim", "pico"), help="serve a board here and export it")
    exp.add_argument("--balance", help="its MT-SICS balance's serial device (a real board)")
    exp.add_argument("-o", "--output", help="the config file (default NAME-exporter.yaml)")
    exp.add_argument("-c", "--coordinator", help="HOST:PORT: run labgrid-exporter until Ctrl-C")
    exp.add_argument("--exporter", help="the exporter's name (default HOSTNAME-NAME)")
    exp.add_argument("--hostname", default=socket.gethostname(),
                     help="the host name clients reach ser2net's ports by (default this host's)")
    exp.add_argument("--isolated", action="store_true",
                     help="clients reach the resources through SSH to this host only (a served"
                     " board listens on loopback: needed for clients on other hosts)")
    place = sub.add_parser("place", help="create a place that takes an exporter's board")
    place.add_argument("name")
    place.add_argument("--exporter", required=True)
    place.add_argument("-c", "--coordinator", required=True)
    place.add_argument("--tags", default=TAG, help="space-separated k=v (default %s)" % TAG)
    env = sub.add_parser("env", help="write the HIL suite's labgrid environment file")
    env.add_argument("-o", "--output", default="farm-env.yaml")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "export":
            if args.balance and args.serve:
                parser.error("--balance is for a real board (a served one brings its own)")
            return export(args)
        if args.cmd == "place":
            add_place(args.coordinator, args.name, args.exporter, tags=args.tags)
            print("place %s: %s/%s/*, tags %s" % (args.name, args.exporter, args.name, args.tags))
            return 0
        Path(args.output).write_text(ENV_YAML)
        print("wrote %s" % args.output)
        return 0
    except FarmError as exc:
        print("farm: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

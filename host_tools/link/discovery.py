"""--port for every command: USB serial ports and running virtual boards, each asked who it is;
the shortcuts a0/u0/c0/v0 and `auto` (`pumpctl ports` lists them: commands/ports.py)."""

import re
from concurrent.futures import ThreadPoolExecutor

from serial.tools import list_ports

from host_tools.link import client as client_mod
from host_tools.link import errors, portshare, registry
from host_tools.link.errors import UserError
from pumpfw import protocol as P

PROBE_TIMEOUT_S = 0.7  # an idle pump answers `id` within a few ms; a silent port costs this


def usb_ports(usb_only=False):
    """(device, description) of the serial ports pyserial finds, sorted by device path;
    usb_only: only USB ones (a vendor id), the only ones `auto` writes to."""
    found = []
    for info in list_ports.comports():
        if usb_only and info.vid is None:
            continue
        desc = info.description if info.description not in (None, "n/a") else ""
        if info.vid is not None:
            desc = "%s (%04x:%04x)" % (desc, info.vid, info.pid or 0)
        found.append((info.device, desc.strip()))
    return sorted(found)


def candidates(usb_only=False):
    """Every port worth asking, in `auto` order: serial ports, then virtual boards."""
    out = [{"port": dev, "name": _shortcut(dev), "desc": desc}
           for dev, desc in usb_ports(usb_only)]
    for i, board in enumerate(registry.running()):
        pty = board.get("pty")
        desc = board.get("kind", "virtual board") + (" (pty %s)" % pty if pty else "")
        out.append({"port": board["serial"], "name": "v%d" % i, "desc": desc,
                    "balance": board.get("balance")})
    return out


def _shortcut(device):
    for letter, prefix in (("a", "/dev/ttyACM"), ("u", "/dev/ttyUSB"), ("c", "COM")):
        if device.startswith(prefix) and device[len(prefix):].isdigit():
            return letter + device[len(prefix):]
    return ""


def probe(url, timeout_s=PROBE_TIMEOUT_S, keep=False):
    """Ask one port `id`: {"ok": True, "hello": {...}} or {"ok": False, "why": text}. With keep,
    a port that answers as this firmware stays open: its client is under "client"."""
    c = client_mod.Client(url, timeout_s=timeout_s)
    try:
        c.connect()
        fields = c.command("id", timeout_s=timeout_s, retries=0).fields
    except errors.TransportError as exc:
        c.close()
        return {"ok": False, "why": "cannot open: %s" % exc}
    except errors.DeviceTimeout:
        c.close()
        noisy = bool(c.check.noise or c.check.corrupted)
        return {"ok": False, "other": noisy, "why": "not this firmware (%s)" % (
            "answers in another language, e.g. a MicroPython REPL" if noisy else "no answer")}
    except errors.PumpError as exc:
        c.close()
        return {"ok": False, "why": "not this firmware (%s)" % exc}
    if fields.get("proto") != P.PROTO_VERSION:
        c.close()
        return {"ok": False, "hello": fields,
                "why": "protocol %s (pumpctl speaks %d): pumpctl flash updates it"
                % (fields.get("proto"), P.PROTO_VERSION)}
    c.hello = fields
    if keep:
        return {"ok": True, "hello": fields, "client": c}
    c.close()
    return {"ok": True, "hello": fields}


def survey(timeout_s=PROBE_TIMEOUT_S):
    """candidates() with each one's probe result, asked in parallel, and who serves it (a
    pumpctl process that shares the port with the others: docs/port-sharing.md)."""
    portshare.sweep()
    rows = candidates()
    if rows:
        with ThreadPoolExecutor(max_workers=min(8, len(rows))) as pool:
            results = list(pool.map(lambda r: probe(r["port"], timeout_s), rows))
        for row, result in zip(rows, results):
            row.update(result)
            server = portshare.holder(row["port"])
            if server is not None:
                row["served_by"] = {"pid": server["pid"], "command": server["command"]}
    return rows


def describe(row):
    """"v0 socket://127.0.0.1:5555 (sim 0.1.0)": a candidate as a list shows it."""
    hello = row.get("hello") or {}
    what = "%s %s" % (hello.get("board"), hello.get("fw")) if hello else row.get("why", "")
    name = (row.get("name") + " ") if row.get("name") else ""
    return "%s%s (%s)" % (name, row["port"], what)


def find_auto(timeout_s=PROBE_TIMEOUT_S, fits=None):
    """--port auto: (url, connected and identified client, hello) of the one candidate that
    fits (default: answers as this firmware). Every candidate is asked; with none or several
    that fit, nothing is opened for the command and the error lists them."""
    rows = candidates(usb_only=True)
    fits = fits or (lambda result: result["ok"])
    wait = min(timeout_s, PROBE_TIMEOUT_S)
    results = []
    if rows:
        with ThreadPoolExecutor(max_workers=min(8, len(rows))) as pool:
            results = list(pool.map(lambda r: probe(r["port"], wait, keep=True), rows))
    chosen = [(row, res) for row, res in zip(rows, results) if fits(res)]
    for row, res in zip(rows, results):
        row.update({k: v for k, v in res.items() if k != "client"})
        if res.get("client") is not None and (len(chosen) != 1 or res is not chosen[0][1]):
            res["client"].close()
    if len(chosen) == 1:
        row, res = chosen[0]
        return row["port"], res.get("client"), res.get("hello")
    if chosen:
        raise UserError("--port auto: %d boards fit, choose one with --port (or PUMPCTL_PORT):"
                        " %s" % (len(chosen), "; ".join(describe(r) for r, _ in chosen)))
    tried = "; ".join(describe(r) for r in rows) or "no serial ports, no virtual boards"
    raise UserError("--port auto: no board answers as this firmware (tried: %s). Plug one"
                    " in, start a virtual board (make sim SERVE=1), or name one with --port"
                    % tried)


def serial_id(url):
    """The board's own id where the host can read one: a USB device's serial number, a virtual
    board's process (it has no chip id); "-" for a bare URL."""
    for info in list_ports.comports():
        if info.device == url and info.serial_number:
            return info.serial_number
    for board in registry.running():
        if board["serial"] == url or board.get("pty") == url:
            return "virtual-%s" % board.get("host_pid")
    return "-"


def identity(url, hello):
    """{port, board, fw, serial}: what every command names as the board it acted on."""
    hello = hello or {}
    return {"port": url, "board": hello.get("board"), "fw": hello.get("fw"),
            "serial": serial_id(url)}


def identity_text(ident):
    """"sim 0.1.0, serial virtual-4242, on socket://127.0.0.1:5555"."""
    return "%s %s, serial %s, on %s" % (ident["board"], ident["fw"], ident["serial"],
                                        ident["port"])


def flashable(result):
    """`flash --port auto`: a board running this firmware, or one that answers in another
    language (a MicroPython REPL: every board before its first flash)."""
    return result["ok"] or result.get("other", False)


def resolve(name, timeout_s=PROBE_TIMEOUT_S, fits=None):
    """--port value -> a path or URL. `auto`: the one candidate that fits; vN is the N-th
    virtual board; a0/u0/c0 as client.resolve_port."""
    if name == "auto":
        url, client, _ = find_auto(timeout_s, fits)
        if client is not None:
            client.close()
        return url
    m = re.fullmatch(r"v(\d+)", name)
    if m:
        boards = registry.running()
        if int(m.group(1)) >= len(boards):
            raise UserError("no virtual board %s: %d running (start one with make sim SERVE=1)"
                            % (name, len(boards)))
        return boards[int(m.group(1))]["serial"]
    return client_mod.resolve_port(name)

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
        noisy = c.check.noise or c.check.corrupted
        return {"ok": False, "why": "not this firmware (%s)" % (
            "answers in another language" if noisy else "no answer")}
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


def find_auto(timeout_s=PROBE_TIMEOUT_S):
    """--port auto: (url, connected and identified client, hello) of the first candidate that
    answers as this firmware; the search's own connection is handed on, not opened again."""
    rows = candidates(usb_only=True)
    for row in rows:
        result = probe(row["port"], min(timeout_s, PROBE_TIMEOUT_S), keep=True)
        if result["ok"]:
            return row["port"], result["client"], result["hello"]
    tried = ", ".join(r["port"] for r in rows) or "no serial ports, no virtual boards"
    raise UserError("--port auto: no board answers as this firmware (tried: %s). Plug one"
                    " in, start a virtual board (make sim SERVE=1), or name one with --port"
                    % tried)


def resolve(name, timeout_s=PROBE_TIMEOUT_S):
    """--port value -> a path or URL. `auto` asks the candidates in order; vN is the N-th
    virtual board; a0/u0/c0 as client.resolve_port."""
    if name == "auto":
        url, client, _ = find_auto(timeout_s)
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

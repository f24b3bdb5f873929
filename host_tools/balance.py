"""A laboratory balance over MT-SICS (the `SI` subset): a serial port or pyserial URL -> grams."""

import serial

from host_tools.client import resolve_port
from host_tools.session import UserError


class Balance:
    """One MT-SICS balance: read_grams() sends `SI` (weight now) and parses `S S <w> g`."""

    def __init__(self, url, baudrate=9600, timeout_s=2.0):
        self.url = resolve_port(url)
        try:
            self.ser = serial.serial_for_url(self.url, baudrate=baudrate, timeout=timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise UserError("cannot open the balance at %s: %s (check --balance)"
                            % (self.url, exc)) from None

    def command(self, line):
        try:
            self.ser.reset_input_buffer()
            self.ser.write(line.encode("ascii") + b"\r\n")
            reply = self.ser.readline()
        except (serial.SerialException, OSError) as exc:
            raise UserError("balance at %s: %s" % (self.url, exc)) from None
        if not reply.endswith(b"\n"):
            raise UserError("the balance at %s did not answer %s: is it on, MT-SICS, at the"
                            " right baud rate (--balance-baud)?" % (self.url, line))
        return reply.decode("ascii", "replace").strip()

    def read_grams(self):
        reply = self.command("SI")
        parts = reply.split()
        if len(parts) == 4 and parts[0] == "S" and parts[1] in ("S", "D") and parts[3] == "g":
            try:
                return float(parts[2])
            except ValueError:
                pass
        if parts[:2] in (["S", "+"], ["S", "-"]):
            raise UserError("the balance is out of range (%s): check the load" % reply)
        raise UserError("unexpected balance reply %r (expected 'S S <weight> g' in grams)"
                        % reply)

    def close(self):
        self.ser.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

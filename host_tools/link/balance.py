"""The one MT-SICS balance client (calibrate, the HIL rig, the virtual board): a serial port or
pyserial URL -> grams."""

import re

import serial

from host_tools.link import registry
from host_tools.link.client import resolve_port
from host_tools.link.errors import UserError
from host_tools.link.sockport import open_url

# MT-SICS replies to S (stable weight) and SI (weight now) other than a weight, in words.
_NOT_A_WEIGHT = {
    "S I": "the balance could not give a weight now (busy or never stable): try again",
    "S +": "the balance is overloaded: check the load",
    "S -": "the balance is underloaded (no pan?): check it",
    "ES": "the balance does not know the command (not MT-SICS?)",
    "ET": "the balance reports a transmission error (check the baud rate, --balance-baud)",
    "EL": "the balance reports a logical error",
}


def parse_weight(reply, stable_only=True):
    """'S S    12.345 g' -> 12.345. `S` answers only when the weight is stable (S S); `SI`
    answers at once and marks a moving weight S D, accepted only when stable_only is False."""
    parts = reply.split()
    kinds = ("S",) if stable_only else ("S", "D")
    if len(parts) == 4 and parts[0] == "S" and parts[1] in kinds and parts[3] == "g":
        try:
            return float(parts[2])
        except ValueError:
            pass
    why = _NOT_A_WEIGHT.get(" ".join(parts[:2])) or _NOT_A_WEIGHT.get(parts[0] if parts else "")
    raise UserError(why or "unexpected balance reply %r (expected 'S S <weight> g', grams)"
                    % reply)


def virtual_balance(name):
    """vN: the balance of the N-th running virtual board (as --port vN is its serial)."""
    m = re.fullmatch(r"v(\d+)", name)
    if not m:
        return None
    boards = registry.running()
    if int(m.group(1)) >= len(boards):
        raise UserError("no virtual board %s: %d running (start one with make sim SERVE=1)"
                        % (name, len(boards)))
    return boards[int(m.group(1))]["balance"]


class Balance:
    """One MT-SICS balance, opened on first use. grams() is the stable weight (`S`): what a
    calibration and a witness want; grams_now() is `SI`, whatever the weight is doing."""

    def __init__(self, url, baudrate=9600, timeout_s=5.0):
        self.url = virtual_balance(url) or resolve_port(url)
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.ser = None

    def command(self, line):
        """One MT-SICS command -> its reply line, without CR LF."""
        if self.ser is None:
            try:
                self.ser = open_url(self.url, self.baudrate, timeout=self.timeout_s)
            except (serial.SerialException, OSError, ValueError) as exc:
                raise UserError("cannot open the balance at %s: %s (check --balance)"
                                % (self.url, exc)) from None
        try:
            self.ser.reset_input_buffer()
            self.ser.write(line.encode("ascii") + b"\r\n")
            reply = self.ser.readline()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise UserError("balance at %s: %s (check the cable)" % (self.url, exc)) from None
        if not reply.endswith(b"\n"):
            raise UserError("the balance at %s did not answer %s: is it on, MT-SICS, at the"
                            " right baud rate (--balance-baud)?" % (self.url, line))
        return reply.decode("ascii", "replace").strip()

    readability_g = None  # the last reading's last digit, in grams (0.001 for '12.345 g')

    def _read(self, line, stable_only=True):
        reply = self.command(line)
        grams = parse_weight(reply, stable_only)
        digits = reply.split()[2].partition(".")[2]
        self.readability_g = 10.0 ** -len(digits)
        return grams

    def grams(self):
        return self._read("S")

    def grams_now(self):
        return self._read("SI", stable_only=False)

    def close(self):
        if self.ser is not None:
            self.ser.close()
            self.ser = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""Rigs for the HIL suite: what a test bench can do to a pump, as capabilities; skip what it lacks.

A test asks the rig to let time pass, press buttons, cut power or weigh the output; it never asks
what kind of board is on the other end. `SerialRig` is a real board on a serial port (time only
passes in real time; buttons and power need actuators it does not have); `SimRig` is the virtual
board (host_tools.sim.simboard), which can do everything. See docs/hil.md.
"""

import time

import pytest

from host_tools.link.balance import Balance

# Every capability a test can ask for with @pytest.mark.needs(...).
CAPABILITIES = {
    "time_warp": "device time can run faster than real time (long infusions in seconds)",
    "power": "the board's power can be cut and restored (a relay, or a virtual board)",
    "balance": "an independent balance weighs what the pump delivered (--balance)",
    "buttons": "the operator buttons can be pressed and held by the rig",
    "host_stall": "the rig can stop the host side of the serial from reading",
    "hang": "the rig can freeze the firmware's control loop (fault injection; a debug probe)",
    "pin_edges": "the rig records the STEP pin's rising edges on the device's clock (the emulated"
    " Pico's harness; a logic analyser on a real bench)",
    "power_in_write": "the power can be cut part way into a flash program or erase (the"
                      " emulated Pico's flash chip; a real rig would need a logic trigger)",
}


def lacks(capability, rig):
    return "this rig (%s) lacks %r: %s" % (rig.name, capability, CAPABILITIES[capability])


class Rig:
    """What every rig offers. Subclasses add capabilities and override the matching methods."""

    name = "rig"
    capabilities = frozenset()
    max_real_wait_ms = 120_000  # a real-time wait longer than this is skipped, not sat through
    answer_timeout_s = 5.0  # the host's patience for one answer (wall time; not a requirement)

    def __init__(self, port, balance_url=None):
        self.port = port
        self.pump = None  # set by the pump fixture: time passes while the pump is read
        self.balance = Balance(balance_url) if balance_url else None

    def require(self, *caps):
        for cap in caps:
            if cap not in self.capabilities:
                pytest.skip(lacks(cap, self))

    def describe(self):
        return {"name": self.name, "port": self.port, "capabilities": sorted(self.capabilities)}

    # ---- time ----------------------------------------------------------------------------
    def wait_ms(self, ms):
        """Let `ms` of device time pass (reading the pump meanwhile). Skips when, without
        time_warp, that would take longer than max_real_wait_ms of real time."""
        if ms > self.max_real_wait_ms:
            pytest.skip("%s: waiting %.1f min in real time; needs time_warp" % (
                self.name, ms / 60_000))
        deadline = time.monotonic() + ms / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.pump is not None:
                self.pump.read_message(min(left, 0.5))  # kept in the backlog, logged
            else:
                time.sleep(min(left, 0.5))

    def until(self, pump, name, within_ms, kind="ev"):
        """Let device time pass until the pump sends message `kind`/`name` (an event by
        default); returns it. Fails when it does not come within `within_ms` of device time."""
        if within_ms > self.max_real_wait_ms:
            pytest.skip("%s: up to %.1f min in real time; needs time_warp" % (
                self.name, within_ms / 60_000))
        return pump.expect(kind, name, timeout_s=within_ms / 1000 + 5)

    # ---- capabilities (the base rig has none of them) ------------------------------------
    def press(self, button, hold_ms=200):
        """Press `button` (pause, ir, ok) for hold_ms of device time, then release it."""
        self.require("buttons")

    def power_cut(self):
        self.require("power")

    def power_restore(self):
        self.require("power")

    def power_cut_in_flash_write(self, fraction=0.5, within_ms=10_000):
        """Cut the power `fraction` of the way into the board's next flash program or erase (in
        an infusion: a journal write); returns once it is cut, fails if no write comes within
        `within_ms` of device time."""
        self.require("power_in_write")

    def stall_host(self, stalled):
        """True: the host stops reading the serial (the device's output backs up)."""
        self.require("host_stall")

    def hang(self):
        """Freeze the firmware's loop, as a bug would: only the watchdog can recover."""
        self.require("hang")

    def balance_grams(self):
        self.require("balance")
        return self.balance.grams()

    def step_edges_since(self, t_us):
        """Device times (us) of STEP rising edges at or after t_us."""
        self.require("pin_edges")

    last_press_us = None  # the device time of the last press() (rigs that see the pin)

    def balance_readability_g(self):
        """The last reading's last digit, in grams."""
        self.require("balance")
        return self.balance.readability_g

    def close(self):
        if self.balance is not None:
            self.balance.close()


class SerialRig(Rig):
    """A board on a serial port: time is real; a balance if --balance was given."""

    name = "serial"

    def __init__(self, port, balance_url=None, max_real_wait_ms=None):
        Rig.__init__(self, port, balance_url)
        self.capabilities = frozenset(["balance"] if balance_url else [])
        if max_real_wait_ms is not None:
            self.max_real_wait_ms = max_real_wait_ms


class SimRig(Rig):
    """A board served by a harness: the virtual board, or the emulated Pico (name "pico"). A
    fresh one per test (fresh flash, journal, latch and clock).

    Its clock runs at real-time scale between calls, so commands are answered as on a board;
    wait_ms() and until() move it by exact virtual ms (advance), then let it run on again.
    """

    name = "sim"
    capabilities = frozenset(CAPABILITIES)
    chunk_ms = 5 * 60_000  # until() advances this much device time between looks

    def __init__(self, sim, balance_url=None, name="sim", advance_timeout_s=120,
                 answer_timeout_s=5.0):
        self.sim = sim
        self.name = name
        self.answer_timeout_s = answer_timeout_s
        if not hasattr(sim, "cut_during_flash"):  # the virtual board has no flash chip model
            self.capabilities = frozenset(CAPABILITIES) - {"power_in_write"}
        self.advance_timeout_s = advance_timeout_s  # wall time one chunk of device time may take
        Rig.__init__(self, sim.serial_url, balance_url or sim.balance_url)
        if not hasattr(sim, "gpio_edges"):  # the virtual board keeps no record of its pins
            self.capabilities = self.capabilities - {"pin_edges"}

    def _advance(self, ms):
        # Whatever the pump wrote reaches the board before its time moves on.
        sent = self.pump.sent_bytes if self.pump is not None else 0
        self.sim.advance_ms(ms, timeout_s=self.advance_timeout_s, after_rx=sent)
        self.sim.set_scale(1)

    def wait_ms(self, ms):
        self._advance(ms)

    def until(self, pump, name, within_ms, kind="ev"):
        spent = 0
        while True:
            found = pump.find_kept(kind, name)  # already read, e.g. while answering a command
            if found is not None:
                return found
            if spent >= within_ms:
                raise AssertionError("no %s %s within %.1f min of device time" % (
                    kind, name, within_ms / 60_000))
            step = min(self.chunk_ms, within_ms - spent)
            self._advance(step)
            spent += step
            pump.status()  # its answer follows everything the device sent before it

    def press(self, button, hold_ms=200):
        self.last_press_us = self.sim.hold()["vtime_us"]  # held: pressed at this instant
        self.sim.press(button)
        self._advance(hold_ms)
        self.sim.release(button)
        self._advance(100)  # debounce, then the main loop's poll

    def step_edges_since(self, t_us):
        self.require("pin_edges")
        edges = self.sim.gpio_edges(t_us)
        return [t for t, gpio, level in edges if gpio == self.step_pin and level]

    step_pin = 2  # boards/pico.py: the emulated Pico's STEP

    def power_cut(self):
        self.sim.power_cut()

    def hang(self):
        self.sim.hang()

    def power_cut_in_flash_write(self, fraction=0.5, within_ms=10_000):
        self.require("power_in_write")
        self.sim.cut_during_flash(fraction)
        for _ in range(0, within_ms, 250):
            self._advance(250)
            if not self.sim.status()["powered"]:
                return
        raise AssertionError("no flash write within %d ms of device time" % within_ms)

    def power_restore(self):
        self.sim.power_restore()
        self.sim.set_scale(1)

    def stall_host(self, stalled):
        self.sim.host_reading(not stalled)

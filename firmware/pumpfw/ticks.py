# Wrapping microsecond/millisecond tick arithmetic: MicroPython's time.ticks_* or a CPython twin.
# MicroPython ports wrap ticks at 2**30 (the small-int range); the CPython fallback does the same,
# so wrap-around bugs show up in host tests too. Differences are only valid within +/- 2**29.
import time

from pumpfw.compat import const

TICKS_PERIOD = const(1 << 30)
_TICKS_MAX = const((1 << 30) - 1)
_TICKS_HALF = const(1 << 29)


def _py_ticks_add(ticks, delta):
    return (ticks + delta) & _TICKS_MAX


def _py_ticks_diff(end, start):
    return ((end - start + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def _py_ticks_us():
    return (time.monotonic_ns() // 1000) & _TICKS_MAX


if hasattr(time, "ticks_add"):
    ticks_add = time.ticks_add
    ticks_diff = time.ticks_diff
    ticks_us = time.ticks_us
else:  # CPython
    ticks_add = _py_ticks_add
    ticks_diff = _py_ticks_diff
    ticks_us = _py_ticks_us


def wrap(ticks):
    """Any integer (e.g. an unwrapped test time) as a tick value in [0, TICKS_PERIOD)."""
    return ticks & _TICKS_MAX

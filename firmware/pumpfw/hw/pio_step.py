# The PIO step program: pioasm text (assembled on the host) and the same program as opcodes (rp2).
# One 32-bit FIFO word per segment: bits 0..7 = steps - 1, bits 8..31 = delay loops. Every step,
# in or across segments, takes the same number of cycles, so a segment's interval is exact.
from pumpfw.compat import const

COUNT_BITS = const(8)
MAX_COUNT = const(256)
MAX_DELAY = const((1 << 24) - 1)
# Cycles a step takes besides the delay loops: mov, the loop's last pass, both sets, jmp + nop.
OVERHEAD_CYCLES = const(8)
# From a fresh start (pc 0) to the first rising edge: pull, out, jmp, mov, the loop's last pass.
FIRST_OVERHEAD_CYCLES = const(5)
PC_PULL = const(0)  # where a state machine with nothing to do waits
PC_SET_HIGH = const(6)  # the rising edge of STEP
PC_JMP_Y = const(8)

TEXT = """
.program step
.wrap_target
    pull block          ; next segment word
    out y, 8            ; y = steps - 1; the OSR keeps the delay
    jmp first
step:
    nop [2]             ; evens the in-segment path with pull + out + jmp
first:
    mov x, osr
delay:
    jmp x-- delay
    set pins, 1 [%d]    ; STEP high: pulse_cycles in all
    set pins, 0
    jmp y-- step
.wrap
"""

# Instructions the driver executes directly (sm.exec) to read back a stopped machine and park it,
# as encoded opcodes: MicroPython 1.26+ no longer assembles "jmp(N)"-style strings in exec, and
# an int costs no assembler at run time (tests/host/test_pio.py checks them against pioasm).
EXEC_MOV_ISR_Y = const(0xA0C2)  # mov isr, y
EXEC_PUSH_NOBLOCK = const(0x8000)  # push noblock
EXEC_SET_PINS_0 = const(0xE000)  # set pins, 0


def exec_jmp(address):
    """`jmp address` (unconditional) as an opcode."""
    return address & 31


# TEXT assembled with pulse_cycles = 1 (tests/host/test_pio.py proves they agree).
_OPCODES = (0x80A0, 0x6048, 0x0004, 0xA242, 0xA027, 0x0045, 0xE001, 0xE000, 0x0083)
_SET_HIGH = const(6)


def text(pulse_cycles):
    """The pioasm source for a STEP pulse of pulse_cycles cycles (1..32)."""
    if not 1 <= pulse_cycles <= 32:
        raise ValueError("pulse_cycles")
    return TEXT % (pulse_cycles - 1)


def opcodes(pulse_cycles):
    """The assembled program as a list of 16-bit instructions."""
    if not 1 <= pulse_cycles <= 32:
        raise ValueError("pulse_cycles")
    ops = list(_OPCODES)
    ops[_SET_HIGH] |= (pulse_cycles - 1) << 8  # the delay field of `set pins, 1 [d]`
    return ops


def interval_cycles(delay, pulse_cycles):
    return delay + pulse_cycles + OVERHEAD_CYCLES - 1


def word(interval_cycles_, count, pulse_cycles, first=False):
    """FIFO word for count steps interval_cycles_ apart (the first after start: its delay)."""
    overhead = FIRST_OVERHEAD_CYCLES if first else pulse_cycles + OVERHEAD_CYCLES - 1
    delay = interval_cycles_ - overhead
    if delay < 0 or delay > MAX_DELAY or count < 1 or count > MAX_COUNT:
        raise ValueError("segment")
    return (delay << COUNT_BITS) | (count - 1)


def min_interval_cycles(pulse_cycles):
    return pulse_cycles + OVERHEAD_CYCLES - 1


def partial_steps(pc, y, count):
    """Rising edges already made in the current segment of count steps, from a stopped state
    machine's pc and y (y counts the steps still to come after the one in progress)."""
    if pc == PC_PULL:
        return count  # done, waiting for the next word
    if pc == PC_PULL + 1:
        return 0  # just pulled: y still holds the previous segment's leftover
    done = count - 1 - y
    if pc > PC_SET_HIGH:  # the rising edge of this step is out
        done += 1
    return done

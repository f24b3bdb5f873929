# RP2040 stepper driver: a PIO state machine makes the STEP pulses from FIFO segment words.
# The state machine keeps stepping through GC pauses and flash writes (the joined 8-word TX FIFO
# holds up to 8 segments); the CPU only tops the FIFO up. Steps made are counted in hardware: the
# STEP pin is wired to a PWM B-channel pin whose slice counts rising edges (DIVMODE 2), so the
# count is the pin's at the instant it is read, also after a CPU stall (docs/drive.md). Once
# stopped, the machine's own count (finished segments from the FIFO level, the partial one from
# its pc and y) must agree with it: a count wire that misses steps is a drive fault.
from pumpfw.compat import const
from pumpfw.drive import FAULT_COUNT, FAULT_RATE_CLAMPED
from pumpfw.hw import pio_step
from pumpfw.hw.motor_enable import MotorEnable

_FIFO_WORDS = const(8)  # TX FIFO joined with the RX one
_RING = const(16)  # segment counts pushed but not yet accounted (> FIFO + the one running)
_PIO0_BASE = const(0x50200000)
_PIO1_BASE = const(0x50300000)
_SM0_ADDR = const(0xD4)  # current pc of state machine 0; state machines are 0x18 apart
_SM_STRIDE = const(0x18)
_SM0_SHIFTCTRL = const(0xD0)
_FJOIN_TX = const(1 << 30)
_IO_BANK0 = const(0x40014000)  # GPIOn_CTRL at +8n+4: FUNCSEL in bits 0..4
_FUNC_PWM = const(4)
_PWM_BASE = const(0x40050000)  # slice n's CSR, DIV, CTR, CC, TOP at +0x14n
_PWM_DIVMODE_RISE = const(2 << 4)  # count rising edges of the B pin
_COUNT_MASK = const(0xFFFF)  # the PWM counter is 16 bits


class Rp2Stepper(MotorEnable):
    """Driver API as SimStepper. sm: an rp2.StateMachine loaded with
    pio_step.opcodes(pulse_cycles) at 1 cycle per us (or a test double). read_pc() returns its
    pc relative to the program; join_tx(flag) sets FJOIN_TX (changing it flushes both FIFOs);
    count16() reads the 16-bit rising-edge count of the STEP pin (the PWM slice on the pin it is
    wired to); origin is where the program sits in instruction memory. steps() must be called
    at least once per 65 536 steps (26 s at 2 500 steps/s; the loop reads it every tick)."""

    max_count = pio_step.MAX_COUNT
    max_interval_us = pio_step.MAX_DELAY

    def __init__(self, sm, enable_pin, enable_active_low, pulse_cycles, read_pc, join_tx,
                 count16, origin=0):
        self.sm = sm
        self._init_enable(enable_pin, enable_active_low)
        self.pulse_cycles = pulse_cycles
        self.min_interval_us = pio_step.min_interval_cycles(pulse_cycles)
        self.read_pc = read_pc
        self.join_tx = join_tx
        self._jmp_origin = pio_step.exec_jmp(origin)
        self._counts = [0] * _RING
        self._pushed = 0  # segments ever pushed (since the last stop)
        self._accounted = 0  # segments whose steps are in _made
        self._made = 0  # the state machine's own count: finished segments, the partial at stop
        self.count16 = count16
        self._last16 = count16()
        self._pin = 0  # rising edges at the pin since this driver was built
        self._pin_at_stop = 0  # ... as of the last stop, and the machine's own count then
        self._made_at_stop = 0
        self._first = False
        self.stepping = False
        self.fault = None
        self.halt()

    def start(self, now_us):
        self._first = True  # the first word's delay counts from the start, not from a step
        self.stepping = True
        self.sm.active(1)
        if self.frozen:  # a press froze it meanwhile (MotorEnable.freeze, from a timer)
            self.sm.active(0)

    def _freeze(self):
        self.sm.active(0)  # a register write: the pin stops here; stop() counts it exactly

    def _account(self):
        # Segments pulled = pushed - still in the FIFO; all but the running one are finished,
        # and that one too once the machine waits at pull with nothing queued (the CPU is the
        # only writer: an empty FIFO stays empty while we look at the pc).
        level = self.sm.tx_fifo()
        pulled = self._pushed - level
        finished = pulled - 1
        if level == 0 and self._accounted < pulled and self.read_pc() == pio_step.PC_PULL:
            finished = pulled
        while self._accounted < finished:
            self._made += self._counts[self._accounted % _RING]
            self._accounted += 1

    def push(self, interval_us, count):
        if self.sm.tx_fifo() >= _FIFO_WORDS or self._pushed - self._accounted >= _RING:
            return False
        if interval_us < self.min_interval_us:  # hard ceiling on the step frequency
            interval_us = self.min_interval_us
            self.fault = FAULT_RATE_CLAMPED
        if interval_us > self.max_interval_us:
            raise ValueError("segment")
        word = pio_step.word(interval_us, count, self.pulse_cycles, self._first)
        self._first = False
        self._counts[self._pushed % _RING] = count
        self._pushed += 1
        self.sm.put(word)
        return True

    def room(self):
        self._account()
        free = _FIFO_WORDS - self.sm.tx_fifo()
        ring = _RING - (self._pushed - self._accounted)
        return free if free < ring else ring

    def idle(self):
        return not self.frozen and self.sm.tx_fifo() == 0 and self.read_pc() == pio_step.PC_PULL

    def stop(self):
        """Stop the state machine now, count the partial segment exactly, drop the rest."""
        self.sm.active(0)
        self.stepping = False
        self._account()
        pulled = self._pushed - self.sm.tx_fifo()
        pc = self.read_pc()
        self.join_tx(False)  # flushes the queued words and gives the RX FIFO back for y
        if self._accounted < pulled:  # the segment the machine was in
            self.sm.exec(pio_step.EXEC_MOV_ISR_Y)
            self.sm.exec(pio_step.EXEC_PUSH_NOBLOCK)
            y = self.sm.get()
            count = self._counts[self._accounted % _RING]
            self._made += pio_step.partial_steps(pc, y, count)
        self.join_tx(True)
        self.sm.restart()
        self.sm.exec(pio_step.EXEC_SET_PINS_0)
        self.sm.exec(self._jmp_origin)
        self._pushed = 0
        self._accounted = 0
        # The pin's count and the machine's must have moved alike since the last stop. If not,
        # the count wire is broken or loose: count the larger (never plan a made step again).
        pin = self.steps()
        made = self._made - self._made_at_stop
        if pin - self._pin_at_stop != made:
            self.fault = FAULT_COUNT
            if made > pin - self._pin_at_stop:
                self._pin = self._pin_at_stop + made
        self._pin_at_stop = self._pin
        self._made_at_stop = self._made

    def steps(self):
        """STEP edges at the pin so far (at this instant): the hardware count, unwrapped."""
        c = self.count16()
        self._pin += (c - self._last16) & _COUNT_MASK
        self._last16 = c
        return self._pin


def make(board, enable_pin=None):
    """Build the driver for a board module (boards/pico.py). Imports rp2/machine only here."""
    import rp2
    from machine import Pin, mem32

    step = Pin(board.STEP_PIN, Pin.OUT, value=0)
    if enable_pin is None:
        enable_pin = Pin(board.ENABLE_PIN, Pin.OUT, value=1 if board.ENABLE_ACTIVE_LOW else 0)
    Pin(board.DIR_PIN, Pin.OUT, value=board.DIR_FORWARD)
    pulse_cycles = board.MIN_PULSE_US * board.PIO_FREQ_HZ // 1_000_000
    prog = _asm_program(pio_step.opcodes(pulse_cycles))
    sm = rp2.StateMachine(board.PIO_SM_ID, prog, freq=board.PIO_FREQ_HZ, set_base=step)
    base = _PIO0_BASE if board.PIO_SM_ID < 4 else _PIO1_BASE
    addr = base + _SM0_ADDR + (board.PIO_SM_ID % 4) * _SM_STRIDE
    shiftctrl = addr - _SM0_ADDR + _SM0_SHIFTCTRL
    origin = mem32[addr] & 31  # a freshly initialised machine sits at its program's start

    def read_pc():
        return (mem32[addr] - origin) & 31

    def join_tx(flag):
        if flag:
            mem32[shiftctrl] |= _FJOIN_TX
        else:
            mem32[shiftctrl] &= ~_FJOIN_TX

    return Rp2Stepper(
        sm, enable_pin, board.ENABLE_ACTIVE_LOW, pulse_cycles, read_pc, join_tx,
        edge_counter(board.STEP_COUNT_PIN), origin
    )


def edge_counter(pin_no):
    """count16() for the PWM slice whose B input is pin_no (an odd GPIO), wired to STEP: the
    slice counts the pin's rising edges (RP2040 datasheet 4.5.2.5: the B pin's function must be
    PWM; a peripheral sees only the pins selected for it, so STEP itself, a PIO pin, cannot be
    counted in place)."""
    from machine import Pin, mem32

    if pin_no is None or pin_no % 2 != 1 or not 0 <= pin_no < 30:
        raise ValueError("STEP_COUNT_PIN must be a PWM B pin (an odd GPIO) wired to STEP")
    Pin(pin_no, Pin.IN)  # input enabled at the pad, no pull: STEP drives it
    mem32[_IO_BANK0 + 8 * pin_no + 4] = _FUNC_PWM
    slice_ = _PWM_BASE + ((pin_no >> 1) & 7) * 0x14
    mem32[slice_] = 0  # disabled while set up
    mem32[slice_ + 4] = 1 << 4  # DIV = 1: every edge counts
    mem32[slice_ + 0x10] = _COUNT_MASK  # TOP: wrap at 2^16
    mem32[slice_ + 8] = 0
    mem32[slice_] = _PWM_DIVMODE_RISE | 1  # count rising edges, enabled
    ctr = slice_ + 8

    def count16():
        return mem32[ctr] & _COUNT_MASK

    return count16


def _asm_program(ops):
    """The program list rp2.StateMachine takes, from the port's own assembler template: its
    layout differs between versions (1.26 added a PIO2 offset: 9 fields, not 8)."""
    from array import array

    import rp2

    prog = rp2.PIOASMEmit(set_init=rp2.PIO.OUT_LOW, out_shiftdir=rp2.PIO.SHIFT_RIGHT,
                          fifo_join=rp2.PIO.JOIN_TX).prog  # OUT right; TX FIFO of 8 words
    prog[0] = array("H", ops)
    prog[len(prog) - 5] |= (len(ops) - 1) << 12  # execctrl: wrap_top; wrap_target 0
    return prog

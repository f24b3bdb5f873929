# The PIO step program, cycle-exact on rp2040-pio-emulator, from the source the rp2 driver loads.
from collections import deque

import adafruit_pioasm
import pytest
from pioemu import State, emulate

from boards import pico
from pumpfw.drive import FAULT_COUNT, FAULT_RATE_CLAMPED, FAULT_UNDERRUN, Drive
from pumpfw.hw import pio_step
from pumpfw.hw.stepper_rp2 import Rp2Stepper
from pumpfw.hw.stepper_sim import FakePin
from pumpfw.planner import Planner

PULSE_CYCLES = pico.MIN_PULSE_US * pico.PIO_FREQ_HZ // 1_000_000


def run(words, pulse_cycles, until_clock):
    """Rising-edge clocks and high times of STEP (pin 0) for the given FIFO words."""
    edges, highs = [], []
    prev, rise = 0, 0
    state = State(transmit_fifo=deque(words))
    for before, after in emulate(
        pio_step.opcodes(pulse_cycles),
        stop_when=lambda op, st: st.clock >= until_clock,
        initial_state=state,
        shift_osr_right=True,
        set_base=0,
        set_count=1,
        wrap_target=0,
        wrap_top=len(pio_step.opcodes(pulse_cycles)) - 1,
    ):
        level = after.pin_values & 1
        if level and not prev:
            edges.append(before.clock)
            rise = before.clock
        elif prev and not level:
            highs.append(before.clock - rise)
        prev = level
    return edges, highs


@pytest.mark.parametrize("pulse_cycles", [1, 2, 5, 32])
def test_text_and_opcodes_are_the_same_program(pulse_cycles):
    assembled = adafruit_pioasm.Program(pio_step.text(pulse_cycles))
    assert list(assembled.assembled) == pio_step.opcodes(pulse_cycles)
    assert assembled.pio_kwargs["wrap"] == len(pio_step.opcodes(pulse_cycles)) - 1
    assert assembled.pio_kwargs.get("wrap_target", 0) == 0


def test_exec_opcodes_are_what_pioasm_makes_of_them():
    def one(text):
        (op,) = adafruit_pioasm.Program(".program x\n" + text + "\n").assembled
        return op

    assert pio_step.EXEC_MOV_ISR_Y == one("mov isr, y")
    assert pio_step.EXEC_PUSH_NOBLOCK == one("push noblock")
    assert pio_step.EXEC_SET_PINS_0 == one("set pins, 0")
    for address in (0, 7, 31):
        assert pio_step.exec_jmp(address) == one("jmp %d" % address)


def planned_words(rate_ul_h, n_steps, pulse_cycles):
    """Words for n_steps at rate_ul_h as the driver would push them, and the exact intervals."""
    p = Planner(pico.STEPS_PER_ML, n_steps)
    p.rebase(rate_ul_h, 0, 0)
    words, intervals = [], []
    first = True
    while p.next_segment(pio_step.MAX_COUNT, 0):
        words.append(pio_step.word(p.seg_interval_us, p.seg_count, pulse_cycles, first))
        intervals += [p.seg_interval_us] * p.seg_count
        first = False
    return words, intervals


@pytest.mark.parametrize(
    "rate_ul_h, n_steps",
    [(12_500, 3), (125_000, 12), (pico.MAX_RATE_UL_H, 60), (pico.MAX_STEP_HZ * 3600 // 16, 60)],
)
def test_steps_come_at_the_planned_cycles_with_a_wide_enough_pulse(rate_ul_h, n_steps):
    words, intervals = planned_words(rate_ul_h, n_steps, PULSE_CYCLES)
    total = sum(intervals)
    edges, highs = run(words, PULSE_CYCLES, total + 50)
    expected, t = [], 0
    for iv in intervals:
        t += iv
        expected.append(t)
    assert edges == expected  # 1 cycle = 1 us: every step on its exact us
    assert len(edges) == n_steps
    assert min(highs) * 1_000_000 // pico.PIO_FREQ_HZ >= pico.MIN_PULSE_US
    gaps = [b - a for a, b in zip(edges, edges[1:])]
    assert min(gaps) >= 1_000_000 // pico.MAX_STEP_HZ  # never above the board ceiling


def test_mixed_segments_keep_the_same_step_period_across_words():
    words = [pio_step.word(40, 1, 3, first=True), pio_step.word(17, 4, 3), pio_step.word(90, 2, 3)]
    edges, highs = run(words, 3, 400)
    assert [b - a for a, b in zip(edges, edges[1:])] == [17, 17, 17, 17, 90, 90]
    assert edges[0] == 40 and highs == [3] * 7


def test_minimum_interval_is_the_programs_floor():
    floor = pio_step.min_interval_cycles(PULSE_CYCLES)
    edges, _ = run([pio_step.word(floor, 1, PULSE_CYCLES, True),
                    pio_step.word(floor, 5, PULSE_CYCLES)], PULSE_CYCLES, 200)
    assert [b - a for a, b in zip(edges, edges[1:])] == [floor] * 5
    with pytest.raises(ValueError):
        pio_step.word(floor - 1, 1, PULSE_CYCLES)


def test_partial_steps_from_pc_and_y_match_the_pin_at_every_cycle():
    words = [pio_step.word(30, 1, 2, True), pio_step.word(23, 5, 2), pio_step.word(11, 3, 2)]
    counts = [1, 5, 3]
    prev, made = 0, 0
    state = State(transmit_fifo=deque(words))
    for before, after in emulate(
        pio_step.opcodes(2), stop_when=lambda op, st: st.clock >= 250, initial_state=state,
        shift_osr_right=True, set_base=0, set_count=1, wrap_target=0, wrap_top=8,
    ):
        level = after.pin_values & 1
        made += level and not prev
        prev = level
        # Stopped here: segments pulled, minus the running one, plus its partial count.
        pulled = len(words) - len(after.transmit_fifo)
        if pulled == 0:
            continue
        finished = sum(counts[: pulled - 1])
        partial = pio_step.partial_steps(
            after.program_counter, after.y_register, counts[pulled - 1]
        )
        assert finished + partial == made, (after.clock, after.program_counter)


class EmulatedSM:
    """rp2.StateMachine double backed by the emulator: put/tx_fifo/active/exec/get/restart."""

    def __init__(self, pulse_cycles):
        self.pulse_cycles = pulse_cycles
        self.state = State()
        self.fifo = deque()
        self.rx = deque()
        self.running = False
        self.edges = 0
        self._prev = 0

    def run_cycles(self, cycles):
        if not self.running:
            return
        ops = pio_step.opcodes(self.pulse_cycles)
        stop_at = self.state.clock + cycles
        start = State(clock=self.state.clock, program_counter=self.state.program_counter,
                      pin_values=self.state.pin_values, transmit_fifo=self.fifo,
                      output_shift_register=self.state.output_shift_register,
                      x_register=self.state.x_register, y_register=self.state.y_register)
        for _, after in emulate(ops, stop_when=lambda op, st: st.clock >= stop_at,
                                initial_state=start, shift_osr_right=True, set_base=0,
                                set_count=1, wrap_target=0, wrap_top=len(ops) - 1):
            level = after.pin_values & 1
            self.edges += level and not self._prev
            self._prev = level
            self.state = after
        self.fifo = self.state.transmit_fifo

    def put(self, word):
        self.fifo.append(word)

    def tx_fifo(self):
        return len(self.fifo)

    def active(self, flag=None):
        if flag is not None:
            self.running = bool(flag)
        return self.running

    def exec(self, opcode):
        if opcode == pio_step.EXEC_MOV_ISR_Y:
            self.rx.append(self.state.y_register)
        elif opcode >> 5 == 0:  # jmp (always) address
            self.state = State(clock=self.state.clock, program_counter=opcode & 31)

    def get(self):
        return self.rx.popleft()

    def restart(self):
        pass


def emulated_driver(sm, enable=None):
    """The rp2 driver on an EmulatedSM, STEP pulses of 2 cycles, ENABLE active low."""
    return Rp2Stepper(sm, enable or FakePin(), True, 2, lambda: sm.state.program_counter,
                      lambda flag: flag or sm.fifo.clear(), lambda: sm.edges & 0xFFFF)


def test_rp2_driver_counts_every_step_the_state_machine_made():
    sm = EmulatedSM(2)
    enable = FakePin()
    drv = emulated_driver(sm, enable)
    assert enable.value() == 1 and drv.steps() == 0  # built disabled
    drv.enable()
    drv.start(0)
    assert drv.push(50, 1) and drv.push(20, 7) and drv.push(33, 3)
    sm.run_cycles(120)
    assert drv.steps() == sm.edges == 4  # the pin's count, inside a segment
    drv.halt()
    assert drv.steps() == sm.edges == 4 and enable.value() == 1
    drv.push(1, 1)
    assert drv.fault == FAULT_RATE_CLAMPED  # below the program's floor: clamped, reported


def test_the_rp2_drivers_count_is_the_pins_at_every_cycle_and_unwraps_16_bits():
    sm = EmulatedSM(2)
    sm.edges = 0xFFFF - 5  # the 16-bit PWM counter is about to wrap
    drv = emulated_driver(sm)
    drv.enable()
    drv.start(0)
    assert drv.push(40, 1) and drv.push(13, 60)
    for _ in range(200):
        sm.run_cycles(5)
        assert drv.steps() == sm.edges - (0xFFFF - 5)
    drv.halt()
    assert drv.steps() == 61 and drv.fault is None


def test_a_count_wire_that_misses_steps_is_a_fault_and_the_larger_count_is_kept():
    sm = EmulatedSM(2)
    seen = [0]
    drv = Rp2Stepper(sm, FakePin(), True, 2, lambda: sm.state.program_counter,
                     lambda flag: flag or sm.fifo.clear(), lambda: seen[0] & 0xFFFF)
    drv.enable()
    drv.start(0)
    assert drv.push(40, 1) and drv.push(20, 9)
    sm.run_cycles(120)
    seen[0] = 2  # a loose wire: the pin made 4, the counter saw 2
    drv.stop()
    assert drv.fault == FAULT_COUNT and drv.steps() == sm.edges == 4  # never counts fewer


def test_an_idle_rp2_driver_has_counted_its_last_segment():
    """Once the machine waits at pull with nothing queued, every step it made is counted: the
    drive reads this count when it ran dry (an underrun) and at the end of an infusion."""
    sm = EmulatedSM(2)
    drv = emulated_driver(sm)
    drv.enable()
    drv.start(0)
    assert drv.push(40, 3) and drv.push(30, 5)
    sm.run_cycles(1_000)
    assert drv.idle() and sm.edges == 8
    assert drv.steps() == 8
    assert drv.push(30, 2)  # and running on from there counts the new segment once
    sm.run_cycles(1_000)
    assert drv.idle() and drv.steps() == sm.edges == 10
    drv.halt()
    assert drv.steps() == 10


def test_an_underrun_on_the_rp2_driver_replans_only_what_was_not_made():
    """The loop stalls past the horizon, the state machine runs dry: the drive re-plans from the
    steps really made, so none is made twice (the last segment's steps used to be left out of
    the count there, planned again and made twice, and the next rebase failed on 'steps_made')."""
    sm = EmulatedSM(2)
    clock = [0]
    drv = emulated_driver(sm)
    drive = Drive(drv, 1000, 10**6, 5_000, horizon_us=5_000, ticks_us=lambda: clock[0])
    rebased_from = []
    rebase = drive.planner.rebase
    drive.planner.rebase = lambda rate, at, made: rebased_from.append(made) or rebase(rate, at,
                                                                                      made)

    def run(us, tick_us=1_000):
        end = clock[0] + us
        while clock[0] < end:
            drive.service(clock[0])
            sm.run_cycles(tick_us)  # the PIO runs at 1 cycle per us
            clock[0] += tick_us

    drive.set_rate(3_600_000, 0)  # 1 000 steps/s
    run(10_000)
    sm.run_cycles(20_000)  # the loop stalls 20 ms: the 5 ms queue runs dry
    clock[0] += 20_000
    made_before = sm.edges
    del rebased_from[:]
    run(10_000)
    assert drive.fault == FAULT_UNDERRUN
    assert rebased_from[:2] == [made_before, made_before]  # pause at the last step, restart
    drive.set_rate(0, clock[0])
    assert drive.steps_made() == drive.planner.emitted == sm.edges
    assert sm.edges - made_before <= 11  # 10 ms at the rate: no catch-up burst


def test_the_rp2_driver_completes_a_target_and_turns_the_motor_off():
    sm = EmulatedSM(2)
    clock = [0]
    enable = FakePin()
    drv = emulated_driver(sm, enable)
    drive = Drive(drv, 1000, 12, 5_000, horizon_us=5_000, ticks_us=lambda: clock[0])
    drive.set_rate(3_600_000, 0)  # 1 000 steps/s: 12 steps in 12 ms
    while clock[0] < 30_000:
        drive.service(clock[0])
        sm.run_cycles(1_000)
        clock[0] += 1_000
    assert sm.edges == 12 and drive.complete()
    assert enable.value() == 1  # active low: disabled once the whole target is made

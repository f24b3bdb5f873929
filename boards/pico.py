# Board data: Raspberry Pi Pico (RP2040) + A4988/DRV8825/TMC2209 driver + peristaltic head.
NAME = "pico"
DRIVER = "rp2"  # pumpfw.hw.stepper_rp2: PIO state machine
PIO_SM_ID = 0  # state machine 0 of PIO0
PIO_FREQ_HZ = 1_000_000  # one PIO cycle per us: intervals in us map 1:1 to cycles

STEP_PIN = 2
# STEP wired to this pin too: a PWM B input (odd GPIO; GP5 = slice 2 B) whose slice counts the
# STEP rising edges in hardware, so every step is counted at the instant it is read, also while
# the CPU waits on a flash erase (docs/drive.md, docs/wiring.md).
STEP_COUNT_PIN = 5
DIR_PIN = 3
ENABLE_PIN = 4
ENABLE_ACTIVE_LOW = True  # A4988 / DRV8825 / TMC2209 EN: low = outputs on
DIR_FORWARD = 1  # DIR level that pumps towards the patient (check with the head's arrow)

# Buttons to GND with the internal pull-up: pressed reads 0.
BUTTON_ACTIVE_LOW = True
BUTTON_PAUSE_PIN = 14  # pause / resume
BUTTON_IR_PIN = 15  # infusion reaction: short = grade 2 interrupt, long = grade >= 3 stop
BUTTON_OK_PIN = 13  # "IR resolved" (with a long press) and confirmations
LED_PIN = 25  # on-board LED
BUZZER_PIN = 16  # optional active buzzer, high = on

# 1.8 deg motor x 16 microsteps = 3200 steps/rev; a head of ~0.2 mL/rev. Calibrate by weighing.
STEPS_PER_ML = 16_000
MAX_RATE_UL_H = 400_000  # the protocol's maximum: 1778 steps/s with this calibration
MAX_STEP_HZ = 2_500  # hard ceiling enforced by the driver (head and tubing limit)
MIN_PULSE_US = 2  # DRV8825 needs 1.9 us high; A4988 1 us; TMC2209 0.1 us

# Plan 2 s of steps ahead: the PIO keeps stepping while the CPU waits out a flash write (a 4 KB
# sector erase takes 45 ms typically and up to 400 ms, W25Q16JV), and the loop idles between
# refills (one a second: the CPU sleeps >99 % of an infusion). A stop still takes effect at
# once: the state machine is halted, not drained.
PLAN_AHEAD_US = 2_000_000

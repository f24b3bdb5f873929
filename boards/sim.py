# Board data: the virtual board (stepper_sim on a virtual clock), for tests and `make sim`.
NAME = "sim"
DRIVER = "sim"

STEP_PIN = None  # no pins: the virtual stepper records step times instead
DIR_PIN = None
ENABLE_PIN = None
ENABLE_ACTIVE_LOW = True
DIR_FORWARD = 1

BUTTON_ACTIVE_LOW = True
BUTTON_PAUSE_PIN = None  # buttons are injected by the simulator (FakePin levels)
BUTTON_IR_PIN = None
BUTTON_OK_PIN = None
LED_PIN = None
BUZZER_PIN = None

# A coarse calibration keeps simulated 250 mL runs fast (20 000 steps) yet exercises the planner.
STEPS_PER_ML = 80
MAX_RATE_UL_H = 400_000
MAX_STEP_HZ = 2_500
MIN_PULSE_US = 2

# The virtual board plans 5 s ahead: fewer wake-ups, so fast mode runs an infusion in seconds.
PLAN_AHEAD_US = 5_000_000

# Board data: ESP32 DevKitC + DRV8825/A4988/TMC2209 step-dir driver + peristaltic head.
NAME = "esp32"
DRIVER = "esp32"  # pumpfw.hw.stepper_esp32: RMT generates, PCNT (machine.Counter) counts
RMT_CHANNEL = 0
RMT_RESOLUTION_HZ = 1_000_000  # 80 MHz APB / 80: one RMT tick per us
COUNTER_ID = 0  # PCNT unit counting STEP edges on the same pin

STEP_PIN = 25
DIR_PIN = 26
ENABLE_PIN = 27
ENABLE_ACTIVE_LOW = True
DIR_FORWARD = 1

# Buttons to GND with the internal pull-up (GPIO 32/33/4 have pull-ups; 34-39 do not).
BUTTON_ACTIVE_LOW = True
BUTTON_PAUSE_PIN = 32
BUTTON_IR_PIN = 33
BUTTON_OK_PIN = 4
LED_PIN = 2  # on-board LED of most DevKitC clones (none on the original: optional)
BUZZER_PIN = 23

STEPS_PER_ML = 16_000
MAX_RATE_UL_H = 400_000
MAX_STEP_HZ = 2_500
MIN_PULSE_US = 2

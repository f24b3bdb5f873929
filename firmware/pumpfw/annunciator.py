# LED and buzzer patterns for the pump's state and alarms, where the board has those pins.
# Patterns are 16 slots of 125 ms (a 2 s cycle), one bit each: no allocation, no timers.
from pumpfw import controller as ctl
from pumpfw.compat import const

_SLOT_MS = const(125)
# LED per controller state: idle, running, paused, interrupted, discontinued, complete, stopped.
LED_PATTERNS = (
    0x0001,  # idle: a short blip every 2 s
    0x0003,  # running: a 250 ms heartbeat
    0x0033,  # paused: a double blink
    0x5555,  # interrupted by an IR: fast blink
    0xFFFF,  # discontinued: steady on
    0xFFFF,  # complete: steady on
    0x0033,  # stopped: as paused
)
BUZZER_ALARM = 0x0F0F  # two 0.5 s beeps: an alarm was raised within the last cycle
BUZZER_LATCHED = 0x0505  # discontinued: a short double beep, every cycle until cleared


class Annunciator:
    """update(now_ms, state) every tick; alarm(now_ms) when an alarm is raised."""

    def __init__(self, led=None, buzzer=None):
        self.led = led
        self.buzzer = buzzer
        self.alarm_until_ms = -1
        self._led_on = -1
        self._buzz_on = -1

    def alarm(self, now_ms):
        self.alarm_until_ms = now_ms + 16 * _SLOT_MS

    def update(self, now_ms, state):
        bit = 1 << ((now_ms // _SLOT_MS) & 15)
        led = 1 if LED_PATTERNS[state] & bit else 0
        buzz = 0
        if now_ms < self.alarm_until_ms:
            buzz = 1 if BUZZER_ALARM & bit else 0
        elif state == ctl.DISCONTINUED:
            buzz = 1 if BUZZER_LATCHED & bit else 0
        if self.led is not None and led != self._led_on:
            self._led_on = led
            self.led.value(led)
        if self.buzzer is not None and buzz != self._buzz_on:
            self._buzz_on = buzz
            self.buzzer.value(buzz)

    def off(self):
        for pin in (self.led, self.buzzer):
            if pin is not None:
                pin.value(0)

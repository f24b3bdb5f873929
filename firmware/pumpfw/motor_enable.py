# The ENABLE pin every stepper driver shares: its polarity, and on/off/is-on in one place.


class MotorEnable:
    """Base of the stepper drivers: enable(), disable(), enabled() on self.enable_pin."""

    def _init_enable(self, enable_pin, enable_active_low):
        self.enable_pin = enable_pin
        self._on = 0 if enable_active_low else 1

    def enable(self):
        self.enable_pin.value(self._on)

    def disable(self):
        self.enable_pin.value(1 - self._on)

    def enabled(self):
        return self.enable_pin.value() == self._on

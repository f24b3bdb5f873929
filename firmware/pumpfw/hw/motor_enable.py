# What every stepper driver shares: the ENABLE pin (polarity, on/off/is-on), halt(), and the
# freeze a button press uses from interrupt context (docs/buttons.md).


class MotorEnable:
    """Base of the stepper drivers: enable(), disable(), enabled() on self.enable_pin, and
    halt(): the driver's own stop(), then the motor off even if stopping failed."""

    def _init_enable(self, enable_pin, enable_active_low):
        self.enable_pin = enable_pin
        self._on = 0 if enable_active_low else 1

    def enable(self):
        self.enable_pin.value(self._on)

    def disable(self):
        self.enable_pin.value(1 - self._on)

    def enabled(self):
        return self.enable_pin.value() == self._on

    frozen = False

    def freeze(self):
        """Stop stepping at once, from an IRQ or timer callback: allocates nothing and touches
        no queue or count, so it is safe whatever the main loop was doing. start() leaves the
        motor still until thaw(); the app stops the drive (which counts exactly), then thaws."""
        self.frozen = True
        self._freeze()

    def thaw(self):
        self.frozen = False

    def halt(self):
        try:
            self.stop()
        finally:
            self.disable()

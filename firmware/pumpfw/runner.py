# The forever loop around App.step(): motor off on stop, on any exception, on Ctrl-C and on exit.
import sys

from pumpfw import protocol as P
from pumpfw.app import FAULT_EXCEPTION, App

IDLE_MAX_MS = 1000  # longest sleep between ticks; the app's next_wake_ms() is usually sooner


def _halt(hw, app):
    # The motor first, whatever else fails: the driver directly if the app never came up.
    try:
        if app is not None:
            app.shutdown()
        else:
            hw.stepper.halt()
    except Exception:  # noqa: BLE001 - still try the driver itself
        hw.stepper.halt()


def run(hw, max_ticks=-1, app_factory=App):
    """Run the pump until Ctrl-C (idle only), `repl`, an exception, or max_ticks ticks.

    Returns the App (for tests). An exception is reported as a fault event, journaled, and
    re-raised after the motor is off: on a board with the watchdog armed, the reset that follows
    brings the pump back paused (docs/safety.md).
    """
    app = None
    ticks = 0
    try:
        app = app_factory(hw)
        if hasattr(hw.port, "open"):
            hw.port.open()
        while ticks != max_ticks:
            app.step()
            ticks += 1
            # Sleep until the app has work (serial input and buttons wake it sooner): the CPU
            # idles between ticks instead of spinning, and the PIO steps on meanwhile.
            wait_ms = app.next_wake_ms() - app.clock.ms
            if wait_ms > 0:
                hw.idle(wait_ms if wait_ms < IDLE_MAX_MS else IDLE_MAX_MS)
        return app
    except KeyboardInterrupt:
        # Only reached when no infusion is active (Ctrl-C when idle, or `repl`).
        _halt(hw, app)
        if getattr(hw, "wdt_armed", None) and hw.wdt_armed():
            hw.reboot_to_repl()  # the watchdog cannot be stopped: come back up in the REPL
        return app
    except Exception as exc:
        _halt(hw, app)
        if app is not None:
            now = app.clock.ms
            app.console.event(P.EV_FAULT, now, FAULT_EXCEPTION, 0)
            try:
                # Journaled as it stands: after the reset the infusion comes back paused.
                app._save(now, motor_off=True)
            except Exception:  # noqa: BLE001 - the fault report must not hide the first error
                pass
            app.out.drain(hw.port.write, 1024)
        if hasattr(sys, "print_exception"):
            sys.print_exception(exc)
        raise
    finally:
        _halt(hw, app)
        if hasattr(hw.port, "close"):
            hw.port.close()

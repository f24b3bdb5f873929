# The pump loop around App.step(): motor off on stop, on any exception, on `repl` and on exit.
# One loop body, step(), used by the boards' run() and by the virtual board (hw.sim.Runner).
import sys

from pumpfw.app import App

IDLE_MAX_MS = 1000  # longest sleep between ticks; the app's next_wake_ms() is usually sooner
# Printed on the serial when the loop ends for the REPL (after `repl`'s ok).
LEFT_FOR_REPL = "pump loop ended (repl): MicroPython REPL; Ctrl-D restarts the pump"


def halt(hw, app):
    """The motor first, whatever else fails: the driver directly if the app never came up."""
    try:
        if app is not None:
            app.shutdown()
        else:
            hw.stepper.halt()
    except Exception:  # noqa: BLE001 - still try the driver itself
        hw.stepper.halt()
    detach = getattr(hw, "detach_buttons", None)
    if detach is not None:
        detach()  # the buttons' timer and IRQs: nothing may touch the motor after the loop


def crashed(hw, app):
    """An exception escaped a tick (or the boot): motor off, then what the app reports of it
    (App.on_crash: `ev fault what=exception`, the journal with the motor off). Never raises."""
    halt(hw, app)
    report = getattr(app, "on_crash", None)
    if report is not None:
        try:
            report()
        except Exception:  # noqa: BLE001 - the fault report must not hide the first error
            pass


def left(hw, app):
    """The app asked to leave the loop for the REPL (`repl`, idle only): motor off, say so.
    With the watchdog armed a board resets straight into the REPL (it cannot stop the dog)."""
    halt(hw, app)
    close = getattr(hw.port, "close", None)
    if close is not None:
        close()  # Ctrl-C belongs to the REPL again
    print(LEFT_FOR_REPL)
    if getattr(hw, "wdt_armed", None) and hw.wdt_armed():
        hw.reboot_to_repl()


def step(hw, app):
    """One pass of the loop body: True to go on, False once the loop has ended for the REPL.
    An exception takes the crash path, then propagates."""
    try:
        app.step()
        return True
    except KeyboardInterrupt:
        left(hw, app)
        return False
    except Exception:
        crashed(hw, app)
        raise


def run(hw, max_ticks=-1, app_factory=App):
    """Run the pump until `repl`, an exception, or max_ticks ticks. Returns the App (for tests).

    An exception is reported as a fault event, journaled, and re-raised after the motor is off:
    on a board with the watchdog armed, the reset that follows brings the pump back paused
    (docs/safety.md).
    """
    app = None
    ticks = 0
    try:
        try:
            app = app_factory(hw)
        except Exception:
            crashed(hw, None)
            raise
        if hasattr(hw.port, "open"):
            hw.port.open()
        while ticks != max_ticks:
            if not step(hw, app):
                break
            ticks += 1
            # Sleep until the app has work (serial input and buttons wake it sooner): the CPU
            # idles between ticks instead of spinning, and the PIO steps on meanwhile.
            wait_ms = app.next_wake_ms() - app.clock.ms
            if wait_ms > 0:
                hw.idle(wait_ms if wait_ms < IDLE_MAX_MS else IDLE_MAX_MS)
        return app
    except Exception as exc:
        if hasattr(sys, "print_exception"):
            sys.print_exception(exc)
        raise
    finally:
        halt(hw, app)
        if hasattr(hw.port, "close"):
            hw.port.close()

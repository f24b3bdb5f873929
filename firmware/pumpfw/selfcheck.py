# Boot self-check: board file, calibration, journal and driver must be sane before any start.
# check() returns a list of short problem strings; empty means fit to infuse.

# A step of more than 0.1 mL is no pump; the top is the protocol's setcal limit. (The virtual
# board's coarse 80 steps/mL is legal here though an operator could not set it.)
_MIN_SPM = 10
_MAX_SPM = 1_000_000


def _pins(board):
    names = ("STEP_PIN", "DIR_PIN", "ENABLE_PIN", "BUTTON_PAUSE_PIN", "BUTTON_IR_PIN",
             "BUTTON_OK_PIN", "LED_PIN", "BUZZER_PIN")
    return [getattr(board, n, None) for n in names]


def check(board, steps_per_ml, regimen, stepper, journal_ok=True):
    problems = []
    for attr in ("NAME", "STEPS_PER_ML", "MAX_RATE_UL_H", "MAX_STEP_HZ"):
        if getattr(board, attr, None) is None:
            problems.append("board file lacks " + attr)
    if problems:
        return problems
    used = [p for p in _pins(board) if p is not None]
    if len(used) != len(set(used)):
        problems.append("board file uses a pin twice")
    if not _MIN_SPM <= steps_per_ml <= _MAX_SPM:
        problems.append("calibration %d steps/mL out of %d..%d"
                        % (steps_per_ml, _MIN_SPM, _MAX_SPM))
    if board.MAX_RATE_UL_H <= 0 or board.MAX_STEP_HZ <= 0:
        problems.append("board maximum rate must be > 0")
    # A board maximum below a program's rate is not a problem: the controller clamps to it and
    # says so (`ev limit`).
    # The slowest rate any program uses (half an initial rate) must be timeable: one step at
    # most every 2^27 us (the planner's limit).
    slowest = min(p.ir_resume_rate_ul_h for p in regimen.programs)
    if slowest * steps_per_ml * (1 << 27) < 3_600_000_000_000:
        problems.append("calibration too coarse for %d uL/h" % slowest)
    if not journal_ok:
        problems.append("journal corrupt: the last infusion's state is unknown")
    try:
        stepper.disable()
        if not isinstance(stepper.steps(), int):
            problems.append("driver does not report its steps")
    except Exception as exc:  # noqa: BLE001 - any failure here is a finding, not a crash
        problems.append("driver does not respond: %s" % exc)
    return problems

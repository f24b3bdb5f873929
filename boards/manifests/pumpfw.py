# The portable firmware every board runs (MicroPython manifest format, included by each board's
# manifest). preview.py is left out: it runs the controller ahead of time on a host, not a board.
package(
    "pumpfw",
    files=(
        "__init__.py",
        "alarms.py",
        "annunciator.py",
        "app.py",
        "buttons.py",
        "clock.py",
        "commands.py",
        "controller.py",
        "drive.py",
        "framing.py",
        "journal.py",
        "linein.py",
        "logout.py",
        "persist.py",
        "planner.py",
        "protocol.py",
        "runner.py",
        "schedule.py",
        "selfcheck.py",
        "ticks.py",
    ),
    base_path="../../firmware",
)

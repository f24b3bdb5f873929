# Boot entry on a real board: the board file (board.py) -> hw -> the pump loop, motor off on exit.
import board

from pumpfw import runner
from pumpfw.hw.mcu import Hardware, repl_requested

if repl_requested():
    # One boot straight to the REPL, asked for with `repl` while the watchdog was armed.
    print("pump loop skipped for this boot: REPL (mpremote may connect); Ctrl-D restarts the pump")
else:
    runner.run(Hardware(board))

# Minimal test runner for the MicroPython lane: runs every test_* function of tests/firmware.
import os
import sys

try:
    import lane  # run.mjs: what a test prints is shown only when it fails, as pytest does
except ImportError:
    lane = None


def _capture(on, failed=False):
    if lane is not None:
        lane.capture(on, failed)


def _modules(only):
    names = []
    for name in os.listdir("/tests"):
        if name.startswith("test_") and name.endswith(".py"):
            mod = name[:-3]
            if not only or mod in only:
                names.append(mod)
    names.sort()
    return names


def main(only):
    passed = 0
    failed = 0
    for mod_name in _modules(only):
        mod = __import__(mod_name)
        mod_passed = 0
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            fn = getattr(mod, attr)
            if not callable(fn):
                continue
            _capture(True)
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - report every failure, keep going
                failed += 1
                print("FAILED %s::%s" % (mod_name, attr))
                sys.print_exception(exc)
                _capture(False, True)
            else:
                passed += 1
                mod_passed += 1
                _capture(False, False)
        print("%s: %d passed" % (mod_name, mod_passed))
    print("micropython: %d passed, %d failed" % (passed, failed))
    if passed == 0:
        print("micropython: no test ran")
        return 1
    return failed

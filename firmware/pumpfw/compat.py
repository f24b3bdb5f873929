# What MicroPython has and CPython lacks, once: const(). MicroPython's compiler folds any
# `NAME = const(<constant>)` at parse time, whatever module `const` came from (it goes by name).
try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value

"""The virtual board: the real firmware on MicroPython (WebAssembly) under Node, its serial port,
control channel and balance (board.py), the registry pumpctl ports reads, and `make sim` (run.py).
"""

"""The HIL suite: the same tests on the virtual board, an emulated Pico or a real one."""

# pumpfw.hw: the hardware side (pins, PIO/RMT stepper drivers, USB serial, the virtual board).
# Portable modules in pumpfw/ never import from here; the board passes hw in (docs/board-layer.md).

"""The emulated Pico: the stock MicroPython rp2 image on rp2040js, served as a board."""

# pumpfw: the infusion-pump firmware package (MicroPython on RP2040/ESP32; importable on CPython).
VERSION = "0.1.0"

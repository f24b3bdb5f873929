# The hardware side every real board runs (pico.py and esp32.py include it): hw on a
# microcontroller, its USB serial, the ENABLE pin the drivers share. MicroPython manifest format.
package(
    "pumpfw",
    files=("hw/__init__.py", "hw/mcu.py", "hw/motor_enable.py", "hw/usbserial.py"),
    base_path="../../firmware",
)

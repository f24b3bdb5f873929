# What an ESP32 DevKitC (boards/esp32.py, DRIVER "esp32") runs: the portable firmware and the
# ESP32 hardware modules (RMT + PCNT stepper). Same use as pico.py. MicroPython manifest format.
include("pumpfw.py")
include("mcu.py")
package("pumpfw", files=("hw/stepper_esp32.py",), base_path="../../firmware")

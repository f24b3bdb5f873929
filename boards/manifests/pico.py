# What a Raspberry Pi Pico (boards/pico.py, DRIVER "rp2") runs: the portable firmware and the
# RP2040 hardware modules. `pumpctl flash --board pico` copies these (as .mpy) plus main.py and
# board.py; a frozen build (FROZEN_MANIFEST=) takes the same list. MicroPython manifest format.
include("pumpfw.py")
include("mcu.py")
package("pumpfw", files=("hw/pio_step.py", "hw/stepper_rp2.py"), base_path="../../firmware")

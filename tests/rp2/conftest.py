"""The emulated-Pico lane: the stock MicroPython rp2 image on rp2040js, flashed by `pumpctl flash`.

One session flashes one factory-fresh emulated Pico through its pty, exactly as a bench engineer
would, and keeps its 2 MB flash; every test then boots its own Pico from that flash (pytest-xdist
workers share it: the first one flashes, the others wait for the file). Without the boot ROM and
image the lane is skipped with one line saying how to get them.
"""

import pytest

from hil_tests.hilkit import session_folder
from host_tools.pico.picoboard import PicoBoard, flashed_once, missing


@pytest.fixture(scope="session")
def flashed(tmp_path_factory):
    """{"flash": path of the flashed 2 MB image, "output": what pumpctl flash printed}."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    done = flashed_once(session_folder(tmp_path_factory))  # the same for every xdist worker
    if done["rc"] != 0:
        pytest.fail("pumpctl flash failed on the emulated Pico:\n" + done["output"])
    return done


@pytest.fixture
def pico(flashed):
    """A Pico booted from the flashed image, held at 0: time moves only when a test says."""
    with PicoBoard(image=flashed["flash"], hold=True, pty=False) as board:
        yield board

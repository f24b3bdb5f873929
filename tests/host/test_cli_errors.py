"""pumpctl's error paths: each a single line that says what to do, a non-zero exit, never a
traceback (no such port, busy, not this firmware, another protocol version, timeouts)."""

import errno
import os
import socket

import pytest
from clikit import (
    FakePump,
    garbage_device,
    one_error_line,
    other_protocol_device,
    run_cli,
    silent_device,
)

from host_tools.link import session


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "socket://127.0.0.1:%d" % port


def test_no_such_port(capsys):
    rc, _, err = run_cli(capsys, "status", "--port", "/dev/ttyNOSUCH7")
    assert rc == 1
    assert one_error_line(err) == ("pumpctl status: no such port /dev/ttyNOSUCH7: check the"
                                   " cable, or list the boards with `pumpctl ports`")


@pytest.mark.skipif(os.path.exists("/dev/ttyACM9"), reason="a real /dev/ttyACM9 exists here")
def test_shortcut_names_the_device_it_means(capsys):
    rc, _, err = run_cli(capsys, "stop", "--port", "a9")
    assert rc == 1 and "no such port /dev/ttyACM9" in one_error_line(err)


def test_nothing_listening(capsys):
    rc, _, err = run_cli(capsys, "pause", "--port", closed_port_url())
    assert rc == 1 and "nothing is listening at socket://" in one_error_line(err)


def test_busy_and_permission_wording():
    busy = OSError(errno.EBUSY, "Device or resource busy")
    assert "is busy: close the program using it" in session.open_failure("/dev/ttyACM0", busy)
    denied = OSError(errno.EACCES, "Permission denied")
    assert "dialout" in session.open_failure("/dev/ttyACM0", denied)


def _error_of(capsys, device, *argv):
    """pumpctl ARGV --port DEVICE: (exit status, its one error line); the device is closed."""
    try:
        rc, _, err = run_cli(capsys, *argv, "--port", device.url)
    finally:
        device.close()
    return rc, one_error_line(err)


def test_not_this_firmware(capsys):
    rc, line = _error_of(capsys, garbage_device(), "status", "--timeout", 0.3)
    assert rc == 1 and "is not running this firmware" in line and "pumpctl flash" in line


def test_silence_is_a_timeout_with_advice(capsys):
    rc, line = _error_of(capsys, silent_device(), "monitor", "--once", "--timeout", 0.3)
    assert rc == 1 and "no answer from socket://" in line and "powered" in line


def test_protocol_version_mismatch(capsys):
    other = other_protocol_device(proto=2)
    rc, line = _error_of(capsys, other, "start", "--infusion", 1)
    assert rc == 1 and "speaks protocol 2, this host speaks 1" in line
    assert "pumpctl flash" in line
    assert not any(b" start" in seen for seen in other.lines)  # nothing but `id` was sent


def test_a_device_that_stops_answering_mid_command(capsys, monkeypatch):
    pump = FakePump()
    real = pump.server.answer
    pump.server.answer = lambda line: b"" if b" status" in line else real(line)
    rc, line = _error_of(capsys, pump, "status", "--timeout", 0.3)
    assert rc == 1 and "no answer to status" in line and "check the cable" in line

"""host_tools: pumpctl and the Python API for bench engineers, HIL rigs and researchers."""

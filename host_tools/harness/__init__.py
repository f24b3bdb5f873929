"""What both board harnesses share: the Python side (served.py, ptybridge.py) and the
JavaScript side (control.mjs, fanout.mjs, balance.mjs)."""

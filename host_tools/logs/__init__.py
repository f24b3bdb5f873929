"""Log analysis: capture files to tables and figures. The researcher's API is this package:

    from host_tools import logs
    log = logs.load("captures/")       # one capture file or a folder of them
    table = logs.summary(log)          # one row per infusion

Its names (load, summary, cohort, compare, Log, ...) live in host_tools/logs/api.py and are
imported, with pandas, on first use: `pumpctl capture`, which only writes capture files
(capfile), starts without paying for pandas."""

import importlib
import importlib.util


def __getattr__(name):
    if importlib.util.find_spec(__name__ + "." + name) is not None:
        return importlib.import_module(__name__ + "." + name)  # a module of this package
    api = importlib.import_module(__name__ + ".api")
    try:
        return getattr(api, name)
    except AttributeError:
        raise AttributeError("module %r has no attribute %r" % (__name__, name)) from None


def __dir__():
    return sorted(set(globals()) | set(dir(importlib.import_module(__name__ + ".api"))))

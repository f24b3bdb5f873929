"""What `pumpctl flash` asks the board before and after copying (its chip, a sha256 of each
file, run in the raw REPL), and the progress bar per file it shows meanwhile."""

import hashlib
import sys

# Run on the board in the raw REPL: its chip, then path -> sha256 of each file (- if absent).
FAMILY = "import sys,os\nprint(sys.platform, os.uname().machine)"
_HASHES = """import binascii
try:
    import hashlib
except ImportError:
    hashlib = None
def _h(p):
    if hashlib is None:
        return '?'
    try:
        f = open(p, 'rb')
    except OSError:
        return '-'
    d = hashlib.sha256()
    while True:
        b = f.read(512)
        if not b:
            break
        d.update(b)
    f.close()
    return binascii.hexlify(d.digest()).decode()
for _p in %r:
    print(_p, _h(_p))
"""


def board_hashes(transport, paths):
    """{device path: sha256 hex, "-" absent, "?" the board cannot hash}."""
    out = {}
    for line in transport.exec(_HASHES % (list(paths),)).splitlines():
        words = line.split()
        if len(words) == 2:
            out[words[0]] = words[1]
    return out


def sha256(data):
    return hashlib.sha256(data).hexdigest()



class Bars:
    """A progress bar per file (tqdm): bytes, rate and time, on stderr."""

    def __init__(self, out=None):
        self.out = out or sys.stderr

    def __call__(self, path, size):
        from tqdm import tqdm

        bar = tqdm(total=size, desc=path, unit="B", unit_scale=True, file=self.out,
                   leave=True, dynamic_ncols=True, mininterval=0.2)

        def advance(done, total):
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        return advance

# The power-loss journal: atomic replace, checksum, cut-short writes (both lanes).
import os

from fwtest import raises

from pumpfw.journal import Journal, JournalError, decode, encode

_n = [0]


def fresh_dir():
    _n[0] += 1
    root = "/tmp/journal_test_%d_%d" % (os.getpid() if hasattr(os, "getpid") else 0, _n[0])
    j = Journal(root)
    j.erase()
    return root, j


def test_missing_journal_loads_as_none():
    _, j = fresh_dir()
    assert j.load() is None


def test_save_then_load_round_trips_and_counts_sequence():
    root, j = fresh_dir()
    j.save({"snap": [1, 2, 3], "steps": 123456})
    j.save({"snap": [4, 5, 6], "steps": 654321})
    k = Journal(root)
    rec = k.load()
    assert rec["snap"] == [4, 5, 6] and rec["steps"] == 654321 and rec["seq"] == 2
    k.save({"steps": 1})
    assert Journal(root).load()["seq"] == 3


def test_every_single_byte_corruption_is_detected():
    data = encode({"snap": [1, 2, 3], "steps": 99})
    for i in range(len(data) - 1):
        bad = bytearray(data)
        bad[i] ^= 0x04
        try:
            decode(bytes(bad))
        except JournalError:
            continue
        raise AssertionError("corruption at byte %d not detected" % i)


def test_truncated_and_garbage_journals_are_errors():
    data = encode({"steps": 5})
    for cut in (0, 1, len(data) // 2, len(data) - 10):
        raises(JournalError, decode, data[:cut])
    raises(JournalError, decode, b"\x00\xff garbage\n12345678\n")


def test_a_write_cut_before_the_rename_keeps_the_old_record():
    root, j = fresh_dir()
    j.save({"steps": 10})
    with open(j.tmp_path, "wb") as f:
        f.write(encode({"steps": 20})[:7])  # the cut: half a temp file, never renamed
    k = Journal(root)
    assert k.load()["steps"] == 10
    assert "journal.tmp" not in os.listdir(root)


def test_a_corrupt_journal_file_raises_on_load():
    root, j = fresh_dir()
    j.save({"steps": 10})
    with open(j.path, "r+b") as f:
        f.seek(3)
        f.write(b"#")
    raises(JournalError, Journal(root).load)


def test_a_filesystem_that_commits_at_close_is_rewritten_in_place_without_a_temp_file():
    root, _ = fresh_dir()
    j = Journal(root, replace_in_place=True)
    names = []
    real_open = open

    def watching_open(path, mode="r"):
        names.append(path)
        return real_open(path, mode)

    import builtins

    builtins.open = watching_open
    try:
        j.save({"steps": 1})
        j.save({"steps": 2})
    finally:
        builtins.open = real_open
    assert names == [j.path, j.path]  # no temp file, no rename: littlefs commits at close
    assert Journal(root).load()["steps"] == 2

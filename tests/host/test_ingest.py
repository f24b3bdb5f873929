"""The vectorised capture reader gives exactly what the line-by-line reader gives, on damaged and
odd captures too; text columns stay text when empty; Parquet keeps every type."""

import random

import pandas as pd
import pytest
from capkit import HOST_NS0, MIN, VirtualDevice, corrupt

from host_tools import logs
from host_tools.logs import capfile, ingest, linetable
from pumpfw import preview
from pumpfw import protocol as P


def device_lines():
    dev = VirtualDevice(interval_ms=MIN // 4)
    dev.hello()
    dev.infusion(1, [(45 * MIN, preview.IR, 2), (65 * MIN, preview.RESOLVED, 0)])
    dev.infusion(3, [(10 * MIN, preview.PAUSE, 0), (12 * MIN, preview.RESUME, 0)])
    return [raw for _, raw in dev.lines]


ODD_RECORDS = [  # each framed correctly: only the fields are unusual
    "rec t_ms=5 inf=1 st=5 rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0 remain_ul=0"
    " drop=0",  # a state that reads as a number
    "rec t_ms=+5 inf=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0"
    " remain_ul=0 drop=0",  # a sign the decoder does not take as a number
    "rec t_ms=1234567890123 inf=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0"
    " elapsed_ms=0 remain_ul=0 drop=0",  # 13 digits stay text
    "rec t_ms inf=1=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0"
    " remain_ul=0 drop=0",  # a word without '=' and one with two
    "rec t_ms=-7 inf=1 st=a*b rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0"
    " remain_ul=0 drop=0",  # a negative number and a '*' inside a value
    "rec t_ms=1 inf=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0"
    " remain_ul=0 drop=0 extra=1",  # a field a newer firmware adds
    "rec inf=1 t_ms=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0"
    " remain_ul=0 drop=0",  # fields in another order
]


NUMBERS_ONLY = [  # odd lines whose values all read as numbers: the typed fast path sees them
    "rec t_mz=5 inf=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0"
    " remain_ul=0 drop=0",  # a misspelt key
    "rec t_ms 5 inf=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0"
    " remain_ul=0 drop=0",  # a space where the '=' goes
    "rec t_ms=007 inf=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0 elapsed_ms=0"
    " remain_ul=0 drop=0",  # leading zeros
    "rec t_ms=0000000000001 inf=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0"
    " elapsed_ms=0 remain_ul=0 drop=0",  # 13 characters: text to the decoder
    "rec t_ms=1234567890123 inf=1 st=idle rate_ul_h=0 vol_ul=0 steps=0 infusing_ms=0"
    " elapsed_ms=0 remain_ul=0 drop=0",  # 13 digits: text to the decoder
]


def damaged(rng, lines, odd=ODD_RECORDS):
    out = []
    for raw in lines:
        roll = rng.random()
        if roll < 0.03:
            out.append(corrupt(raw))
        elif roll < 0.05:
            out.append(raw[: rng.randint(1, len(raw) - 1)])  # cut short, no end of line
        elif roll < 0.07:
            continue  # lost: a sequence gap
        elif roll < 0.08:
            out.append(raw.replace(b"\r\n", b"\n"))  # LF only
        elif roll < 0.09:
            out.append(b"\x00\xffnoise\t" + raw)  # bytes a capture escapes
        else:
            out.append(raw)
    k = rng.randint(0, len(out) - 2)
    out[k], out[k + 1] = out[k + 1], out[k]  # one pair out of order
    seq = 900_000
    for body in odd:
        out.insert(rng.randint(0, len(out)), P.frame(seq, body))
        seq += 1
    return out


def write(path, lines, rng):
    with capfile.CaptureWriter(path, port="virtual", host_ns=HOST_NS0) as w:
        for i, raw in enumerate(lines):
            if rng.random() < 0.01:
                w.mark("gap", HOST_NS0 + i, "usb")
            w.line(raw, HOST_NS0 + i * 10**6)
    with open(path, "a", encoding="ascii") as f:
        f.write("123\tnot\\qescaped\n\n# a comment\nnotanumber\tx\n")  # lines not in the format
        f.write("99\t5 rec t_ms=1*0000\\x41\\r\\n\n")  # a needless escape
    return path


def frames(source, data, fast):
    part = (ingest.read if fast else ingest.read_slow)(source, data)
    return part, linetable.lines_frame(part)


@pytest.mark.parametrize("seed", range(6))
def test_fast_and_line_by_line_readers_agree(tmp_path, seed):
    rng = random.Random(seed)
    odd = NUMBERS_ONLY if seed % 2 else ODD_RECORDS
    path = write(tmp_path / "d.cap", damaged(rng, device_lines(), odd), rng)
    data = path.read_bytes()
    fast_part, fast_lines = frames(str(path), data, True)
    slow_part, slow_lines = frames(str(path), data, False)
    assert fast_part.records is not None and len(fast_part.records) > 100  # the fast path ran
    pd.testing.assert_frame_equal(fast_lines, slow_lines)
    fast_log = logs.Log([fast_part], [str(path)])
    slow_log = logs.Log([slow_part], [str(path)])
    for name in ("records", "events", "messages"):
        pd.testing.assert_frame_equal(getattr(fast_log, name), getattr(slow_log, name))
    counts = fast_log.integrity().iloc[0]
    assert counts["corrupted"] > 0 and counts["seq_gaps"] > 0 and counts["reordered"] >= 1
    decoded_odd = set(fast_log.records["seq"]) & set(range(900_000, 900_000 + len(odd)))
    assert decoded_odd  # some odd lines are records all the same (decoded one by one)


def test_text_columns_stay_text_when_empty_and_parquet_keeps_the_types(tmp_path):
    dev = VirtualDevice()
    dev.hello()
    dev.infusion(3)
    path = tmp_path / "plain.cap"
    with capfile.CaptureWriter(path, port="virtual", host_ns=HOST_NS0) as w:
        for t_ms, raw in dev.lines:
            w.line(raw, HOST_NS0 + t_ms * 10**6)
    log = logs.load(path)
    for column in ("what", "cause", "press", "event"):
        assert log.events[column].dtype == "str", column  # no alarm in this log: still text
    assert log.records["st"].dtype == "str" and str(log.records["vol_ul"].dtype) == "Int64"
    assert str(log.lines["seq"].dtype) == "Int64" and log.lines["raw"].dtype == "str"
    log.events.to_parquet(tmp_path / "e.parquet")
    back = pd.read_parquet(tmp_path / "e.parquet")
    assert dict(back.dtypes.astype(str)) == dict(log.events.dtypes.astype(str))


def test_a_capture_of_one_subject_refuses_another(tmp_path):
    path = tmp_path / "s.cap"
    capfile.CaptureWriter(path, port="a0", host_ns=HOST_NS0, subject="P-01").close()
    capfile.CaptureWriter(path, port="a0", host_ns=HOST_NS0, subject="P-01").close()  # same
    before = path.read_bytes()
    with pytest.raises(capfile.UserError, match="subject P-01, not P-02"):
        capfile.CaptureWriter(path, port="a0", host_ns=HOST_NS0, subject="P-02")
    with pytest.raises(capfile.UserError, match="letters, digits"):
        capfile.CaptureWriter(tmp_path / "t.cap", subject="Jane Doe")
    assert path.read_bytes() == before and not (tmp_path / "t.cap").exists()
    assert logs.load(path).subjects == {str(path): "P-01"}


def test_span_helpers_against_python():
    import numpy as np

    from host_tools.logs import spans

    texts = [b"1800000000000001000", b"9223372036854775807", b"9223372036854775808",
             b"0000000000000000042", b"18000000000000O1000", b"7", b"", b"12345678901234567890",
             b"-5"]
    data = b" ".join(texts) + b" " * 9
    buf = np.frombuffer(data, np.uint8)
    starts, at = [], 0
    for t in texts:
        starts.append(at)
        at += len(t) + 1
    starts = np.array(starts)
    ends = starts + np.array([len(t) for t in texts])
    values, ok = spans.digits(buf, starts, ends, 19)
    for t, v, good in zip(texts, values.tolist(), ok.tolist(), strict=True):
        want = t.isdigit() and len(t) <= 19 and int(t) < 2**63
        assert good == want, t
        if want:
            assert v == int(t), t
    assert spans.first_of(buf, starts, 25, ord(" ")).tolist() == ends.tolist()
    tail = np.frombuffer(b"abc rec", np.uint8)
    assert spans.bytes_at(tail, np.array([4, 3, 5]), b"rec").tolist() == [True, False, False]

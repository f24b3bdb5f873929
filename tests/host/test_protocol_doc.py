"""docs/protocol.md matches protocol.py: everything the module defines is documented there."""

import re
from pathlib import Path

from pumpfw import protocol as P

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
# Names written as `name` in the prose and tables (code blocks left out).
TICKED = set(re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", DOC, flags=re.S)))


def test_every_command_is_in_the_table_with_its_arguments_and_form():
    rows = {}
    for line in DOC.splitlines():
        m = re.match(r"\| `(\w+)` \|([^|]*)\|([^|]*)\|([^|]*)\|", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(4).strip())
    forms = {P.F_DIRECT: "direct", P.F_CONFIRM: "confirm", P.F_TWO_STEP: "two-step"}
    for name, args, _states, flags, _handler, _help in P.COMMANDS:
        assert name in rows, "command %s is not in docs/protocol.md" % name
        arg_text, form = rows[name]
        assert form == forms[flags], (name, form)
        for arg_name, lo, hi, base in args:
            assert "`%s`" % arg_name in arg_text, (name, arg_name)
            if base == 10:
                assert "%d..%d" % (lo, hi) in arg_text.replace("_", ""), (name, arg_text)


def test_every_message_field_event_and_reason_is_documented():
    names = (
        list(P.MESSAGES) + list(P.HELLO_FIELDS) + list(P.RECORD_FIELDS) + list(P.EVENTS)
        + list(P.PROGRAM_FIELDS) + list(P.PHASE_NAMES)
        + list(P.REASONS[1:]) + list(P.RESET_CAUSES) + ["unknown"]
    )  # fmt: skip
    for name in names:
        assert name in TICKED, "%s is not documented (as `%s`)" % (name, name)
    events = DOC[DOC.index("**events**") : DOC.index("**reasons**")]
    for name in P.EVENTS:
        rows = [ln for ln in events.splitlines() if ln.startswith("| `%s` |" % name)]
        assert len(rows) == 1, "event %s has no row" % name
        for field in P.EVENTS[name][1:]:
            if field:
                assert "`%s`" % field in rows[0], (name, field)
    for reason in P.REASONS[1:]:
        assert "`%s` (" % reason in DOC, "reason %s is not explained" % reason


def test_constants_quoted_in_the_doc_are_the_real_ones():
    assert "version %d" % P.PROTO_VERSION in DOC
    assert "`MAX_LINE_BYTES` = %d" % P.MAX_LINE_BYTES in DOC
    assert "1 000 000" in DOC and P.SEQ_MOD == 1_000_000
    assert "(%d s)" % (P.CONFIRM_TTL_MS // 1000) in DOC


def test_example_lines_carry_correct_checksums():
    examples = re.findall(r"^(\d+ [^`\n]*\*[0-9A-F]{4})$", DOC, re.M)
    examples += re.findall(r"`(\d+ [^`]*\*[0-9A-F]{4})`", DOC)
    assert len(examples) >= 3
    for line in examples:
        body, crc = line.rsplit("*", 1)
        assert P.crc16(body.encode()) == int(crc, 16), line
        if " ask " in line or " rec " in line:
            P.parse_line(line.encode())
        else:
            assert P.parse_command(line.encode()).error == P.E_OK, line

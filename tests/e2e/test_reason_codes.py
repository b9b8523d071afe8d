"""Every DLQ reason code of docs/dlq.md, produced by the real binary that owns it.

The list of codes is read from the table in docs/dlq.md ("## Reason codes") and checked against
`envelope-check --list-reasons`. Each documented code then gets one test that feeds a real binary an input
that must yield exactly that code (envelope-check for the envelope codes, silver-validate for the Silver
codes, eh-source for a damaged Capture file, dlq-sink for a line that is not a DLQ record) and asserts the DLQ
record. A code that is documented but has no trigger here, or a code a binary emits that is not documented,
fails a test.
"""
import json
import re

import pytest

from conftest import ROOT, binary, envelope, line, read_ndjson, run, summary, table_rows


def documented_reasons() -> dict:
    """{code: meaning} from the table under '## Reason codes' in docs/dlq.md, in table order."""
    text = (ROOT / "docs" / "dlq.md").read_text()
    section = text.split("\n## Reason codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (.+?) \|$", section, re.M)
    codes = [code for code, _ in rows]
    assert len(codes) == len(set(codes)), f"a code is listed twice in docs/dlq.md: {codes}"
    return dict(rows)


DOCUMENTED = documented_reasons()


def test_the_docs_table_and_list_reasons_agree():
    assert len(DOCUMENTED) >= 20, DOCUMENTED  # the parse found the table
    status, out, err = run([binary("envelope-check"), "--list-reasons"])
    assert status == 0, err
    listed = [tuple(l.split("\t", 1)) for l in out.decode().splitlines()]
    assert listed == list(DOCUMENTED.items())  # same codes, same order, same meaning


# ---------------------------------------------------------------- triggers

def one_run_of_envelope_check(tmp_path, bad: bytes, *flags):
    """envelope-check over one bad line and one valid line: the valid line passes, the bad one is the only reject."""
    good = line(envelope(event_id="e-good"))
    dlq = tmp_path / "envelope-check.dlq.ndjson"
    status, out, err = run([binary("envelope-check"), *(flags or ("--tenant", "acme")), "--dlq", str(dlq)], bad + b"\n" + good)
    assert status == 0, err
    assert out == good
    records = read_ndjson(dlq)
    for r in records:
        assert r["line"] == 1 and r["raw_length"] == len(bad)
        if r["raw_truncated"]:
            assert bad.startswith(r["raw"].encode())
        elif "raw" in r:
            assert r["raw"].encode() == bad
    s = summary(err)
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (2, 1, len(records))
    return records


def raw(**changes) -> bytes:
    return line(envelope(**changes))[:-1]


# What each envelope code needs (docs/envelope.md, docs/dlq.md); flags default to --tenant acme.
ENVELOPE_CASES = {
    "line_too_long": (b'{"payload":"' + b"x" * 5000 + b'"}', ("--tenant", "acme", "--max-line-bytes", "1024")),
    "invalid_utf8": (raw(site_id="s-@@").replace(b"@@", b"\xff\xfe"), ()),
    "invalid_json": (raw()[:-20], ()),
    "too_deep": (raw(payload={"a": 1}).replace(b'{"a":1}', b"[" * 600 + b"]" * 600), ()),
    "not_an_object": (b'"a string"', ()),
    "duplicate_field": (raw().replace(b'"site_id"', b'"tenant_id":"globex","site_id"'), ()),
    "missing_field": (raw(ingest_time_utc=None), ()),
    "unknown_field": (raw(tenantId="acme"), ()),
    "wrong_type": (raw(payload=[1, 2]), ()),
    "empty_field": (raw(device_type=""), ()),
    "field_too_long": (raw(event_id="e" * 257), ()),
    "unsafe_id": (raw(event_type="../../etc"), ()),
    "bad_timestamp": (raw(ingest_time_utc="2026-02-29T12:00:00Z"), ()),  # 2026 is not a leap year
    "timestamp_not_utc": (raw(event_time_utc="2026-03-01T12:00:00-05:00"), ()),
    "bad_schema_version": (raw(schema_version="1"), ()),
    "unknown_tenant": (raw(tenant_id="initech"), ("--tenants", "acme,globex")),
    "tenant_mismatch": (raw(tenant_id="globex"), ()),
    "unknown_event_type": (raw(event_type="door.access"), ("--tenant", "acme", "--event-types", "thermostat.telemetry")),
}


def envelope_trigger(code):
    bad, flags = ENVELOPE_CASES[code]
    return lambda tmp_path: ("envelope-check", one_run_of_envelope_check(tmp_path, bad, *flags))


def silver_trigger(recs_of):
    """silver-validate (bundled configuration tree, acme, thermostat.telemetry) over the records `recs_of()` gives."""
    def trigger(tmp_path):
        from test_silver import THERMO, ndjson, silver  # the Silver helpers, imported only when needed
        res = silver(tmp_path / "lake", ndjson(recs_of()), "--event-types", THERMO)
        assert res.status == 0, res.err
        assert res.ids() == ["th-0"]  # the valid record goes on
        return "silver-validate", res.dlq
    return trigger


def thermo(*args, **kw):
    from test_silver import thermo as make
    return make(*args, **kw)


def corrupt_capture_block(tmp_path):
    """eh-source --capture-dir over an Avro Capture file whose second block is damaged (as in test_eh_source.py)."""
    from test_eh_source import capture_records, plain_events, write_capture
    recs = plain_events(60, 1)
    path = write_capture(tmp_path / "capture", 0, 0, capture_records(0, 0, [line(r)[:-1] for r in recs], 0), "deflate", 2000)
    data = bytearray(path.read_bytes())
    sync = bytes(data[-16:])  # the file's sync marker ends every block
    marks, at = [], data.find(sync)
    while at >= 0:
        marks.append(at)
        at = data.find(sync, at + 16)
    assert len(marks) >= 4
    mid = (marks[1] + 16 + marks[2]) // 2
    data[mid:mid + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    dlq = tmp_path / "eh-source.dlq.ndjson"
    status, out, err = run([binary("eh-source"), "--capture-dir", str(tmp_path / "capture"), "--dlq", str(dlq)])
    assert status == 0, err
    assert 0 < len(out.splitlines()) < 60  # the other blocks are read
    return "eh-source", read_ndjson(dlq)


def not_a_dlq_record(tmp_path):
    """dlq-sink stores a line that is not a DLQ record wrapped in one; the record is a row of the DLQ table."""
    src = tmp_path / "stage.dlq.ndjson"
    src.write_bytes(b"this is not a DLQ record\n")
    status, out, err = run([binary("dlq-sink"), "--lake", str(tmp_path / "lake"), "--input", str(src)])
    assert status == 0, err
    rows = table_rows(tmp_path / "lake" / "dlq" / "events")
    assert [r["raw"] for r in rows] == ["this is not a DLQ record"]
    return "dlq-sink", rows


TRIGGERS = {code: envelope_trigger(code) for code in ENVELOPE_CASES}
TRIGGERS.update({
    "not_a_dlq_record": not_a_dlq_record,
    "corrupt_capture_block": corrupt_capture_block,
    "unknown_schema_version": silver_trigger(lambda: [thermo(0), thermo(1, schema_version="1.9")]),
    "schema_violation": silver_trigger(lambda: [thermo(0), thermo(1, {"humidity": 101.0})]),
    "rule_failed": silver_trigger(lambda: [thermo(0), thermo(1, {"temperature": 151.0})]),  # temperature_plausible: max 150
    "duplicate_event": silver_trigger(lambda: [thermo(0), thermo(1, event_id="th-0")]),  # event_id_unique, 24 h
})


def test_every_documented_code_has_a_trigger_and_every_trigger_a_documented_code():
    assert sorted(TRIGGERS) == sorted(DOCUMENTED)


@pytest.mark.parametrize("code", list(DOCUMENTED))
def test_a_real_binary_produces_the_documented_code(tmp_path, code):
    if code not in TRIGGERS:
        pytest.fail(f"{code} is documented in docs/dlq.md but no input here produces it")
    stage, records = TRIGGERS[code](tmp_path)
    reasons = [r["reason"] for r in records]
    assert set(reasons) <= set(DOCUMENTED), f"undocumented reason code(s): {set(reasons) - set(DOCUMENTED)}"
    assert reasons == [code], records
    [rec] = records
    assert rec["stage"] == stage and rec["message"], rec
    assert rec.get("dlq_version", 1) == 1


def test_no_binary_emits_an_undocumented_code_on_every_kind_of_generated_bad_line(tmp_path):
    """The generator's bad kinds, through envelope-check and then silver-validate: every reason is documented."""
    from test_silver import silver
    status, events, err = run([binary("medallion"), "generate", "--count", "3000", "--seed", "11", "--bad-rate", "0.3",
                               "--oversized-bytes", "4096", "--deep-nesting", "600"])
    assert status == 0, err
    dlq = tmp_path / "envelope-check.dlq.ndjson"
    status, valid, err = run([binary("envelope-check"), "--tenants", "acme,globex,initech", "--max-line-bytes", "2048",
                              "--dlq", str(dlq)], events)
    assert status == 0, err
    seen = {r["reason"] for r in read_ndjson(dlq)}
    assert len(seen) >= 12, seen  # the generator's bad kinds map to many codes
    assert seen <= set(DOCUMENTED), f"undocumented: {seen - set(DOCUMENTED)}"
    acme = b"".join(l + b"\n" for l in valid.splitlines() if json.loads(l)["tenant_id"] == "acme")
    res = silver(tmp_path / "lake", acme)
    assert res.status == 0, res.err
    seen = {r["reason"] for r in res.dlq}
    assert seen <= set(DOCUMENTED), f"undocumented: {seen - set(DOCUMENTED)}"

"""envelope-check as a user runs it: real processes, pipes, FIFOs, signals."""
import base64
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import binary, envelope, line, read_ndjson, run, summary

CHECK = ["--tenant", "acme"]


def test_valid_lines_pass_through_byte_identical(tmp_path):
    # Unusual but valid spellings must survive untouched: spacing, escapes, key order, numbers.
    lines = [
        line(envelope()),
        b'{ "tenant_id" : "acme", "site_id":"s\\u002d1","device_id":"d","device_type":"t","event_type":"x.y",'
        b'"event_id":"\xc3\xa9v\xe2\x82\xac","event_time_utc":"2026-03-01T12:00:00.123456789Z",'
        b'"ingest_time_utc":"2026-03-01t12:00:01+00:00","schema_version":"10.2","source_system":"s",'
        b'"payload":{"n":-1.5e+300,"deep":[[[{"a":null}]]],"s":"\\ud834\\udd1e"},"_source":{"o":1}}\n',
        line(envelope(attributes=None, event_id="e-2")),
    ]
    data = b"".join(lines)
    status, out, err = run([binary("envelope-check"), *CHECK, "--dlq", str(tmp_path / "dlq")], data)
    assert status == 0, err
    assert out == data
    s = summary(err)
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (3, 3, 0)


def test_crlf_is_stripped_and_a_last_line_without_newline_is_kept(tmp_path):
    a, b = line(envelope())[:-1], line(envelope(event_id="e-2"))[:-1]
    status, out, err = run([binary("envelope-check"), *CHECK, "--dlq", str(tmp_path / "dlq")], a + b"\r\n" + b)
    assert status == 0, err
    assert out == a + b"\n" + b + b"\n"


def hostile_input():
    """Each hostile line with the reason it must produce."""
    return [
        (os.urandom(3000).replace(b"\n", b"x"), None),  # binary garbage: invalid_utf8 or invalid_json
        (b'{"payload":"' + b"x" * (10 << 20) + b'"}', "line_too_long"),
        (b'{"payload":' + b"[" * 10_000 + b"]" * 10_000 + b"}", "too_deep"),
        (line(envelope(tenant_id="../../etc"))[:-1], "unsafe_id"),
        (line(envelope(site_id="s-1"))[:-1].replace(b"s-1", b"s-\xff\xfe"), "invalid_utf8"),
        (line(envelope())[:-30], "invalid_json"),
        (b"", "invalid_json"),
        (b"[1,2,3]", "not_an_object"),
        (line(envelope(event_time_utc="2026-13-01T00:00:00Z"))[:-1], "bad_timestamp"),
        (line(envelope(event_time_utc="2026-02-30T00:00:00Z"))[:-1], "bad_timestamp"),
        (line(envelope(event_time_utc="2026-03-01T12:00:00+02:00"))[:-1], "timestamp_not_utc"),
        (line(envelope(event_id=7))[:-1], "wrong_type"),
        (line(envelope(tenant_id="globex"))[:-1], "tenant_mismatch"),
        (line(envelope())[:-1].replace(b'"site_id"', b'"tenant_id":"globex","site_id"'), "duplicate_field"),
    ]


def test_hostile_input_becomes_dlq_records_and_never_crashes(tmp_path):
    cases = hostile_input()
    good = line(envelope())
    # Interleave a good line after each hostile one; the truncated last line has no newline.
    data = b"".join(bad + b"\n" + good for bad, _ in cases) + line(envelope())[:-40]
    dlq = tmp_path / "dlq.ndjson"
    status, out, err = run([binary("envelope-check"), *CHECK, "--dlq", str(dlq)], data)
    assert status == 0, err
    assert out == good * len(cases)
    records = read_ndjson(dlq)
    assert len(records) == len(cases) + 1
    for (raw, expected), rec in zip(cases, records):
        if expected:
            assert rec["reason"] == expected, rec["message"]
        else:
            assert rec["reason"] in ("invalid_utf8", "invalid_json")
        assert rec["stage"] == "envelope-check" and rec["message"]
        if rec["raw_truncated"]:
            assert rec["raw_length"] == len(raw) and len(rec["raw"]) == 4096
            assert raw.startswith(rec["raw"].encode())
        elif "raw" in rec:
            assert rec["raw"].encode() == raw
        else:
            assert base64.b64decode(rec["raw_base64"]) == raw
    assert records[-1]["reason"] == "invalid_json"  # the truncated last line
    s = summary(err)
    assert s["rows_in"] == s["rows_out"] + s["rows_dlq"] == 2 * len(cases) + 1


def test_the_dlq_defaults_to_a_file_named_in_the_summary(tmp_path):
    status, out, err = run([binary("envelope-check"), *CHECK], b"nope\n" + line(envelope()), cwd=tmp_path)
    assert status == 0
    s = summary(err)
    assert s["dlq"] == "envelope-check.dlq.ndjson"
    assert read_ndjson(tmp_path / "envelope-check.dlq.ndjson")[0]["reason"] == "invalid_json"


def test_no_dlq_file_is_created_when_nothing_is_rejected(tmp_path):
    status, _, err = run([binary("envelope-check"), *CHECK], line(envelope()), cwd=tmp_path)
    assert status == 0
    assert not (tmp_path / "envelope-check.dlq.ndjson").exists()
    assert summary(err)["dlq"] == ""


def test_unknown_tenants_and_event_types_from_flags(tmp_path):
    data = line(envelope(tenant_id="initech")) + line(envelope(event_type="door.access")) + line(envelope())
    dlq = tmp_path / "d"
    status, out, err = run([binary("envelope-check"), "--tenants", "acme,globex", "--event-types",
                            "thermostat.telemetry", "--dlq", str(dlq)], data)
    assert status == 0
    assert [r["reason"] for r in read_ndjson(dlq)] == ["unknown_tenant", "unknown_event_type"]
    assert out == line(envelope())


def test_dlq_record_carries_source_tenant_and_event_type(tmp_path):
    rec = envelope(event_time_utc="2026-13-01T00:00:00Z")
    rec["_source"] = {"source": "gen:1", "partition": 2, "offset": 41}
    dlq = tmp_path / "d"
    run([binary("envelope-check"), *CHECK, "--dlq", str(dlq)], b"\n" + line(rec))
    got = read_ndjson(dlq)[1]
    assert got["source"] == rec["_source"]
    assert (got["tenant_id"], got["event_type"], got["field"], got["line"]) == ("acme", "thermostat.telemetry", "event_time_utc", 2)


def test_reads_zstd_compressed_input(tmp_path):
    data = line(envelope()) * 1000
    path = tmp_path / "capture.ndjson"
    path.write_bytes(data)
    subprocess.run(["zstd", "-q", str(path)], check=True)
    status, out, err = run([binary("envelope-check"), *CHECK, "--input", str(path) + ".zst", "--dlq", str(tmp_path / "d")])
    assert status == 0, err
    assert out == data


def test_missing_input_exits_66_naming_the_path(tmp_path):
    status, _, err = run([binary("envelope-check"), *CHECK, "--input", str(tmp_path / "nope.ndjson")])
    assert status == 66
    assert "nope.ndjson" in err


def test_usage_errors_exit_64():
    status, _, err = run([binary("envelope-check")])
    assert status == 64
    assert "--tenant" in err
    status, _, _ = run([binary("envelope-check"), "--tenant", "../x"])
    assert status == 64


def test_help_documents_the_default_dlq_location():
    status, out, _ = run([binary("envelope-check"), "--help"])
    assert status == 0
    assert b"envelope-check.dlq.ndjson" in out or b"<stage>.dlq.ndjson" in out


def test_closed_downstream_pipe_exits_74_and_says_so_once(tmp_path):
    data = line(envelope()) * 200_000
    src = tmp_path / "in.ndjson"
    src.write_bytes(data)
    proc = subprocess.Popen([binary("envelope-check"), *CHECK, "--input", str(src), "--dlq", str(tmp_path / "d")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)
    proc.stdout.close()  # the reader goes away
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 74
    err = err.decode()
    assert err.count("broken_pipe") >= 1
    s = summary(err)
    assert s["status"] == "broken_pipe"
    assert s["rows_out"] < 200_000 and s["rows_undelivered"] > 0
    assert s["rows_in"] == s["rows_out"] + s["rows_dlq"] + s["rows_undelivered"]


def test_sigterm_flushes_what_was_read_and_exits_0(tmp_path):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    out_path = tmp_path / "out.ndjson"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([binary("envelope-check"), *CHECK, "--input", str(fifo), "--dlq", str(tmp_path / "d")],
                                stdout=out, stderr=subprocess.PIPE)
        writer = open(fifo, "wb")
        writer.write(line(envelope()) * 10)
        writer.flush()
        # The stage flushes before it blocks on the idle FIFO: the lines arrive without EOF.
        deadline = time.time() + 20
        while out_path.stat().st_size < len(line(envelope())) * 10 and time.time() < deadline:
            time.sleep(0.05)
        assert out_path.stat().st_size == len(line(envelope())) * 10
        proc.send_signal(signal.SIGTERM)  # while blocked in read(2) on an open, idle FIFO
        _, err = proc.communicate(timeout=20)
        writer.close()
    assert proc.returncode == 0, err
    s = summary(err.decode())
    assert s["status"] == "stopped" and s["rows_out"] == 10


def test_dlq_to_a_fifo_reader_sees_every_record_and_eof(tmp_path):
    fifo = tmp_path / "dlq.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    data = b"bad\n" * 500 + line(envelope())
    status, out, err = run([binary("envelope-check"), *CHECK, "--dlq", str(fifo)], data)
    got, _ = reader.communicate(timeout=20)
    assert status == 0, err
    assert len([json.loads(x) for x in got.splitlines()]) == 500


def test_line_buffered_output_arrives_line_by_line_while_input_stays_open(tmp_path):
    proc = subprocess.Popen([binary("envelope-check"), *CHECK, "--line-buffered", "--dlq", str(tmp_path / "d")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for i in range(3):
        rec = line(envelope(event_id=f"e-{i}"))
        proc.stdin.write(rec)
        proc.stdin.flush()
        assert proc.stdout.readline() == rec  # arrives before the next line is even sent
    proc.stdin.close()
    proc.wait(timeout=20)
    assert proc.returncode == 0

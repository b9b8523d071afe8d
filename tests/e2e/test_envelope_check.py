"""envelope-check as a user runs it: real processes, pipes, FIFOs, signals."""
import base64
import json
import os
import signal
import subprocess
import threading
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


@pytest.mark.parametrize("threads", ["2", "3"])
def test_checking_on_several_threads_gives_exactly_the_sequential_output_dlq_and_counts(tmp_path, threads):
    """Big batches are checked on several threads; the output, the DLQ records (in order) and the summary
    must be what one thread gives. Every kind of bad line, CRLF lines and marks are mixed in."""
    status, data, err = run([binary("medallion"), "generate", "--count", "60000", "--seed", "9", "--bad-rate", "0.05"])
    assert status == 0, err
    lines = data.split(b"\n")
    mark = b'{"_mark":{"source":"s","partition":0,"offset":7}}'
    for i in range(0, len(lines) - 1, 997):
        lines[i] = lines[i] + b"\r"          # CRLF: written without the CR
    lines.insert(1234, mark)
    data = b"\n".join(lines)
    results = []
    for n in ["1", threads]:
        dlq = tmp_path / f"dlq-{n}.ndjson"
        status, out, err = run([binary("envelope-check"), "--tenants", "acme,globex,initech", "--threads", n,
                                "--dlq", str(dlq)], data)
        assert status == 0, err
        s = summary(err)
        records = [json.loads(l) for l in dlq.read_bytes().splitlines()]
        for r in records:
            r.pop("time", None)
        results.append((out, records, {k: s[k] for k in ("rows_in", "rows_out", "rows_dlq", "marks", "bytes_in", "bytes_out")}))
    assert results[0][2]["rows_dlq"] > 1000 and results[0][2]["marks"] == 1
    assert results[1][0] == results[0][0]
    assert results[1][1] == results[0][1]
    assert results[1][2] == results[0][2]


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


def with_key(raw_key: bytes, value: bytes = b'"x"', rec=None) -> bytes:
    """A valid envelope line with one more top-level member, written exactly as given (before the newline)."""
    return line(rec or envelope())[:-2] + b"," + raw_key + b":" + value + b"}\n"


def rejected_alone(tmp_path, bad: bytes, *flags):
    """Runs envelope-check over `bad` followed by a valid line; returns the one DLQ record (the valid line passes)."""
    good = line(envelope(event_id="e-good"))
    dlq = tmp_path / "dlq.ndjson"
    status, out, err = run([binary("envelope-check"), *(flags or CHECK), "--dlq", str(dlq)], bad + good)
    assert status == 0, err
    assert out == good
    [rec] = read_ndjson(dlq)
    assert rec["stage"] == "envelope-check" and rec["line"] == 1 and rec["raw_truncated"] is False
    assert rec["raw"].encode() + b"\n" == bad and rec["raw_length"] == len(bad) - 1  # the raw line, byte for byte
    s = summary(err)
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (2, 1, 1)
    return rec


# docs/envelope.md: a top-level key that is neither an envelope field nor reserved ('_...') is unknown_field,
# usually a typo; the record names the key as it was meant (decoded when written with escapes).
@pytest.mark.parametrize("raw_key, field", [
    (b'"tenantId"', "tenantId"),
    (b'"Tenant_id"', "Tenant_id"),  # keys are case-sensitive
    (b'"tenant_id "', "tenant_id "),
    (b'"payload2"', "payload2"),
    (b'"x\\u00e9"', "x\u00e9"),  # an escaped key is decoded to name it
    (b'"_source\\u0031"', "_source1"),  # a reserved key must be written literally
])
def test_an_unknown_top_level_key_is_unknown_field_naming_it(tmp_path, raw_key, field):
    bad = with_key(raw_key)
    rec = rejected_alone(tmp_path, bad)
    assert (rec["reason"], rec["field"]) == ("unknown_field", field), rec
    assert (rec["tenant_id"], rec["event_type"]) == ("acme", "thermostat.telemetry")


def test_reserved_underscore_keys_are_carried_not_unknown(tmp_path):
    data = with_key(b'"_trace"', b'{"id":"t-1"}') + with_key(b'"_"', b"[1]")
    status, out, err = run([binary("envelope-check"), *CHECK, "--dlq", str(tmp_path / "d")], data)
    assert status == 0 and out == data, err
    assert summary(err)["rows_dlq"] == 0


# docs/envelope.md and dlq.md: site_id, device_id, device_type, event_id and source_system are non-blank strings;
# tenant_id and event_type must match [a-z0-9]...; the empty string or a value of only spaces is empty_field, the
# first check on an id or text field.
TEXT_FIELDS = ["tenant_id", "site_id", "device_id", "device_type", "event_type", "event_id", "source_system"]


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("value", ["", " ", "   "], ids=["empty", "one-space", "spaces"])
def test_an_empty_or_blank_id_or_text_field_is_empty_field(tmp_path, field, value):
    bad = line(envelope(**{field: value}))
    rec = rejected_alone(tmp_path, bad)
    assert (rec["reason"], rec["field"]) == ("empty_field", field), rec
    assert field in rec["message"]


# docs/envelope.md: at most 256 bytes (UTF-8 bytes, not characters, of the value as decoded).
LONG_FIELDS = ["site_id", "device_id", "device_type", "event_id", "source_system"]


def with_value(field: str, raw_json: bytes) -> bytes:
    """A valid envelope line whose `field` is written exactly as `raw_json` (a JSON string literal)."""
    return line(envelope(**{field: "@@value@@"})).replace(b'"@@value@@"', raw_json)


LONG = {  # value as written -> its length in bytes once decoded
    b'"' + b"x" * 257 + b'"': 257,
    '"{}x"'.format("\u00e9" * 128).encode(): 257,  # 129 characters
    '"{}"'.format("\u20ac" * 86).encode(): 258,  # 86 characters
    b'"' + b"\\u0078" * 257 + b'"': 257,  # escapes: 1542 bytes on the wire
}
FITS = [b'"' + b"x" * 256 + b'"', '"{}"'.format("\u00e9" * 128).encode(), b'"' + b"\\u0078" * 256 + b'"']


@pytest.mark.parametrize("field", LONG_FIELDS)
@pytest.mark.parametrize("raw_json", list(LONG), ids=["ascii", "two-byte", "three-byte", "escaped"])
def test_an_id_longer_than_256_bytes_is_field_too_long(tmp_path, field, raw_json):
    bad = with_value(field, raw_json)
    rec = rejected_alone(tmp_path, bad)
    assert (rec["reason"], rec["field"]) == ("field_too_long", field), rec
    assert f"{LONG[raw_json]} bytes" in rec["message"] and "256" in rec["message"], rec["message"]


@pytest.mark.parametrize("field", LONG_FIELDS)
def test_an_id_of_exactly_256_bytes_passes_byte_for_byte(tmp_path, field):
    data = b"".join(with_value(field, raw_json) for raw_json in FITS)
    status, out, err = run([binary("envelope-check"), *CHECK, "--dlq", str(tmp_path / "d")], data)
    assert status == 0, err
    assert out == data, read_ndjson(tmp_path / "d")


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


def stderr_json_lines(err: str) -> list:
    """Every stderr line parsed: stderr carries JSON lines only (docs/cli.md), so a line that is not JSON fails."""
    return [json.loads(l) for l in err.splitlines()]


# The reader takes `read` bytes, then goes away. The contract (docs/cli.md, exit 74): the stage stops, says so ONCE on
# stderr and never claims undelivered records were delivered. A line counts as delivered once the kernel accepted it,
# and the kernel cannot have accepted more than what the reader read plus what sat in the pipe when it closed.
@pytest.mark.parametrize("read", [0, 100, 300_000])
def test_closed_downstream_pipe_exits_74_and_says_so_once(tmp_path, read):
    import fcntl
    import select
    good, bad = line(envelope()), b"nope\n"
    data = b"".join(bad if i % 10 == 3 else good for i in range(200_000))
    src, dlq = tmp_path / "in.ndjson", tmp_path / "d"
    src.write_bytes(data)
    r, w = os.pipe()
    proc = subprocess.Popen([binary("envelope-check"), *CHECK, "--input", str(src), "--dlq", str(dlq)],
                            stdout=w, stderr=subprocess.PIPE)
    os.close(w)
    try:
        # Output has appeared, so the stage has set up (and grown) its end of the pipe before we measure it.
        assert select.select([r], [], [], 60)[0], "no output within 60 s"
        got = b""
        while len(got) < read:
            chunk = os.read(r, read - len(got))
            assert chunk, "stdout ended early"
            got += chunk
        capacity = fcntl.fcntl(r, fcntl.F_GETPIPE_SZ)
    finally:
        os.close(r)  # the reader goes away
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 74, err
    assert data.replace(bad, b"").startswith(got)
    diagnostics = stderr_json_lines(err.decode())
    assert [d["event"] for d in diagnostics].count("broken_pipe") == 1, diagnostics  # said once...
    assert [d["event"] for d in diagnostics if d["level"] == "error"] == ["broken_pipe", "summary"], diagnostics  # ...only
    [s] = [d for d in diagnostics if d["event"] == "summary"]
    assert s["status"] == "broken_pipe" and "EPIPE" in s["error"]
    assert s["rows_undelivered"] > 0
    assert s["rows_in"] == s["rows_out"] + s["rows_dlq"] + s["rows_undelivered"]
    # Never claims undelivered lines were delivered: rows_out whole lines and bytes_out at most what the kernel took.
    assert s["rows_out"] * len(good) <= s["bytes_out"] <= read + capacity, (s, capacity)
    assert s["rows_out"] <= (read + capacity) // len(good)
    # rows_dlq counts only records that reached the DLQ file.
    dlq_lines = dlq.read_bytes().splitlines(keepends=True) if dlq.exists() else []
    assert all(l.endswith(b"\n") for l in dlq_lines)
    assert s["rows_dlq"] == len(dlq_lines) and {json.loads(l)["reason"] for l in dlq_lines} <= {"invalid_json"}


def test_closed_dlq_fifo_exits_74_says_so_once_and_counts_only_what_was_delivered(tmp_path):
    """The same contract when the reader of the DLQ stream (a FIFO, e.g. dlq-sink) goes away: exit 74, one broken_pipe
    event, and the summary counts what reached stdout and the DLQ reader, no more."""
    import fcntl
    good, bad = line(envelope()), b"nope\n"
    data = b"".join(bad if i % 2 else good for i in range(200_000))
    src, fifo, out_path = tmp_path / "in.ndjson", tmp_path / "dlq.fifo", tmp_path / "out.ndjson"
    src.write_bytes(data)
    os.mkfifo(fifo)
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([binary("envelope-check"), *CHECK, "--input", str(src), "--dlq", str(fifo)],
                                stdout=out, stderr=subprocess.PIPE)
        r = os.open(fifo, os.O_RDONLY)  # the stage opens the FIFO when it starts
        try:
            got = b""
            while got.count(b"\n") < 3:  # three whole DLQ records, then the reader goes away
                chunk = os.read(r, 4096)
                assert chunk, "the DLQ stream ended early"
                got += chunk
            capacity = fcntl.fcntl(r, fcntl.F_GETPIPE_SZ)
        finally:
            os.close(r)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 74, err
    diagnostics = stderr_json_lines(err.decode())
    assert [d["event"] for d in diagnostics if d["level"] == "error"] == ["broken_pipe", "summary"], diagnostics
    s = diagnostics[-1]
    assert s["status"] == "broken_pipe" and "dlq.fifo" in s["error"] and s["rows_undelivered"] > 0
    assert s["rows_in"] == s["rows_out"] + s["rows_dlq"] + s["rows_undelivered"]
    # stdout (a file) took every line the summary counts, whole
    out_bytes = out_path.read_bytes()
    assert out_bytes == good * s["rows_out"] and s["bytes_out"] == len(out_bytes)
    # the DLQ reader can have been handed at most what it read plus one pipe's worth
    whole = got[:got.rindex(b"\n") + 1].splitlines()
    assert [json.loads(l)["reason"] for l in whole] == ["invalid_json"] * len(whole)
    shortest = min(len(l) + 1 for l in whole)  # later records only grow (line numbers)
    assert s["rows_dlq"] <= (len(got) + capacity) // shortest, (s, capacity)


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


STREAM_LINES = 200_000


def stream_line(i: int) -> bytes:
    """Line i of the generated stream for the stop tests: mostly valid envelopes, some rejects of two kinds."""
    if i % 97 == 5:
        return b'{"bad":' + str(i).encode() + b"\n"  # invalid_json
    if i % 89 == 7:
        return line(envelope(event_id=f"e-{i:08d}", tenant_id="globex"))  # tenant_mismatch
    return line(envelope(event_id=f"e-{i:08d}"))


def is_good(i: int) -> bool:
    return i % 97 != 5 and i % 89 != 7


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("feed", ["fifo", "stdin"])
def test_a_stop_signal_while_data_flows_flushes_whole_lines_and_conserves_rows(tmp_path, sig, feed):
    """SIGTERM/SIGINT mid-stream (docs/cli.md, Signals): exit 0, status stopped, whole lines only on stdout and in the
    DLQ, rows_in = rows_out + rows_dlq, and the counts are exactly the lines written."""
    out_path, dlq, err_path = tmp_path / "out.ndjson", tmp_path / "dlq.ndjson", tmp_path / "err"
    args = [binary("envelope-check"), *CHECK, "--dlq", str(dlq)]
    if feed == "fifo":
        fifo = tmp_path / "in.fifo"
        os.mkfifo(fifo)
        args += ["--input", str(fifo)]
    signalled = threading.Event()
    written = []  # bytes written by the feeder, filled in when it ends

    def feed_lines(fd):
        # Chunks of an odd size so lines are split across writes; the input never ends before the signal was sent
        # (the feeder holds the write end open until then), so the stage cannot see EOF first.
        total, pending = 0, b""
        try:
            for i in range(STREAM_LINES):
                pending += stream_line(i)
                while len(pending) >= 65_659:
                    n = os.write(fd, pending[:65_659])
                    total, pending = total + n, pending[n:]
            while pending:
                n = os.write(fd, pending)
                total, pending = total + n, pending[n:]
            signalled.wait(120)
        except BrokenPipeError:
            pass  # the stage stopped reading and exited
        finally:
            written.append(total)
            os.close(fd)

    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE if feed == "stdin" else subprocess.DEVNULL,
                                stdout=out, stderr=err)
        if feed == "stdin":
            fd = os.dup(proc.stdin.fileno())
            proc.stdin.close()
        else:
            fd = os.open(fifo, os.O_WRONLY)  # waits for the stage to open its end
        feeder = threading.Thread(target=feed_lines, args=(fd,), daemon=True)
        feeder.start()
        try:
            # Wait (no fixed sleep) until validated output has reached stdout: data is flowing through the stage.
            deadline = time.monotonic() + 60
            while out_path.stat().st_size == 0:
                assert proc.poll() is None, "the stage exited before it was signalled"
                assert time.monotonic() < deadline, "no output within 60 s"
                time.sleep(0.01)
            proc.send_signal(sig)
            status = proc.wait(timeout=60)
        finally:
            signalled.set()
            if proc.poll() is None:
                proc.kill()  # it did not stop: the test fails above, leave nothing running
                proc.wait()
            feeder.join(60)
    err = err_path.read_text()
    assert status == 0, err
    s = summary(err)
    assert s["status"] == "stopped", s
    assert 0 < s["rows_in"] < STREAM_LINES, s  # stopped mid-stream, not at the end of the input
    assert "rows_undelivered" not in s, s

    out = out_path.read_bytes()
    out_lines = out.splitlines(keepends=True)
    assert out.endswith(b"\n"), "torn last line on stdout"
    for l in out_lines:
        json.loads(l)  # every stdout line is a whole JSON line
    dlq_lines = dlq.read_bytes().splitlines(keepends=True) if dlq.exists() else []
    assert all(l.endswith(b"\n") for l in dlq_lines), "torn last line in the DLQ"
    records = [json.loads(l) for l in dlq_lines]

    assert s["rows_in"] == s["rows_out"] + s["rows_dlq"]
    assert s["rows_out"] == len(out_lines) and s["rows_dlq"] == len(records)
    assert s["bytes_out"] == len(out)

    # Exactly the first rows_in input lines were handled, in order. The stop may cut the stream inside a line: that
    # fragment is not a record, so it is neither forwarded nor rejected (a bogus invalid_json reject would outlive
    # the replay of the real line); its size is reported in the summary and in a stopped_mid_line warning.
    n = s["rows_in"]
    events = [json.loads(l) for l in err.splitlines()]
    if s.get("partial_line_bytes"):
        assert any(e["event"] == "stopped_mid_line" for e in events)
        assert s["bytes_in"] == sum(len(stream_line(i)) for i in range(n)) + s["partial_line_bytes"]
    else:
        assert not any(e["event"] == "stopped_mid_line" for e in events)
    whole = range(n)
    assert out == b"".join(stream_line(i) for i in whole if is_good(i))
    assert [(r["line"], r["raw"].encode() + b"\n") for r in records] == [(i + 1, stream_line(i)) for i in whole if not is_good(i)]
    assert {r["reason"] for r in records} <= {"invalid_json", "tenant_mismatch"}
    assert s["bytes_in"] <= written[0]


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


@pytest.mark.parametrize("bad", ['"tenant_id":"acme","tenant_id":"acme",', '"tenantId":"acme",'])
def test_a_key_level_reject_keeps_its_source_position_wherever_the_key_is(tmp_path, bad):
    """duplicate_field and unknown_field are found while the keys are read; the record's _source (here the
    last member) must still reach the DLQ record, or dlq-sink stores the reject again on every replay."""
    rec = envelope(event_id="k")
    rec["_source"] = {"source": "gen:1", "partition": 0, "offset": 7}
    text = json.dumps(rec, separators=(",", ":"))
    raw = ("{" + bad + text[1:]).encode()
    dlq = tmp_path / "d.ndjson"
    status, out, err = run([binary("envelope-check"), *CHECK, "--dlq", str(dlq)], raw + b"\n")
    assert status == 0 and out == b"", err
    [r] = read_ndjson(dlq)
    assert r["reason"] in ("duplicate_field", "unknown_field")
    assert r["source"] == {"source": "gen:1", "partition": 0, "offset": 7}
    lake = tmp_path / "lake"
    for _ in range(2):  # a replay of the same reject is stored once
        status, _, err = run([binary("dlq-sink"), "--lake", str(lake), "--input", str(dlq)])
        assert status == 0, err
    import deltalake
    assert deltalake.DeltaTable(str(lake / "dlq" / "events")).to_pyarrow_table().num_rows == 1


@pytest.mark.parametrize("buffering", [[], ["--line-buffered"]])
def test_a_dlq_that_cannot_be_written_counts_its_rejects_as_undelivered(tmp_path, buffering):
    data = b"".join(line(envelope(event_id=f"g{i}")) for i in range(10)) + b"not json\n" * 4
    status, out, err = run([binary("envelope-check"), *CHECK, *buffering, "--dlq", "/dev/full"], data)
    assert status == 74, err
    s = summary(err)
    assert s["rows_dlq"] >= 0 and s["rows_dlq"] < 4
    assert s["rows_in"] == s["rows_out"] + s["rows_dlq"] + s.get("rows_undelivered", 0)
    assert s.get("rows_undelivered", 0) > 0


def _stop_while_feeding(tmp_path, args, head: bytes, wait_for_output: bool, name="in.fifo"):
    """Runs envelope-check on a FIFO fed `head` and held open, then sends SIGTERM."""
    fifo = tmp_path / name
    os.mkfifo(fifo)
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([binary("envelope-check"), *CHECK, "--dlq", str(tmp_path / "dlq"), "--input", str(fifo), *args],
                                stdout=out, stderr=err)
        writer = open(fifo, "wb")
        writer.write(head)
        writer.flush()
        deadline = time.time() + 20
        while wait_for_output and out_path.stat().st_size == 0 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=20)
        writer.close()
    return status, out_path.read_bytes(), err_path.read_text()


def test_a_stop_in_the_middle_of_a_zst_frame_is_a_clean_stop(tmp_path):
    import zstandard
    data = b"".join(line(envelope(event_id=f"z{i}", payload={"n": i, "pad": "x" * 200})) for i in range(20000))
    packed = zstandard.ZstdCompressor(level=1).compress(data)
    status, out, err = _stop_while_feeding(tmp_path, [], packed[: len(packed) // 2], wait_for_output=True,
                                           name="in.ndjson.zst")  # a FIFO whose name says zstd
    assert status == 0, err
    s = summary(err)
    assert s["status"] == "stopped" and s["rows_in"] == s["rows_out"] == len(out.splitlines()) > 0
    assert not (tmp_path / "dlq").exists() or (tmp_path / "dlq").read_bytes() == b""


def test_a_stop_in_the_middle_of_an_over_long_line_sets_it_aside_like_any_fragment(tmp_path):
    good = b"".join(line(envelope(event_id=f"o{i}")) for i in range(3))
    status, out, err = _stop_while_feeding(tmp_path, [], good + b'{"tenant_id":"acme","pad":"' + b"x" * 1_500_000,
                                           wait_for_output=False)
    assert status == 0, err
    s = summary(err)
    assert (s["status"], s["rows_in"], s["rows_out"], s["rows_dlq"]) == ("stopped", 3, 3, 0), s
    assert s["partial_line_bytes"] == 1_500_000 + len(b'{"tenant_id":"acme","pad":"')
    assert out == good

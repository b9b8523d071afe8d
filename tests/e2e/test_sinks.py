"""bronze-sink and dlq-sink as users run them: real processes writing real Delta tables that
six readers (deltalake, pyarrow, duckdb read_parquet + delta_scan, polars read_delta + scan_parquet)
must agree on."""
import json
import os
import signal
import subprocess
import time

import deltalake
import pytest

from conftest import binary, delta_check, envelope, events, line, read_ndjson, run, summary, table_rows

TENANTS = ["--tenants", "acme,globex,initech"]


def ndjson(recs):
    return b"".join(line(r) for r in recs)


def test_bronze_stores_every_field_with_nulls_in_every_optional_column_across_many_commits(tmp_path):
    lake = tmp_path / "lake"
    recs = events(2500)
    plain = envelope(event_id="no-source-no-attributes", attributes=None)  # no _source, no attributes
    reserved = envelope(event_id="with-reserved")
    reserved["_trace"] = {"id": "abc"}
    escaped = b'{"tenant_id":"acme","site_id":"s\\u002d1\\/\\u00e9","device_id":"d","device_type":"t","event_type":"x.y",' \
              b'"event_id":"esc\\u00e9","event_time_utc":"2026-03-01T12:00:00.123456789Z","ingest_time_utc":"2026-03-01T12:00:01+00:00",' \
              b'"schema_version":"1.0","source_system":"s","payload":{"a":"\\"q\\""}}\n'
    data = ndjson(recs) + line(plain) + line(reserved) + escaped
    status, out, err = run([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--batch-rows", "300",
                            "--dlq", str(tmp_path / "d")], data)
    assert status == 0, err
    assert out == data  # forwarded byte for byte, after commit
    table = lake / "bronze" / "events"
    assert deltalake.DeltaTable(str(table)).version() >= 9  # create + >= 9 batch commits
    delta_check(table)
    rows = {r["event_id"]: r for r in table_rows(table)}
    assert len(rows) == 2503
    r = rows["acme-gen:t-7"]
    assert json.loads(r["payload"]) == recs[7]["payload"]
    assert (r["_source_id"], r["_source_partition"], r["_source_offset"]) == ("gen:t", 3, 1)
    assert str(r["ingest_date"]) == "2026-03-02" and r["event_time_utc"].isoformat() == "2026-03-02T12:00:07.007000+00:00"
    p = rows["no-source-no-attributes"]
    assert p["attributes"] is None and p["_source_id"] is None and p["_source_offset"] is None and p["_reserved"] is None
    assert json.loads(rows["with-reserved"]["_reserved"]) == {"_trace": {"id": "abc"}}
    e = rows["escé"]
    assert e["site_id"] == "s-1/é"  # escapes decoded in typed columns
    assert e["payload"] == '{"a":"\\"q\\""}'  # JSON text kept exactly
    delta_check(lake / "audit" / "audit_pipeline_batches")


def test_bronze_rerun_over_the_same_input_stores_nothing_twice(tmp_path):
    lake = tmp_path / "lake"
    data = ndjson(events(1000))
    for _ in range(2):
        status, out, err = run([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--batch-rows", "250"], data, cwd=tmp_path)
        assert status == 0, err
        assert out == data  # already-stored records are forwarded again; downstream dedups the same way
    dt = deltalake.DeltaTable(str(lake / "bronze" / "events"))
    assert dt.to_pyarrow_table().num_rows == 1000
    assert dt.transaction_version("bronze-sink|gen:t|0") == 249


def test_bronze_killed_with_sigkill_mid_stream_then_rerun_holds_every_record_exactly_once(tmp_path):
    lake = tmp_path / "lake"
    recs = events(20_000, partitions=3)
    data = ndjson(recs)
    log = lake / "bronze" / "events" / "_delta_log"
    proc = subprocess.Popen([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--batch-rows", "500", "--no-audit"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Feed half, wait until a few batches are committed, then kill -9 while more is in flight.
    half = len(data) // 2
    proc.stdin.write(data[:half])
    proc.stdin.flush()
    deadline = time.time() + 60
    while (not log.exists() or len(list(log.glob("*.json"))) < 5) and time.time() < deadline:
        time.sleep(0.05)
    proc.stdin.write(data[half:half + 300_000])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    committed_before = deltalake.DeltaTable(str(lake / "bronze" / "events")).to_pyarrow_table().num_rows
    assert 0 < committed_before < 20_000
    status, _, err = run([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--batch-rows", "500", "--no-audit"], data)
    assert status == 0, err
    ids = [r["event_id"] for r in table_rows(lake / "bronze" / "events", ["event_id"])]
    assert len(ids) == 20_000 and len(set(ids)) == 20_000
    delta_check(lake / "bronze" / "events")


def test_several_bronze_sinks_appending_to_one_table_at_once_lose_no_commit(tmp_path):
    lake = tmp_path / "lake"
    procs = []
    for k, tenant in enumerate(["acme", "globex", "initech", "acme"]):
        data = ndjson(events(1500, tenant=tenant, source=f"src{k}"))
        p = subprocess.Popen([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--batch-rows", "100",
                              "--sink-id", f"sink{k}"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        procs.append((p, data))
    for p, data in procs:
        p.stdin.write(data)
        p.stdin.close()
    for p, _ in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()
    table = lake / "bronze" / "events"
    versions = sorted(int(f.name.split(".")[0]) for f in (table / "_delta_log").glob("*.json"))
    assert versions == list(range(len(versions)))  # contiguous
    assert len(versions) >= 1 + 4 * 15
    assert deltalake.DeltaTable(str(table)).to_pyarrow_table().num_rows == 6000
    delta_check(table)
    audit = table_rows(lake / "audit" / "audit_pipeline_batches")
    assert sum(r["input_rows"] for r in audit if r["stage"] == "bronze-sink") == 6000
    delta_check(lake / "audit" / "audit_pipeline_batches")


def test_bronze_rejects_bad_lines_to_its_dlq_and_audit_rows_obey_conservation(tmp_path):
    lake = tmp_path / "lake"
    data = ndjson(events(50)) + b"not json\n" + line(envelope(tenant_id="../../etc")) + ndjson(events(50, start=50))
    dlq = tmp_path / "bronze.dlq"
    status, out, err = run([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--dlq", str(dlq)], data)
    assert status == 0, err
    assert [r["reason"] for r in read_ndjson(dlq)] == ["invalid_json", "unsafe_id"]
    s = summary(err)
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (102, 100, 2)
    audit = table_rows(lake / "audit" / "audit_pipeline_batches")
    assert all(r["input_rows"] == r["output_rows"] + r["dlq_rows"] for r in audit)
    assert sum(r["dlq_rows"] for r in audit) == 2


def test_bronze_dry_run_writes_no_table(tmp_path):
    data = ndjson(events(100))
    status, out, err = run([binary("bronze-sink"), "--dry-run", *TENANTS], data, cwd=tmp_path)
    assert status == 0, err
    assert out == data
    assert "dry_run_batch" in err
    assert list(tmp_path.iterdir()) == []


def test_bronze_commits_a_partial_batch_after_the_flush_interval_on_a_quiet_stream(tmp_path):
    lake = tmp_path / "lake"
    proc = subprocess.Popen([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--flush-interval", "0.5"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(ndjson(events(10)))
    proc.stdin.flush()
    first = proc.stdout.readline()  # arrives only after the commit, without EOF
    assert json.loads(first)["event_id"] == "acme-gen:t-0"
    assert deltalake.DeltaTable(str(lake / "bronze" / "events")).to_pyarrow_table().num_rows == 10
    proc.stdin.close()
    proc.wait(timeout=30)
    assert proc.returncode == 0


def test_dlq_sink_stores_records_from_several_fifos_with_hostile_ids_in_the_unknown_partition(tmp_path):
    lake = tmp_path / "lake"
    # Real DLQ records from envelope-check, including a hostile tenant and invalid UTF-8.
    bad = [b"not json", line(envelope(tenant_id="../../etc"))[:-1], b'{"a":"\xff"}',
           line(envelope(event_time_utc="2026-02-30T00:00:00Z"))[:-1], line(envelope(tenant_id="b c/d%e=f"))[:-1]]
    ec_dlq = tmp_path / "ec.dlq"
    run([binary("envelope-check"), "--tenant", "acme", "--dlq", str(ec_dlq)], b"\n".join(bad) + b"\n")
    fifo_a, fifo_b = tmp_path / "a.fifo", tmp_path / "b.fifo"
    os.mkfifo(fifo_a)
    os.mkfifo(fifo_b)
    proc = subprocess.Popen([binary("dlq-sink"), "--lake", str(lake), "--input", str(fifo_a), "--input", str(fifo_b)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(fifo_a, "wb") as a, open(fifo_b, "wb") as b:
        b.write(b"this is not a DLQ record\n")  # b stays open and quiet while a delivers
        b.flush()
        a.write(ec_dlq.read_bytes())
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert len(out.splitlines()) == 6
    table = lake / "dlq" / "events"
    delta_check(table)
    rows = table_rows(table)
    by_reason = {r["reason"]: r for r in rows}
    assert by_reason["not_a_dlq_record"]["raw"] == "this is not a DLQ record"
    assert by_reason["invalid_utf8"]["raw_base64"] and by_reason["invalid_utf8"]["raw"] is None
    hostile = [r for r in rows if r["reported_tenant_id"] in ("../../etc", "b c/d%e=f")]
    assert len(hostile) == 2 and all(r["tenant_id"] == "_unknown" for r in hostile)
    assert by_reason["bad_timestamp"]["tenant_id"] == "acme"
    dirs = {p.relative_to(table).parts[0] for p in table.rglob("*.parquet")}
    assert dirs <= {"tenant_id=acme", "tenant_id=_unknown"}  # nothing escaped the table directory
    assert not (tmp_path / "etc").exists()


def test_redrive_re_emits_the_original_lines_byte_for_byte_filtered_by_reason_tenant_and_time(tmp_path):
    lake = tmp_path / "lake"
    bad = {
        b"not json": "invalid_json",
        b'{"a":"\xff\xfe"}': "invalid_utf8",
        line(envelope(event_time_utc="2026-02-30T00:00:00Z"))[:-1]: "bad_timestamp",
        line(envelope(tenant_id="globex", event_time_utc="2026-13-01T00:00:00Z"))[:-1]: "bad_timestamp",
        b'{"payload":"' + b"x" * 5000 + b'"}': "line_too_long",
    }
    dlq = tmp_path / "ec.dlq"
    run([binary("envelope-check"), "--tenants", "acme,globex", "--max-line-bytes", "1024", "--dlq", str(dlq)],
        b"\n".join(bad) + b"\n")
    assert run([binary("dlq-sink"), "--lake", str(lake), "--input", str(dlq)])[0] == 0

    def redrive(*flags):
        status, out, err = run([binary("dlq-sink"), "--lake", str(lake), "--redrive", *flags])
        assert status == 0, err
        return sorted(out.splitlines()), summary(err)

    got, s = redrive("--reason", "invalid_json,invalid_utf8,bad_timestamp")
    assert got == sorted(raw for raw, reason in bad.items() if reason != "line_too_long")
    assert s["rows_out"] == 4
    got, _ = redrive("--reason", "bad_timestamp", "--tenant", "globex")
    assert got == [line(envelope(tenant_id="globex", event_time_utc="2026-13-01T00:00:00Z"))[:-1]]
    got, s = redrive("--reason", "line_too_long")
    assert got == [] and s["skipped_truncated"] == 1  # only a prefix was kept: never emitted as if whole
    got, _ = redrive("--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02T00:00:00Z")
    assert got == []
    got, _ = redrive("--since", "2000-01-01T00:00:00Z")
    assert len(got) == 4
    # Redriven lines go through the pipeline again and are rejected for the same reasons.
    status, out, _ = run([binary("dlq-sink"), "--lake", str(lake), "--redrive"])
    dlq2 = tmp_path / "again.dlq"
    run([binary("envelope-check"), "--tenants", "acme,globex", "--dlq", str(dlq2)], out)
    assert sorted(r["reason"] for r in read_ndjson(dlq2)) == sorted(r for r in bad.values() if r != "line_too_long")


def test_redrive_flags_without_redrive_are_a_usage_error(tmp_path):
    status, _, err = run([binary("dlq-sink"), "--lake", str(tmp_path), "--reason", "x"])
    assert status == 64 and "--redrive" in err
    status, _, err = run([binary("dlq-sink"), "--lake", str(tmp_path), "--redrive", "--since", "yesterday"])
    assert status == 64 and "--since" in err


def test_bronze_sigterm_commits_the_batch_in_flight_and_exits_0(tmp_path):
    lake = tmp_path / "lake"
    proc = subprocess.Popen([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--flush-interval", "600"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    data = ndjson(events(500))
    proc.stdin.write(data)
    proc.stdin.flush()
    time.sleep(1.0)  # read, batched, not yet committed (flush interval 10 minutes, batch 100k rows)
    proc.send_signal(signal.SIGTERM)  # while blocked waiting for more input on an open pipe
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert out == data  # forwarded after the commit
    assert summary(err.decode())["status"] == "stopped"
    assert deltalake.DeltaTable(str(lake / "bronze" / "events")).to_pyarrow_table().num_rows == 500


def test_bronze_batches_by_bytes_and_honours_the_compression_level(tmp_path):
    lake = tmp_path / "lake"
    data = ndjson(events(300))
    status, out, err = run([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--batch-bytes", "5000",
                            "--compression-level", "19", "--no-audit"], data)
    assert status == 0, err
    assert out == data
    dt = deltalake.DeltaTable(str(lake / "bronze" / "events"))
    assert dt.version() >= 5  # ~300 rows of ~200 counted bytes in 5 kB batches: about a dozen commits, not one
    assert dt.to_pyarrow_table().num_rows == 300
    status, _, err = run([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--compression-level", "42"])
    assert status == 64 and "--compression-level" in err


def dlq_record(tenant, day, offset):
    return {"dlq_version": 1, "stage": "envelope-check", "reason": "bad_timestamp", "message": "m", "field": "event_time_utc",
            "raw": f'{{"tenant_id":"{tenant}","n":{offset}}}', "raw_length": 20, "raw_truncated": False,
            "source": {"source": "gen:t", "partition": 0, "offset": offset}, "tenant_id": tenant,
            "event_type": "thermostat.telemetry", "time": f"{day}T12:00:00.000Z"}


def test_dlq_expire_removes_old_partitions_in_one_commit_and_keeps_the_table_readable(tmp_path):
    lake = tmp_path / "lake"
    today = time.strftime("%Y-%m-%d", time.gmtime())
    recs = [dlq_record("acme", "2026-01-02", 1), dlq_record("globex", "2026-01-02", 2), dlq_record("acme", today, 3)]
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake)], ndjson(recs))
    assert status == 0, err
    table = lake / "dlq" / "events"
    before = deltalake.DeltaTable(str(table)).version()
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake), "--expire", "--retention-days", "30", "--dry-run"])
    s = summary(err)
    assert status == 0 and s["status"] == "dry_run" and s["files_removed"] == 2 and s["rows_removed"] == 2
    assert deltalake.DeltaTable(str(table)).version() == before
    # Only acme's old partition, with --tenant.
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake), "--expire", "--retention-days", "30", "--tenant", "acme"])
    assert status == 0 and summary(err)["rows_removed"] == 1, err
    dt = deltalake.DeltaTable(str(table))
    assert dt.version() == before + 1
    assert sorted(r["source_offset"] for r in table_rows(table)) == [2, 3]
    assert dt.history(1)[0]["operation"] == "DELETE"
    delta_check(table)
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake), "--expire"])
    assert status == 64 and "--retention-days" in err


def test_a_batch_with_too_many_rejects_is_flagged_in_the_audit_table(tmp_path):
    lake = tmp_path / "lake"
    good = events(8)
    bad = [dict(r, event_time_utc="2026-02-30T00:00:00Z", event_id=f"bad-{i}") for i, r in enumerate(events(4, start=8))]
    status, _, err = run([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--max-reject-ratio", "0.2",
                          "--dlq", str(tmp_path / "d")], ndjson(good + bad))
    assert status == 0, err
    assert any(e["event"] == "reject_ratio_exceeded" for e in (json.loads(l) for l in err.splitlines()))
    audit = table_rows(lake / "audit" / "audit_pipeline_batches")
    assert [(a["status"], a["input_rows"], a["dlq_rows"]) for a in audit] == [("flagged", 12, 4)]
    assert "4 of 12 records rejected" in audit[0]["error"]
    status, _, err = run([binary("bronze-sink"), "--lake", str(tmp_path / "lake2"), *TENANTS, "--max-reject-ratio", "0.5",
                          "--dlq", str(tmp_path / "d2")], ndjson(good + bad))
    assert [a["status"] for a in table_rows(tmp_path / "lake2" / "audit" / "audit_pipeline_batches")] == ["committed"]


def test_a_url_storage_root_is_refused_naming_its_file_and_line_and_env_needs_config(tmp_path):
    from conftest import ROOT
    status, out, err = run([binary("bronze-sink"), "--config", str(ROOT), "--tenant", "acme", "--env", "prod"], ndjson(events(1)))
    assert status == 78 and out == b""
    assert f"{ROOT}/configs/tenants/acme/prod.yaml:3: storage.root abfss://" in err and "mount" in err
    assert not (ROOT / "abfss:").exists()
    assert summary(err)["status"] == "failed"
    status, _, err = run([binary("bronze-sink"), "--lake", str(tmp_path / "l"), *TENANTS, "--env", "prod"], b"")
    assert status == 64 and "--config" in err


def test_a_redrive_spread_over_many_dlq_partitions_is_stored_whole_and_once(tmp_path):
    """Rejects of one source partition land in several DLQ partitions (here one per tenant), so the table
    holds their offsets out of order. The redrive emits them in position order: a sink under the redrive's
    own sink id stores every one, in small batches too, and a second run of the same redrive stores none."""
    lake = tmp_path / "lake"
    status, data, err = run([binary("medallion"), "generate", "--count", "3000", "--seed", "17"])
    assert status == 0, err
    status, _, err = run([binary("envelope-check"), "--tenants", "acme,globex,initech", "--event-types", "thermostat.telemetry",
                          "--dlq", str(tmp_path / "rejects.ndjson")], data)
    assert status == 0, err
    rejects = read_ndjson(tmp_path / "rejects.ndjson")
    assert {r["reason"] for r in rejects} == {"unknown_event_type"} and len(rejects) > 1000
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake), "--input", str(tmp_path / "rejects.ndjson")])
    assert status == 0, err
    for attempt in range(2):
        pipeline = (f"{binary('dlq-sink')} --lake {lake} --redrive --reason unknown_event_type 2>/dev/null"
                    f" | {binary('envelope-check')} --tenants acme,globex,initech --dlq {tmp_path / 'still-bad.ndjson'} 2>/dev/null"
                    f" | {binary('bronze-sink')} --lake {lake} --tenants acme,globex,initech --sink-id redrive-1 --batch-rows 97"
                    f" > /dev/null 2> {tmp_path / 'bronze.err'}")
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], timeout=120)
        assert proc.returncode == 0, (tmp_path / "bronze.err").read_text()
        ids = [r["event_id"] for r in table_rows(lake / "bronze" / "events", ["event_id"])]
        assert len(ids) == len(set(ids)) == len(rejects), (attempt, len(ids), len(rejects))
    assert set(ids) == {json.loads(r["raw"])["event_id"] for r in rejects}


def test_a_redrive_orders_rejects_stored_without_a_position_by_the_source_in_their_raw_line(tmp_path):
    """A reject stored without a position (an older build, a line the stage could not read far enough)
    may still carry _source: the redrive sorts it by that, so small batches downstream lose nothing."""
    lake = tmp_path / "lake"
    recs = []
    for i in range(12):
        tenant = ["acme", "globex"][i % 2]   # alternate DLQ partitions: their offsets interleave
        env = envelope(tenant_id=tenant, event_id=f"np-{i}")
        env["_source"] = {"source": "gen:1", "partition": 0, "offset": i}
        recs.append({"dlq_version": 1, "stage": "envelope-check", "reason": "unknown_field", "message": "m",
                     "raw": json.dumps(env, separators=(",", ":")), "raw_length": 10, "raw_truncated": False,
                     "source": None, "tenant_id": tenant, "event_type": env["event_type"], "time": "2026-03-01T12:00:00.000Z"})
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake)], ndjson(recs))
    assert status == 0, err
    pipeline = (f"{binary('dlq-sink')} --lake {lake} --redrive 2>/dev/null"
                f" | {binary('bronze-sink')} --lake {lake} --tenants acme,globex --sink-id redrive-np --batch-rows 2"
                f" > /dev/null 2> {tmp_path / 'bronze.err'}")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], timeout=60)
    assert proc.returncode == 0, (tmp_path / "bronze.err").read_text()
    ids = sorted(r["event_id"] for r in table_rows(lake / "bronze" / "events", ["event_id"]))
    assert ids == sorted(f"np-{i}" for i in range(12))

"""The lake's tables under stress, through the real binaries: several dlq-sinks committing to one DLQ
table at once, a DLQ table with many commits and nulls in every optional column, hostile and unusual
partition values, the exact boundaries of `dlq-sink --redrive`, and regression tests for bugs found by an audit.

Every table written here is checked with ../shared/tools/delta_check.py (six readers must agree)."""
import base64
import datetime as dt
import importlib.util
import json
import pathlib
import re
import string
import subprocess
import threading
import time
import uuid
from urllib.parse import unquote

import deltalake
import pytest

from conftest import SHARED, binary, delta_check, envelope, events, line, read_ndjson, run, summary, table_rows

TENANTS = ["--tenants", "acme,globex,initech"]
PARTITION_COLUMNS = ["tenant_id", "event_type", "ingest_date"]
SAFE_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")
HIVE_KEPT = set((string.ascii_letters + string.digits + "._-").encode())
# The DLQ table's columns (docs/dlq.md): these may be null, the others never are.
DLQ_NULLABLE = ["dlq_version", "message", "field", "reported_tenant_id", "reported_event_type", "source", "source_id",
                "source_partition", "source_offset", "input", "line", "raw_length", "raw_truncated", "raw", "raw_base64"]
DLQ_REQUIRED = ["tenant_id", "event_type", "ingest_date", "stage", "reason", "time"]


# ------------------------------------------------------------------ helpers

def ndjson(recs):
    return b"".join(line(r) for r in recs)


def dlq_record(raw=None, *, raw_base64=None, stage="envelope-check", reason="bad_timestamp", message="a reason",
               field=None, tenant="acme", event_type="thermostat.telemetry", source=None, input="-", line=1,
               time="2026-03-01T12:00:00.000Z", raw_length=None, truncated=False) -> dict:
    """A DLQ record with the keys in the order envelope-check writes them (docs/dlq.md)."""
    rec = {"dlq_version": 1, "stage": stage, "reason": reason, "message": message, "field": field,
           "tenant_id": tenant, "event_type": event_type, "source": source, "input": input, "line": line,
           "time": time}
    if raw is not None:
        rec["raw_length"] = len(raw.encode()) if raw_length is None else raw_length
        rec["raw_truncated"] = truncated
        rec["raw"] = raw
    else:
        rec["raw_length"] = len(base64.b64decode(raw_base64)) if raw_length is None else raw_length
        rec["raw_truncated"] = truncated
        rec["raw_base64"] = raw_base64
    return rec


def log_commits(table) -> dict:
    """version -> list of actions, for every commit file of the table."""
    out = {}
    for f in (pathlib.Path(table) / "_delta_log").glob("*.json"):
        assert re.fullmatch(r"\d{20}\.json", f.name), f"unexpected log file {f.name}"
        out[int(f.name[:20])] = [json.loads(a) for a in f.read_text().splitlines() if a.strip()]
    return dict(sorted(out.items()))


def assert_contiguous(table) -> dict:
    commits = log_commits(table)
    assert list(commits) == list(range(len(commits))), f"versions are not 0..N without a gap: {list(commits)}"
    return commits


def commit_info(actions) -> dict:
    return next(a["commitInfo"] for a in actions if "commitInfo" in a)


def adds(table) -> list:
    return [a["add"] for actions in log_commits(table).values() for a in actions if "add" in a]


_delta_tool = None


def delta_tool():
    """../shared/tools/delta_check.py as a module (for its DuckDB delta extension lookup)."""
    global _delta_tool
    if _delta_tool is None:
        spec = importlib.util.spec_from_file_location("delta_check_tool", SHARED / "tools" / "delta_check.py")
        _delta_tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_delta_tool)
    return _delta_tool


def duck(table, select, where=""):
    """Rows of `SELECT <select> FROM delta_scan(table) <where>` in DuckDB (the delta extension the checker uses)."""
    import duckdb
    con = duckdb.connect()
    ext = delta_tool().find_delta_ext(duckdb)
    con.execute(f"LOAD '{ext}'" if ext else "LOAD delta")
    con.execute("SET TimeZone='UTC'")
    return con.sql(f"SELECT {select} FROM delta_scan('{pathlib.Path(table).resolve()}') {where}").fetchall()


def hive_escape(value: str) -> str:
    return "".join(chr(b) if b in HIVE_KEPT else f"%{b:02X}" for b in value.encode())


def assert_partition_layout(table) -> set:
    """Every data file sits at tenant_id=<esc>/event_type=<esc>/ingest_date=<date>/ under the table, named
    by exactly one add action whose partitionValues match its directories; no other file or directory
    exists in the table. Returns the set of partition value tuples."""
    table = pathlib.Path(table).resolve()
    seen, added = set(), set()
    for add in adds(table):
        pv = add["partitionValues"]
        assert list(pv) == PARTITION_COLUMNS, pv
        rel = unquote(add["path"])
        parent, name = rel.rsplit("/", 1)
        assert parent == "/".join(f"{c}={hive_escape(pv[c])}" for c in PARTITION_COLUMNS), (rel, pv)
        assert re.fullmatch(r"part-[\w.-]+\.parquet", name), rel
        local = (table / rel).resolve()
        assert local.is_relative_to(table) and local.is_file(), rel
        added.add(local)
        seen.add(tuple(pv[c] for c in PARTITION_COLUMNS))
    for p in table.rglob("*"):
        assert not p.is_symlink(), p
        rel = p.relative_to(table).parts
        if rel[0] == "_delta_log":
            assert len(rel) <= 2, p
            continue
        for column, part in zip(PARTITION_COLUMNS, rel[:3]):
            assert part.startswith(column + "="), f"{p}: not a {column}= directory"
        if p.is_dir():
            assert len(rel) <= 3, p
        else:
            assert len(rel) == 4 and p in added, f"{p} is not a data file named by the log"
    return seen


def partitions_by_reader(table, key) -> dict:
    """{reader: {key value: (tenant_id, event_type, ingest_date as text)}} for deltalake, DuckDB delta_scan
    and Polars read_delta."""
    import polars as pl
    cols = [key, *PARTITION_COLUMNS]
    out = {"deltalake": {r[key]: (r["tenant_id"], r["event_type"], str(r["ingest_date"]))
                         for r in table_rows(table, cols)}}
    out["duckdb delta_scan"] = {k: (t, e, d) for k, t, e, d in
                                duck(table, f"{key}, tenant_id, event_type, CAST(ingest_date AS VARCHAR)")}
    out["polars read_delta"] = {r[key]: (r["tenant_id"], r["event_type"], str(r["ingest_date"]))
                                for r in pl.read_delta(str(table), columns=cols).to_dicts()}
    return out


def micros(ts: str) -> int:
    """Microseconds since the epoch of an RFC 3339 UTC timestamp with at most 6 fraction digits."""
    d = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return (d - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)


def wait_for(paths, timeout=30):
    deadline = time.time() + timeout
    while not all(p.exists() for p in paths):
        assert time.time() < deadline, f"not created in time: {[str(p) for p in paths if not p.exists()]}"
        time.sleep(0.02)


# ------------------------------------------------------------------ 1. several dlq-sinks at once

def test_four_dlq_sinks_appending_to_one_dlq_table_at_once_race_and_lose_no_commit(tmp_path):
    lake = tmp_path / "lake"
    n, sinks = 2500, 4
    expected_raw, inputs = set(), []
    for k in range(sinks):
        bad = []
        for i in range(n):  # real DLQ records: bad timestamps rejected by envelope-check, each at its own position
            rec = envelope(event_id=f"s{k}-{i}", event_time_utc="2026-02-30T00:00:00Z")
            rec["_source"] = {"source": f"src{k}", "partition": i % 3, "offset": i // 3}
            bad.append(line(rec))
        expected_raw |= {b[:-1].decode() for b in bad}
        dlq = tmp_path / f"ec{k}.dlq"
        status, out, err = run([binary("envelope-check"), *TENANTS, "--dlq", str(dlq)], b"".join(bad))
        assert status == 0 and out == b"", err
        inputs.append(dlq.read_bytes())
    # Start all writers first, then feed them at the same time (one thread each): small batches, many commits.
    procs = [subprocess.Popen([binary("dlq-sink"), "--lake", str(lake), "--batch-rows", "40", "--flush-interval", "600",
                               "--sink-id", f"dlq{k}"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for k in range(sinks)]

    def feed(p, data):
        p.stdin.write(data)
        p.stdin.close()

    threads = [threading.Thread(target=feed, args=(p, data)) for p, data in zip(procs, inputs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=120) == 0
        s = summary(p.stderr.read().decode())
        assert (s["status"], s["rows_in"], s["rows_out"]) == ("ok", n, n)

    table = lake / "dlq" / "events"
    commits = assert_contiguous(table)  # versions 0..N, no gap
    per_commit = [commit_info(commits[v])["operationParameters"] for v in list(commits)[1:]]
    order = [p["sink"] for p in per_commit]
    batches = -(-n // 40)
    assert len(order) == sinks * batches  # every batch of every sink is one commit: none lost, none doubled
    for k in range(sinks):
        assert order.count(f"dlq{k}") == batches
        assert sum(int(p["rows"]) for p in per_commit if p["sink"] == f"dlq{k}") == n
    # The writers really raced: their commits interleave in the log (serial writers would switch 3 times)
    # and each writer's span of commit timestamps overlaps every other writer's.
    switches = sum(1 for a, b in zip(order, order[1:]) if a != b)
    assert switches >= 20, f"the writers did not interleave: {order}"
    spans = {}
    for v in list(commits)[1:]:
        info = commit_info(commits[v])
        lo, hi = spans.get(info["operationParameters"]["sink"], (info["timestamp"], info["timestamp"]))
        spans[info["operationParameters"]["sink"]] = (min(lo, info["timestamp"]), max(hi, info["timestamp"]))
    assert max(lo for lo, _ in spans.values()) <= min(hi for _, hi in spans.values()), spans

    rows = table_rows(table, ["source_id", "source_partition", "source_offset", "raw"])
    assert len(rows) == sinks * n
    positions = {(r["source_id"], r["source_partition"], r["source_offset"]) for r in rows}
    assert positions == {(f"src{k}", i % 3, i // 3) for k in range(sinks) for i in range(n)}  # each record once
    assert {r["raw"] for r in rows} == expected_raw
    dtab = deltalake.DeltaTable(str(table))
    for k in range(sinks):
        for part in range(3):
            last = max(i // 3 for i in range(n) if i % 3 == part)
            assert dtab.transaction_version(f"dlq{k}|envelope-check/src{k}|{part}") == last
    delta_check(table)

    audit_table = lake / "audit" / "audit_pipeline_batches"
    audit_commits = assert_contiguous(audit_table)
    assert len(audit_commits) == 1 + sinks * batches  # created once, then one commit per batch
    audit = [r for r in table_rows(audit_table) if r["stage"] == "dlq-sink"]
    assert len(audit) == sinks * batches and all(r["status"] == "committed" for r in audit)
    assert sorted(r["table_version"] for r in audit) == list(range(1, len(commits)))
    for r in audit:  # each audit row names the very commit its sink made
        assert r["batch_id"] == f"{order[r['table_version'] - 1]}@{r['table_version']}"
        assert r["input_rows"] == r["output_rows"] + r["dlq_rows"]
    assert sum(r["input_rows"] for r in audit) == sinks * n
    audit_order = [r["batch_id"].split("@")[0] for r in sorted(audit, key=lambda r: (r["ended_at"], r["table_version"]))]
    assert sum(1 for a, b in zip(audit_order, audit_order[1:]) if a != b) >= 20
    delta_check(audit_table)


# ------------------------------------------------------------------ 2. many commits, nulls everywhere

NONNULL = object()


def expected_dlq_row(rec: dict) -> dict:
    """What the DLQ table must hold for one DLQ record (docs/dlq.md)."""
    def text(k):
        return rec[k] if isinstance(rec.get(k), str) else None

    def number(k):
        v = rec.get(k)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    src = rec.get("source")
    pos = src if (isinstance(src, dict) and isinstance(src.get("source"), str)
                  and isinstance(src.get("partition"), int) and isinstance(src.get("offset"), int)) else None
    return {"dlq_version": number("dlq_version"), "stage": rec["stage"], "reason": rec["reason"],
            "message": text("message"), "field": text("field"), "reported_tenant_id": text("tenant_id"),
            "reported_event_type": text("event_type"), "source": src,
            "source_id": pos and pos["source"], "source_partition": pos and pos["partition"],
            "source_offset": pos and pos["offset"], "input": text("input"), "line": number("line"),
            "raw_length": number("raw_length"),
            "raw_truncated": rec["raw_truncated"] if isinstance(rec.get("raw_truncated"), bool) else None,
            "raw": text("raw"), "raw_base64": text("raw_base64")}


def test_dlq_table_with_many_commits_holds_nulls_and_values_in_every_optional_column(tmp_path):
    lake = tmp_path / "lake"
    # Real rejects from envelope-check, of every shape.
    bad = []
    for i in range(150):  # bad timestamp, with a source position
        rec = envelope(event_id=f"bt-{i}", event_time_utc="2026-02-30T00:00:00Z")
        rec["_source"] = {"source": "cap", "partition": i % 2, "offset": i // 2}
        bad.append(line(rec))
    bad += [f"not json {i}\n".encode() for i in range(50)]  # no field, tenant, event type or source
    bad += [b'{"bad":"\xff\xfe' + str(i).encode() + b'"}\n' for i in range(20)]  # raw_base64 instead of raw
    bad += [f'{{"i":{i},"pad":"'.encode() + b"x" * 5000 + b'"}\n' for i in range(10)]  # line_too_long: truncated
    bad += [line(envelope(event_id=f"u-{i}", tenant_id=f"Tenant {i}")) for i in range(30)]  # hostile tenant
    bad += [line(envelope(event_id=f"m-{i}", event_type=None)) for i in range(20)]  # event type missing
    ec_dlq = tmp_path / "ec.dlq"
    status, _, err = run([binary("envelope-check"), *TENANTS, "--max-line-bytes", "4096", "--dlq", str(ec_dlq)],
                         b"".join(bad))
    assert status == 0, err
    records = read_ndjson(ec_dlq)
    assert len(records) == 280
    # Hand-made records: the bare minimum a DLQ record needs, and odd source values.
    records += [{"stage": "silver-validate", "reason": "schema_violation", "raw": f"minimal {i}"} for i in range(150)]
    records += [{"dlq_version": 2, "stage": "bronze-sink", "reason": "invalid_json", "source": {"source": "only-an-id"},
                 "time": "not a time", "raw": f"unusable source {i}"} for i in range(30)]
    records += [dlq_record(f"crafted {i}", source={"source": "q", "partition": 1, "offset": i}, field="payload",
                           time="2026-03-04T05:06:07.089Z", line=i + 1) for i in range(30)]
    data = ndjson(records) + b"".join(f"garbage {i}\n".encode() for i in range(20))  # wrapped as not_a_dlq_record
    dlq_in = tmp_path / "all.dlq"
    dlq_in.write_bytes(data)
    before = dt.datetime.now(dt.timezone.utc)
    status, out, err = run([binary("dlq-sink"), "--lake", str(lake), "--batch-rows", "10", "--input", str(dlq_in)])
    after = dt.datetime.now(dt.timezone.utc)
    assert status == 0, err
    assert out == data
    total = len(records) + 20
    assert total == 510

    table = lake / "dlq" / "events"
    commits = assert_contiguous(table)
    assert len(commits) - 1 >= 50
    schema = json.loads(next(a["metaData"] for a in commits[0] if "metaData" in a)["schemaString"])
    nullable = {f["name"]: f["nullable"] for f in schema["fields"]}
    assert nullable == {**{c: True for c in DLQ_NULLABLE}, **{c: False for c in DLQ_REQUIRED}}
    delta_check(table)

    expected = {}
    for rec in records:
        expected[rec.get("raw") or rec.get("raw_base64")] = expected_dlq_row(rec)
    for i in range(20):
        expected[f"garbage {i}"] = {
            "dlq_version": 1, "stage": "dlq-sink", "reason": "not_a_dlq_record", "message": NONNULL, "field": None,
            "reported_tenant_id": None, "reported_event_type": None, "source": None, "source_id": None,
            "source_partition": None, "source_offset": None, "input": str(dlq_in), "line": len(records) + i + 1,
            "raw_length": len(f"garbage {i}"), "raw_truncated": False, "raw": f"garbage {i}", "raw_base64": None}
    assert len(expected) == total
    rows = table_rows(table)
    assert len(rows) == total
    for r in rows:
        want = expected[r["raw"] or r["raw_base64"]]
        for column, value in want.items():
            got = r[column]
            if column == "source" and got is not None:
                got = json.loads(got)
            if value is NONNULL:
                assert got is not None, (column, r)
            else:
                assert got == value, (column, got, value, r)
        assert r["time"] is not None and str(r["ingest_date"]) == r["time"].date().isoformat()
        if r["raw"] and (r["raw"].startswith(("minimal", "unusable", "garbage"))):
            assert before - dt.timedelta(seconds=1) <= r["time"] <= after  # no usable time: the time it was stored
    # Every optional column has at least one null and one value; deltalake and DuckDB both read nulls as nulls.
    import pyarrow.compute as pc
    arrow = deltalake.DeltaTable(str(table)).to_pyarrow_table()
    counts = duck(table, ", ".join(f'count(*) - count("{c}")' for c in DLQ_NULLABLE + DLQ_REQUIRED))[0]
    for column, duck_nulls in zip(DLQ_NULLABLE + DLQ_REQUIRED, counts):
        want = sum(1 for e in expected.values() if e.get(column) is None) if column in DLQ_NULLABLE else 0
        assert arrow[column].null_count == want == duck_nulls, (column, arrow[column].null_count, want, duck_nulls)
        if column in DLQ_NULLABLE:
            assert 0 < want < total, column
    # The minimal record reads back with nulls, not empty strings, zeros or false.
    minimal = duck(table, "dlq_version, message, field, reported_tenant_id, reported_event_type, source, source_id, "
                          "source_partition, source_offset, input, line, raw_length, raw_truncated, raw_base64",
                   "WHERE raw = 'minimal 7'")
    assert minimal == [(None,) * 14]
    assert pc.sum(pc.is_null(arrow["raw_truncated"])).as_py() == 180  # the minimal and unusable-source records


# ------------------------------------------------------------------ 3. hostile and unusual partition values

def test_hostile_and_unusual_partition_values_stay_inside_their_tables_and_readers_agree(tmp_path):
    tag = uuid.uuid4().hex[:12]
    lake = tmp_path / "lake"
    hostile = ["café", "東京", "a b", " ", "%2e%2e", "a%2Fb", "a/b", ".", "..", "../../up2-" + tag,
               "../../../../../../up6-" + tag, "/abs-" + tag, "=", "a=b", "tenant_id=acme", "", "A", "_unknown",
               "a" * 65, "acme/../..", "x\\y", "__HIVE_DEFAULT_PARTITION__"]
    # (a) Real DLQ records from envelope-check: hostile tenants, and hostile event types of a real tenant.
    lines = [line(envelope(event_id=f"t{i}", tenant_id=v)) for i, v in enumerate(hostile)]
    lines += [line(envelope(event_id=f"e{i}", event_type=v)) for i, v in enumerate(hostile)]
    ec_dlq = tmp_path / "ec.dlq"
    status, out, err = run([binary("envelope-check"), *TENANTS, "--dlq", str(ec_dlq)], b"".join(lines))
    assert status == 0 and out == b"", err
    records = read_ndjson(ec_dlq)
    assert len(records) == 2 * len(hostile)
    # (b) Hand-made DLQ records: ids that are not strings, control characters, odd but safe ids, extreme dates.
    crafted = [
        dlq_record("c-null", tenant=None, event_type=None, reason="invalid_json"),
        dlq_record("c-number", tenant=7, event_type=["x"], reason="wrong_type"),
        dlq_record("c-nul", tenant="a\u0000b", event_type="b\nc", reason="unsafe_id"),
        dlq_record("c-dots", tenant="a..", event_type="x..y", time="1900-01-01T00:00:00.000Z"),
        dlq_record("c-digit", tenant="0", event_type="0.9", time="2999-12-31T23:59:59.999Z"),
        dlq_record("c-marks", tenant="z-_.", event_type="e-", time="1969-12-31T23:59:59.999Z"),
        dlq_record("c-64", tenant="t" * 64, event_type="b" * 64, time="2000-02-29T00:00:00.000Z"),
    ]
    del crafted[0]["tenant_id"]  # absent rather than null
    records += crafted
    dlq_in = tmp_path / "all.dlq"
    dlq_in.write_bytes(ndjson(records))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake), "--batch-rows", "7", "--input", str(dlq_in)], cwd=cwd)
    assert status == 0, err

    # Bronze: valid but unusual tenant and event type names, extreme but valid dates (docs/envelope.md: 1900-2999).
    tenants = ["a.b-c_d", "0", "t" + "9" * 63]
    event_types = ["x.y.z", "0.9", "a..b", "e-", "x_", "b" * 64]
    instants = [("1900-01-01T00:00:00Z", "1900-01-01"), ("1969-12-31T23:59:59.999999Z", "1969-12-31"),
                ("1970-01-01T00:00:00Z", "1970-01-01"), ("2000-02-29T23:59:59.5Z", "2000-02-29"),
                ("2262-04-11T23:47:16.854776Z", "2262-04-11"), ("2999-12-31T23:59:59.999999Z", "2999-12-31")]
    bronze_expected, bronze_lines = {}, []
    for i in range(36):
        t, e, (when, day) = tenants[i % 3], event_types[i % 6], instants[(i // 6) % 6]
        rec = envelope(event_id=f"b{i}", tenant_id=t, event_type=e, event_time_utc=when, ingest_time_utc=when,
                       site_id="../../site-" + tag, device_id="東京/café")  # ids that are data, never paths
        rec["_source"] = {"source": "odd", "partition": 0, "offset": i}
        bronze_lines.append(line(rec))
        bronze_expected[f"b{i}"] = ((t, e, day), when)
    policy = ["--tenants", ",".join(tenants)]
    status, valid, err = run([binary("envelope-check"), *policy, "--dlq", str(tmp_path / "b.dlq")], b"".join(bronze_lines))
    assert status == 0 and valid == b"".join(bronze_lines), err
    status, out, err = run([binary("bronze-sink"), "--lake", str(lake), *policy, "--batch-rows", "10",
                            "--dlq", str(tmp_path / "b.dlq")], valid, cwd=cwd)
    assert status == 0 and out == valid, err

    # Nothing was created outside the tables: walk the whole temporary directory.
    assert {p.name for p in tmp_path.iterdir()} <= {"lake", "cwd", "ec.dlq", "all.dlq", "b.dlq"}
    assert not (tmp_path / "b.dlq").exists() or (tmp_path / "b.dlq").read_bytes() == b""
    assert list(cwd.iterdir()) == []
    assert {p.name for p in lake.iterdir()} == {"dlq", "bronze", "audit"}
    assert [p.name for p in (lake / "dlq").iterdir()] == ["events"]
    assert [p.name for p in (lake / "bronze").iterdir()] == ["events"]
    assert [p.name for p in (lake / "audit").iterdir()] == ["audit_pipeline_batches"]
    for p in tmp_path.rglob("*"):
        assert not p.is_symlink() and p.resolve().is_relative_to(tmp_path.resolve()), p
        assert tag not in p.name, f"a hostile value became a path: {p}"
        assert not p.name.endswith(".tmp"), f"temporary file left behind: {p}"
    for ancestor in [tmp_path, *tmp_path.parents]:
        for name in ("up2-", "up6-", "abs-"):
            assert not (ancestor / (name + tag)).exists()
    assert not pathlib.Path("/abs-" + tag).exists()
    audit = lake / "audit" / "audit_pipeline_batches"
    assert all(p.parent == audit or p.parent.name == "_delta_log" for p in audit.rglob("*") if p.is_file())

    # DLQ: safe ids are their own partition, anything else is _unknown; the value as sent is kept.
    dlq_table = lake / "dlq" / "events"
    layout = assert_partition_layout(dlq_table)

    def part(value):
        return value if isinstance(value, str) and SAFE_ID.match(value) else "_unknown"

    dlq_expected = {}
    for rec in records:
        day = dt.datetime.fromisoformat(rec["time"].replace("Z", "+00:00")).date().isoformat()
        dlq_expected[rec["raw"]] = ((part(rec.get("tenant_id")), part(rec.get("event_type")), day), rec)
    assert layout == {p for p, _ in dlq_expected.values()}
    assert {t for t, _, _ in layout} == {"_unknown", "acme", "a..", "0", "z-_.", "t" * 64}
    assert {d for _, _, d in layout} >= {"1900-01-01", "2999-12-31", "1969-12-31", "2000-02-29"}
    by_reader = partitions_by_reader(dlq_table, "raw")
    for reader, got in by_reader.items():
        assert got == {raw: p for raw, (p, _) in dlq_expected.items()}, reader
    for r in table_rows(dlq_table, ["raw", "reported_tenant_id", "reported_event_type"]):
        rec = dlq_expected[r["raw"]][1]
        want_t, want_e = rec.get("tenant_id"), rec.get("event_type")
        assert r["reported_tenant_id"] == (want_t if isinstance(want_t, str) else None)
        assert r["reported_event_type"] == (want_e if isinstance(want_e, str) else None)
    delta_check(dlq_table)

    # Bronze: the unusual names are partitions of their own, the extreme instants keep every microsecond.
    bronze_table = lake / "bronze" / "events"
    layout = assert_partition_layout(bronze_table)
    assert layout == {p for p, _ in bronze_expected.values()}
    for reader, got in partitions_by_reader(bronze_table, "event_id").items():
        assert got == {k: p for k, (p, _) in bronze_expected.items()}, reader
    for r in table_rows(bronze_table, ["event_id", "event_time_utc", "ingest_time_utc", "site_id", "device_id"]):
        when = bronze_expected[r["event_id"]][1]
        assert r["event_time_utc"] == r["ingest_time_utc"] == dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        assert (r["site_id"], r["device_id"]) == ("../../site-" + tag, "東京/café")
    delta_check(bronze_table)
    delta_check(audit)


# ------------------------------------------------------------------ 4. redrive boundaries

T0, T1, T2, T3, T4 = ("2026-02-28T12:00:00.000Z", "2026-03-01T23:59:59.999999Z", "2026-03-02T00:00:00Z",
                      "2026-03-02T00:00:00.000001Z", "2026-03-03T00:00:00.000Z")


def test_redrive_time_range_is_since_inclusive_until_exclusive_to_the_microsecond_with_stage_and_reason(tmp_path):
    lake = tmp_path / "lake"
    # (time, stage, reason, tenant, original line bytes, truncated)
    stored = [
        (T0, "envelope-check", "bad_timestamp", "acme", b"r0 plain", False),
        (T1, "envelope-check", "bad_timestamp", "acme", '{"r1":"\\"é\\"\\u0041\t\\\\"}'.encode(), False),
        (T1, "bronze-sink", "invalid_json", "globex", b"r1b {\"unterminated", False),
        (T2, "envelope-check", "bad_timestamp", "globex", "r2 東京 ✓ 🚀".encode(), False),
        (T2, "silver-validate", "schema_violation", "acme", b"  r2s leading and trailing spaces  ", False),
        (T2, "envelope-check", "invalid_utf8", None, b'{"r2u":"\xff\xfe\xc3"}', False),
        (T2, "envelope-check", "line_too_long", "acme", b'{"r2t":"' + b"x" * 100, True),
        (T3, "bronze-sink", "bad_timestamp", "acme", b"r3 with a \x00 NUL and a \x7f DEL", False),
        (T3, "envelope-check", "unsafe_id", "../x", b'{"tenant_id":"../x"}', False),
        (T4, "envelope-check", "bad_timestamp", "acme", b"r4 later", False),
    ]
    recs = []
    for i, (when, stage, reason, tenant, raw, truncated) in enumerate(stored):
        try:
            text = raw.decode("utf-8")
            rec = dlq_record(text, raw_length=len(raw) * (10 if truncated else 1), truncated=truncated)
        except UnicodeDecodeError:
            rec = dlq_record(raw_base64=base64.b64encode(raw).decode())
        rec.update(stage=stage, reason=reason, tenant_id=tenant, time=when, line=i + 1)
        recs.append(rec)
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake)], ndjson(recs))
    assert status == 0, err
    assert len(table_rows(lake / "dlq" / "events", ["raw"])) == len(stored)

    def expect(since=None, until=None, stages=None, reasons=None, tenant=None):
        lines, truncated = [], 0
        for when, stage, reason, rec_tenant, raw, trunc in stored:
            at = micros(when)
            if since is not None and at < micros(since):
                continue
            if until is not None and at >= micros(until):
                continue
            if stages is not None and stage not in stages:
                continue
            if reasons is not None and reason not in reasons:
                continue
            if tenant is not None and rec_tenant != tenant:
                continue
            if trunc:
                truncated += 1
            else:
                lines.append(raw)
        return sorted(lines), truncated

    cases = [
        ({"since": T2}, {}),
        ({"until": T2}, {}),
        ({"since": T1}, {}),
        ({"until": T1}, {}),
        ({"since": T1, "until": T2}, {}),
        ({"since": T2, "until": T3}, {}),
        ({"since": T2, "until": T2}, {}),
        ({"until": T3}, {}),
        ({"since": T3}, {}),
        ({"since": T3, "until": T4}, {}),
        ({"since": T2}, {"since": "2026-03-02T00:00:00.000000Z"}),
        ({"since": T2}, {"since": "2026-03-02T00:00:00+00:00"}),
        ({"until": T3}, {"until": "2026-03-02T00:00:00.000001000Z"}),
        ({"stages": ["bronze-sink"]}, {}),
        ({"stages": ["envelope-check", "silver-validate"]}, {}),
        ({"stages": ["no-such-stage"]}, {}),
        ({"reasons": ["bad_timestamp"], "since": T2}, {}),
        ({"reasons": ["bad_timestamp", "invalid_json"], "since": T1, "until": T3}, {}),
        ({"reasons": ["invalid_utf8", "line_too_long"], "stages": ["envelope-check"], "since": T2}, {}),
        ({"reasons": ["bad_timestamp"], "stages": ["bronze-sink"], "until": T3}, {}),
        ({"tenant": "acme", "since": T2, "until": T4}, {}),
        ({}, {}),
    ]
    for filters, spelled in cases:
        spelled = {**filters, **spelled}
        flags = []
        for key, flag in (("since", "--since"), ("until", "--until"), ("tenant", "--tenant")):
            if key in spelled:
                flags += [flag, spelled[key]]
        if "stages" in spelled:
            flags += ["--stage", ",".join(spelled["stages"])]
        if "reasons" in spelled:
            flags += ["--reason", ",".join(spelled["reasons"])]
        status, out, err = run([binary("dlq-sink"), "--lake", str(lake), "--redrive", *flags])
        assert status == 0, (flags, err)
        want, truncated = expect(**filters)
        assert out == b"" or out.endswith(b"\n"), flags
        assert sorted(out.split(b"\n")[:-1]) == want, flags  # byte for byte, one line per record
        s = summary(err)
        assert (s["rows_out"], s["skipped_truncated"]) == (len(want), truncated), (flags, s)
    # The boundaries actually separate records (the cases above are not vacuous).
    assert expect(since=T2)[0] != expect(since=T3)[0] != expect()[0]
    assert len(expect(until=T2)[0]) == 3 and expect(since=T2, until=T3) == (sorted(s[4] for s in stored[3:6]), 1)


# ------------------------------------------------------------------ 5. regressions of bugs an audit found

@pytest.mark.parametrize("field,value", [("ingest_time_utc", "0000-01-01T00:00:00Z"),
                                         ("event_time_utc", "9999-12-31T23:59:59.999999Z")])
def test_envelope_check_rejects_a_year_no_reader_can_handle_as_bad_timestamp(tmp_path, field, value):
    good = events(30)
    bad = envelope(event_id="clock-fault", **{field: value})
    bad["_source"] = {"source": "gen:t", "partition": 9, "offset": 0}
    data = ndjson(good[:15]) + line(bad) + ndjson(good[15:])
    status, valid, err = run([binary("envelope-check"), *TENANTS, "--dlq", str(tmp_path / "ec.dlq")], data)
    assert status == 0, err
    rejects = read_ndjson(tmp_path / "ec.dlq") if (tmp_path / "ec.dlq").exists() else []
    assert [(r["reason"], r["field"], r["raw"]) for r in rejects] == [("bad_timestamp", field, line(bad)[:-1].decode())]
    assert valid == ndjson(good)
    lake = tmp_path / "lake"
    status, _, err = run([binary("bronze-sink"), "--lake", str(lake), *TENANTS, "--dlq", str(tmp_path / "b.dlq")], valid)
    assert status == 0, err
    delta_check(lake / "bronze" / "events")
    # bronze-sink checks envelopes too: fed the bad line directly, it rejects it and its table stays readable.
    lake2 = tmp_path / "lake2"
    status, out, err = run([binary("bronze-sink"), "--lake", str(lake2), *TENANTS, "--dlq", str(tmp_path / "b2.dlq")], data)
    assert status == 0, err
    assert out == ndjson(good)
    assert [r["reason"] for r in read_ndjson(tmp_path / "b2.dlq")] == ["bad_timestamp"]
    delta_check(lake2 / "bronze" / "events")


def test_dlq_sink_stores_a_record_with_an_unreadable_year_at_the_time_it_stored_it(tmp_path):
    lake = tmp_path / "lake"
    recs = [dlq_record("year zero", time="0000-06-01T00:00:00.000Z"),
            dlq_record("year 9999", time="9999-12-31T23:59:59.999999Z"),
            dlq_record("normal", time="2026-03-01T12:00:00.000Z")]
    before = dt.datetime.now(dt.timezone.utc)
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake)], ndjson(recs))
    after = dt.datetime.now(dt.timezone.utc)
    assert status == 0, err
    table = lake / "dlq" / "events"
    delta_check(table)
    rows = {r["raw"]: r for r in table_rows(table, ["raw", "time", "ingest_date"])}
    for raw in ("year zero", "year 9999"):
        assert before - dt.timedelta(seconds=1) <= rows[raw]["time"] <= after
        assert str(rows[raw]["ingest_date"]) == rows[raw]["time"].date().isoformat()
    assert rows["normal"]["time"].isoformat() == "2026-03-01T12:00:00+00:00"


def test_dlq_sink_puts_the_rejected_unknown_tenant_or_event_type_in_the_unknown_partition(tmp_path):
    lake = tmp_path / "lake"
    dlq = tmp_path / "ec.dlq"
    for flags, lines in [
        (["--tenants", "acme,globex"], [envelope(event_id="u1", tenant_id="umbrella"),
                                        envelope(event_id="u2", tenant_id="hooli", event_type="door.open")]),
        (["--tenant", "acme"], [envelope(event_id="m1", tenant_id="globex")]),
        (["--tenant", "acme", "--event-types", "thermostat.telemetry"], [envelope(event_id="e1", event_type="door.open")]),
    ]:
        status, out, err = run([binary("envelope-check"), *flags, "--dlq", str(dlq)], ndjson(lines))
        assert status == 0 and out == b"", err
    records = read_ndjson(dlq)
    assert [r["reason"] for r in records] == ["unknown_tenant", "unknown_tenant", "tenant_mismatch", "unknown_event_type"]
    status, _, err = run([binary("dlq-sink"), "--lake", str(lake), "--input", str(dlq)])
    assert status == 0, err
    table = lake / "dlq" / "events"
    rows = {json.loads(r["raw"])["event_id"]: r for r in table_rows(table)}
    expected = {"u1": ("_unknown", "thermostat.telemetry", "umbrella", "thermostat.telemetry"),
                "u2": ("_unknown", "door.open", "hooli", "door.open"),
                "m1": ("_unknown", "thermostat.telemetry", "globex", "thermostat.telemetry"),
                "e1": ("acme", "_unknown", "acme", "door.open")}
    for event_id, (tenant, event_type, reported_tenant, reported_event_type) in expected.items():
        r = rows[event_id]
        assert (r["tenant_id"], r["event_type"]) == (tenant, event_type), r
        assert (r["reported_tenant_id"], r["reported_event_type"]) == (reported_tenant, reported_event_type)
    assert {r["raw"] for r in rows.values()} == {rec["raw"] for rec in records}  # raw lines keep the original value
    assert {t for t, _, _ in assert_partition_layout(table)} == {"_unknown", "acme"}
    delta_check(table)


@pytest.mark.parametrize("stage", ["bronze-sink", "dlq-sink"])
def test_a_position_replayed_inside_one_batch_is_stored_once(tmp_path, stage):
    lake = tmp_path / "lake"
    if stage == "bronze-sink":
        data = ndjson(events(20))
        table, key = lake / "bronze" / "events", "event_id"
        flags = [*TENANTS, "--dlq", str(tmp_path / "b.dlq")]
    else:
        recs = []
        for i in range(20):
            recs.append(dlq_record(f"replayed {i}", source={"source": "gen:t", "partition": i % 4, "offset": i // 4},
                                   line=i + 1))
        data = ndjson(recs)
        table, key = lake / "dlq" / "events", "raw"
        flags = []
    status, _, err = run([binary(stage), "--lake", str(lake), *flags], data + data)  # the same 20 lines twice, one run
    assert status == 0, err
    keys = [r[key] for r in table_rows(table, [key])]
    assert len(set(keys)) == 20
    assert len(keys) == 20


@pytest.mark.parametrize("stage", ["bronze-sink", "dlq-sink"])
def test_a_failed_commit_leaves_a_failed_audit_row_with_its_error(tmp_path, stage):
    lake = tmp_path / "lake"
    subpath = "bronze/events" if stage == "bronze-sink" else "dlq/events"
    log = lake / subpath / "_delta_log"
    audit_log = lake / "audit" / "audit_pipeline_batches" / "_delta_log"
    flags = [*TENANTS, "--dlq", str(tmp_path / "b.dlq")] if stage == "bronze-sink" else []
    proc = subprocess.Popen([binary(stage), "--lake", str(lake), *flags, "--flush-interval", "600"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Both tables are created when the stage starts; then the next version of the data table is taken
        # by garbage (a broken writer), and the batch in hand is committed at EOF.
        wait_for([log / f"{0:020d}.json", audit_log / f"{0:020d}.json"])
        (log / f"{1:020d}.json").write_bytes(b"garbage\n")
        data = ndjson(events(5)) if stage == "bronze-sink" else ndjson([dlq_record(f"r{i}") for i in range(5)])
        out, err = proc.communicate(data, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err.decode()
    assert proc.returncode == 78, err
    assert out == b""  # nothing was committed, so nothing is forwarded
    assert summary(err)["status"] == "failed"
    audit = table_rows(lake / "audit" / "audit_pipeline_batches")
    failed = [r for r in audit if r["status"] == "failed"]
    assert len(failed) == 1, audit
    r = failed[0]
    assert r["stage"] == stage and r["error"] and r["input_rows"] == 5 and r["output_rows"] == 0
    assert r["table_version"] is None
    delta_check(lake / "audit" / "audit_pipeline_batches")

"""silver-validate as users run it: real processes reading Bronze-style envelope NDJSON, writing
typed silver/<event_type> Delta tables, the per-rule counts table and the audit table, forwarding the
committed rows and sending rejects to the DLQ. Every table is read back with real readers
(deltalake, pyarrow, duckdb, and ../shared/tools/delta_check.py for all six)."""
import base64
import datetime
import itertools
import json
import os
import pathlib
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

import deltalake
import duckdb
import pyarrow as pa
import pytest

from conftest import ROOT, SHARED, binary, envelope, events_named, line, read_ndjson, run, summary

TREE = ["configs", "schemas", "rules", "pipelines"]
THERMO, DOOR, ENERGY = "thermostat.telemetry", "door.access", "energy.meter"
UTC = datetime.timezone.utc

THERMO_PAYLOAD = {"temperature": 21.5, "unit": "C", "humidity": 40.0, "setpoint": 21.0, "mode": "heat", "battery_pct": 90}
DOOR_PAYLOAD = {"door_id": "D-17", "direction": "in", "badge_id": "b-0042", "granted": False, "reason": None}


# ---------------------------------------------------------------- helpers

def copy_tree(dest: pathlib.Path) -> pathlib.Path:
    for name in TREE:
        shutil.copytree(ROOT / name, dest / name)
    return dest


# The bundled thermostat standardisation, enrichment and derivation, under custom rules.
THERMO_REST = """standardize:
  - {field: temperature, op: to_celsius, unit_field: unit}
  - {field: setpoint, op: to_celsius, unit_field: unit}
enrich:
  - {lookup: sites, key: site_id, fields: [region, timezone]}
derive:
  - {name: event_date_local, fn: local_date, field: event_time_utc}
"""


def write_rules(tree: pathlib.Path, event_type: str, rules: str) -> None:
    """Replaces the event type's rules file: `rules` (YAML list items), plus the bundled thermostat
    standardize/enrich/derive sections for thermostat.telemetry."""
    rest = THERMO_REST if event_type == THERMO else ""
    (tree / "rules" / "event_types" / f"{event_type}.yaml").write_text(
        f"version: 1\nevent_type: {event_type}\nrules:\n{rules}{rest}")


def _record(event_type, event_id, payload, source, partition, offset, changes):
    base = {"event_type": event_type, "event_id": event_id, "payload": payload}
    base.update(changes)
    rec = envelope(**base)  # a key given as None is removed
    if offset is not None:
        rec["_source"] = {"source": source, "partition": partition, "offset": offset}
    return rec


def thermo(n, payload=None, *, offset="n", source="test", partition=0, **changes):
    """A valid thermostat.telemetry 1.0 envelope (site acme-s01, Europe/Berlin) at _source offset n."""
    p = dict(THERMO_PAYLOAD, **(payload or {}))
    changes = {"site_id": "acme-s01", "device_type": "thermostat", **changes}
    return _record(THERMO, f"th-{n}", p, source, partition, n if offset == "n" else offset, changes)


def door(n, payload=None, *, offset="n", source="test", partition=1, **changes):
    """A valid door.access 1.0 envelope (site acme-s02, Europe/Paris)."""
    p = dict(DOOR_PAYLOAD, **(payload or {}))
    changes = {"site_id": "acme-s02", "device_type": "door_controller", **changes}
    return _record(DOOR, f"dr-{n}", p, source, partition, n if offset == "n" else offset, changes)


def ndjson(recs) -> bytes:
    return b"".join(line(r) for r in recs)


class Result:
    """One finished silver-validate run: exit status, forwarded rows, stderr, its DLQ records."""

    def __init__(self, status, out, err, dlq_path):
        self.status, self.out, self.err = status, out, err
        self.rows = [json.loads(l) for l in out.splitlines()]
        self.dlq = read_ndjson(dlq_path) if dlq_path.exists() else []

    @property
    def summary(self):
        return summary(self.err)

    def ids(self):
        return [r["event_id"] for r in self.rows if "_mark" not in r]

    def counts(self):
        return rule_counts(self.err)


_runs = itertools.count()


def silver(lake, data=b"", *flags, config=ROOT, tenant="acme", cwd=None, dlq=None) -> Result:
    """Runs silver-validate to completion over `data` (stdin); each run gets its own DLQ file."""
    lake = pathlib.Path(lake)
    dlq = pathlib.Path(dlq) if dlq else lake.parent / f"silver-{next(_runs)}.dlq.ndjson"
    args = [binary("silver-validate"), "--config", str(config), "--tenant", tenant, "--dlq", str(dlq), "--lake", str(lake)]
    status, out, err = run(args + list(flags), data, cwd=cwd)
    return Result(status, out, err, dlq)


RULE_COUNTS = re.compile(r"^(\S+) rule '([^']+)' \((\w+), (\w+)\): passed (\d+), failed (\d+)$")


def rule_counts(stderr: str) -> dict:
    """{(event_type, rule): (passed, failed)} from the `rule_counts` info lines."""
    out = {}
    for obj in events_named(stderr, "rule_counts"):
        m = RULE_COUNTS.match(obj["msg"])
        assert m, f"unparseable rule_counts line: {obj['msg']}"
        out[(m[1], m[2])] = (int(m[5]), int(m[6]))
    return out


def errors(stderr: str) -> list:
    return [obj["msg"] for obj in events_named(stderr, "error")]


def delta_check(table):
    """../shared/tools/delta_check.py --quiet with six readers; returns (exit status, FAIL lines, output)."""
    proc = subprocess.run([sys.executable, str(SHARED / "tools" / "delta_check.py"), str(table), "--quiet",
                           "--require-delta-scan"], capture_output=True, text=True, timeout=300)
    fails = [l for l in proc.stdout.splitlines() if l.startswith("FAIL")]
    return proc.returncode, fails, proc.stdout[-6000:] + proc.stderr[-3000:]


def assert_delta_check(table):
    status, _, output = delta_check(table)
    assert status == 0, f"delta_check failed for {table}:\n{output}"


def silver_table(lake, event_type):
    return pathlib.Path(lake) / "silver" / event_type


def read_table(path, columns=None) -> pa.Table:
    return deltalake.DeltaTable(str(path)).to_pyarrow_table(columns=columns)


def rows_by_id(path, columns=None) -> dict:
    rows = read_table(path, columns).to_pylist()
    ids = [r["event_id"] for r in rows]
    assert len(ids) == len(set(ids)), f"an event_id is stored twice in {path}"
    return {r["event_id"]: r for r in rows}


def duck_delta():
    """A duckdb connection with the delta extension loaded offline (as delta_check does)."""
    import duckdb_extension_delta
    ext = pathlib.Path(duckdb_extension_delta.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "delta.duckdb_extension"
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    con.execute("SET TimeZone='UTC'")
    return con


def iso(ts: datetime.datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_forwarded(row: dict) -> dict:
    """A Silver table row as silver-validate forwards it (timestamps as RFC 3339 text, JSON columns as
    objects, the _source position as one object)."""
    out = {}
    for k, v in row.items():
        if k in ("_source_id", "_source_partition", "_source_offset"):
            continue
        if isinstance(v, datetime.datetime):
            v = iso(v)
        elif isinstance(v, datetime.date):
            v = v.isoformat()
        elif k in ("attributes", "_rescued_data") and v is not None:
            v = json.loads(v)
        out[k] = v
    if row["_source_id"] is not None:
        out["_source"] = {"source": row["_source_id"], "partition": row["_source_partition"], "offset": row["_source_offset"]}
    return out


# ---------------------------------------------------------------- 1. the bundled tree on generated events

def test_generated_events_through_bronze_sink_become_typed_silver_tables_that_six_readers_agree_on(tmp_path):
    lake = tmp_path / "lake"
    status, events, err = run([binary("medallion"), "generate", "--count", "3000", "--seed", "11"])
    assert status == 0, err
    # bronze-sink | silver-validate, as the pipeline wires them (Bronze serves all three tenants).
    bronze = subprocess.Popen([binary("bronze-sink"), "--lake", str(lake), "--tenants", "acme,globex,initech",
                               "--dlq", str(tmp_path / "bronze.dlq")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dlq = tmp_path / "silver.dlq"
    sv = subprocess.Popen([binary("silver-validate"), "--config", str(ROOT), "--tenant", "acme", "--lake", str(lake),
                           "--dlq", str(dlq), "--batch-rows", "400"],
                          stdin=bronze.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    bronze.stdout.close()

    def feed():
        bronze.stdin.write(events)
        bronze.stdin.close()
    feeder = threading.Thread(target=feed)  # so no pipe in the chain can fill up while we wait on another
    feeder.start()
    out, sv_err = sv.communicate(timeout=120)
    feeder.join(timeout=60)
    assert bronze.wait(timeout=60) == 0, bronze.stderr.read().decode()
    sv_err = sv_err.decode()
    assert sv.returncode == 0, sv_err

    s = summary(sv_err)
    forwarded = [json.loads(l) for l in out.splitlines()]
    rejects = read_ndjson(dlq)
    assert s["rows_in"] == 3000 == s["rows_out"] + s["rows_dlq"]
    assert s["rows_out"] == len(forwarded) > 500 and s["rows_dlq"] == len(rejects)
    # Only acme's records belong to this pipeline: every other tenant's record is a tenant_mismatch reject.
    assert {r["reason"] for r in rejects} == {"tenant_mismatch"}
    assert {r["tenant_id"] for r in rejects} == {"globex", "initech"}
    assert all(r["stage"] == "silver-validate" and r["source"] and r["raw"] for r in rejects)
    assert {r["tenant_id"] for r in forwarded} == {"acme"}
    assert sum(1 for l in events.splitlines() if b'"tenant_id":"acme"' in l) == len(forwarded)

    per_type = {}
    for r in forwarded:
        per_type.setdefault(r["event_type"], []).append(r)
    assert set(per_type) == {THERMO, DOOR, ENERGY}
    for event_type, rows in per_type.items():
        table = silver_table(lake, event_type)
        assert_delta_check(table)
        stored = rows_by_id(table)
        assert len(stored) == len(rows)  # rows read back == rows forwarded, per event type
        for r in rows:  # each forwarded row is exactly what the table holds
            assert as_forwarded(stored[r["event_id"]]) == r
        dirs = {p.relative_to(table).parts[0] for p in table.rglob("*.parquet")}
        assert dirs == {"tenant_id=acme"}

    thermo_schema = read_table(silver_table(lake, THERMO)).schema
    assert thermo_schema.field("temperature").type == pa.float64()
    assert thermo_schema.field("battery_pct").type == pa.int64()
    assert thermo_schema.field("co2_ppm").type == pa.int64()  # union of the 1.0 and 1.1 schemas
    assert thermo_schema.field("event_time_utc").type == pa.timestamp("us", tz="UTC")
    assert thermo_schema.field("ingest_date").type == pa.date32()
    assert thermo_schema.field("event_date_local").type == pa.date32()
    assert thermo_schema.names[-6:] == ["attributes", "_rescued_data", "_quality_warnings", "_source_id",
                                        "_source_partition", "_source_offset"]
    door_schema = read_table(silver_table(lake, DOOR)).schema
    assert door_schema.field("granted").type == pa.bool_()
    assert door_schema.field("event_hour_local").type == pa.int32()
    thermo_rows = read_table(silver_table(lake, THERMO)).to_pylist()
    assert {r["unit"] for r in thermo_rows} == {"C"}  # standardised
    assert all(r["ingest_date"] == r["ingest_time_utc"].date() for r in thermo_rows)
    assert all(r["region"] and r["timezone"] for r in thermo_rows)  # every generated site is in acme's reference data

    # Per-rule counts of the run: every thermostat row passed every rule of the bundled tree (counted once each).
    counts = rule_counts(sv_err)
    assert counts[(THERMO, "temperature_present")] == (len(per_type[THERMO]), 0)
    quality = read_table(lake / "audit" / "quality_rule_counts").to_pylist()
    assert sum(q["passed"] + q["failed"] for q in quality if q["rule"] == "temperature_present") == len(per_type[THERMO])
    audit = [a for a in read_table(lake / "audit" / "audit_pipeline_batches").to_pylist() if a["stage"] == "silver-validate"]
    assert len(audit) >= 2 and all(a["input_rows"] == a["output_rows"] + a["dlq_rows"] for a in audit)
    assert sum(a["input_rows"] for a in audit) == 3000
    for table in ("quality_rule_counts", "audit_pipeline_batches"):
        assert_delta_check(lake / "audit" / table)


# ---------------------------------------------------------------- 2. rules: every kind, every action

# kind → (rule, [(record, kept?)]): the failing records must be dropped naming the rule.
RULE_CASES = {
    "not_null": (
        "{name: site_listed, kind: not_null, field: region, action: drop}",  # an enriched column
        [(thermo(0), True), (thermo(1, site_id="acme-s99"), False)]),
    "range": (
        "{name: co2_sane, kind: range, field: co2_ppm, min: 250, max: 5000, action: drop}",
        [(thermo(0, {"co2_ppm": 800}, schema_version="1.1"), True),
         (thermo(1, {"co2_ppm": 9000}, schema_version="1.1"), False),
         (thermo(2, {"co2_ppm": 100}, schema_version="1.1"), False),
         (thermo(3), True)]),  # 1.0 has no co2_ppm: null passes a range rule
    "regex": (
        r"{name: fw_semver, kind: regex, field: attributes.fw, pattern: '^[0-9]+\.[0-9]+\.[0-9]+$', action: drop}",
        [(thermo(0, attributes={"fw": "2.1.0"}), True), (thermo(1, attributes={"fw": "2.1-beta"}), False),
         (thermo(2, attributes=None), True)]),  # no attributes: null passes
    "allowed_values": (
        "{name: west_only, kind: allowed_values, field: region, values: [eu-west], action: drop}",
        [(thermo(0), True), (thermo(1, site_id="acme-s03"), False),  # acme-s03 is eu-north
         (thermo(2, site_id="acme-s99"), True)]),  # unknown site: null region passes
    "cross_field": (
        "{name: setpoint_le_temp, kind: cross_field, field: setpoint, op: le, other_field: temperature, action: drop}",
        [(thermo(0, {"setpoint": 20.0}), True), (thermo(1, {"setpoint": 21.5}), True),
         (thermo(2, {"setpoint": 25.0}), False)]),
    "freshness": (
        "{name: fresh, kind: freshness, field: event_time_utc, max_age_seconds: 600, action: drop}",
        [(thermo(0), True),
         (thermo(1, event_time_utc="2026-03-01T11:50:01Z", ingest_time_utc="2026-03-01T12:00:01Z"), True),  # exactly 600 s
         (thermo(2, event_time_utc="2026-03-01T11:50:00Z", ingest_time_utc="2026-03-01T12:00:01Z"), False),
         (thermo(3, event_time_utc="2026-03-01T12:30:00Z", ingest_time_utc="2026-03-01T12:00:01Z"), True)]),
    "unique": (
        "{name: once, kind: unique, field: event_id, window: 1h, action: drop}",
        [(thermo(0), True), (thermo(1, event_id="th-0"), False),  # same id, another position, within 1 h
         (thermo(2, event_id="th-0", event_time_utc="2026-03-01T13:30:00Z", ingest_time_utc="2026-03-01T13:30:01Z"), True)]),
}


@pytest.mark.parametrize("kind", sorted(RULE_CASES))
def test_each_rule_kind_with_action_drop_sends_exactly_its_failures_to_the_dlq_naming_the_rule(tmp_path, kind):
    tree = copy_tree(tmp_path / "tree")
    rule, cases = RULE_CASES[kind]
    name = re.search(r"name: (\w+)", rule)[1]
    field = re.search(r"field: ([\w.]+)", rule)[1]
    write_rules(tree, THERMO, f"  - {rule}\n")
    recs = [r for r, _ in cases]
    res = silver(tmp_path / "lake", ndjson(recs), "--event-types", THERMO, config=tree)
    assert res.status == 0, res.err
    kept = [i for i, (_, k) in enumerate(cases) if k]
    dropped = [i for i, (_, k) in enumerate(cases) if not k]
    assert [r["_source"]["offset"] for r in res.rows] == kept
    assert len(res.dlq) == len(dropped)
    for d, i in zip(res.dlq, dropped):
        assert d["reason"] == ("duplicate_event" if kind == "unique" else "rule_failed")
        assert d["rule"] == name and d["field"] == field and d["stage"] == "silver-validate"
        assert (d["tenant_id"], d["event_type"], d["line"]) == ("acme", THERMO, i + 1)
        assert d["source"] == recs[i]["_source"] and d["raw"].encode() + b"\n" == line(recs[i])
        assert name in d["message"]
    assert res.counts()[(THERMO, name)] == (len(kept), len(dropped))
    stored = read_table(silver_table(tmp_path / "lake", THERMO), ["_source_offset", "_quality_warnings"]).to_pylist()
    assert sorted(r["_source_offset"] for r in stored) == kept
    assert all(r["_quality_warnings"] is None for r in stored)


def test_warn_rules_keep_the_row_list_every_failed_rule_in_quality_warnings_and_count_it(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    write_rules(tree, THERMO, """  - {name: co2_present, kind: not_null, field: co2_ppm, action: warn}
  - {name: cool_enough, kind: range, field: temperature, max: 25, action: warn}
  - {name: heat_only, kind: allowed_values, field: mode, values: [heat], action: warn}
""")
    recs = [thermo(0, {"co2_ppm": 500}, schema_version="1.1"),            # passes all three
            thermo(1),                                                   # no co2_ppm
            thermo(2, {"temperature": 30.0, "mode": "cool"}),            # all three fail
            thermo(3, {"temperature": 86.0, "unit": "F"})]              # 30 °C after standardisation: too warm
    lake = tmp_path / "lake"
    res = silver(lake, ndjson(recs), "--event-types", THERMO, config=tree)
    assert res.status == 0, res.err
    assert res.dlq == [] and res.summary["rows_dlq"] == 0
    warnings = ["", "co2_present", "co2_present,cool_enough,heat_only", "co2_present,cool_enough"]
    assert [r["_quality_warnings"] or "" for r in res.rows] == warnings
    stored = rows_by_id(silver_table(lake, THERMO))
    assert [stored[f"th-{i}"]["_quality_warnings"] or "" for i in range(4)] == warnings
    assert res.counts() == {(THERMO, "co2_present"): (1, 3), (THERMO, "cool_enough"): (2, 2), (THERMO, "heat_only"): (3, 1)}
    quality = {q["rule"]: q for q in read_table(lake / "audit" / "quality_rule_counts").to_pylist()}
    assert {r: (q["passed"], q["failed"], q["action"], q["kind"]) for r, q in quality.items()} == {
        "co2_present": (1, 3, "warn", "not_null"), "cool_enough": (2, 2, "warn", "range"),
        "heat_only": (3, 1, "warn", "allowed_values")}


def test_a_record_failing_two_drop_rules_is_one_dlq_record_naming_the_first_and_both_are_counted(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    write_rules(tree, THERMO, """  - {name: warm_enough, kind: range, field: temperature, min: 10, action: drop}
  - {name: charged, kind: range, field: battery_pct, min: 20, action: drop}
  - {name: heat_only, kind: allowed_values, field: mode, values: [heat], action: warn}
""")
    recs = [thermo(0, {"temperature": 5.0, "battery_pct": 5, "mode": "cool"}), thermo(1, {"battery_pct": 5}), thermo(2)]
    res = silver(tmp_path / "lake", ndjson(recs), "--event-types", THERMO, config=tree)
    assert res.status == 0, res.err
    assert res.ids() == ["th-2"]
    assert [(d["reason"], d["rule"], d["field"]) for d in res.dlq] == [
        ("rule_failed", "warm_enough", "temperature"), ("rule_failed", "charged", "battery_pct")]
    assert "5.0 is below min 10" in res.dlq[0]["message"]
    assert res.counts() == {(THERMO, "warm_enough"): (2, 1), (THERMO, "charged"): (1, 2), (THERMO, "heat_only"): (2, 1)}
    assert res.summary["rows_in"] == 3 and res.summary["rows_out"] == 1 and res.summary["rows_dlq"] == 2


def test_a_fail_rule_exits_65_naming_rule_and_record_and_commits_nothing_of_that_batch(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    write_rules(tree, THERMO, "  - {name: sensor_sane, kind: range, field: temperature, max: 60, action: fail}\n")
    lake = tmp_path / "lake"
    recs = [thermo(i) for i in range(7)] + [thermo(7, {"temperature": 99.0})] + [thermo(i) for i in range(8, 10)]
    res = silver(lake, ndjson(recs), "--event-types", THERMO, "--batch-rows", "3", config=tree)
    assert res.status == 65, res.err
    msgs = errors(res.err)
    assert msgs and "sensor_sane" in msgs[0] and "th-7" in msgs[0] and "line 8" in msgs[0]
    assert "rules/event_types/thermostat.telemetry.yaml" in msgs[0]
    # Batches 1 and 2 (th-0..th-5) were committed and forwarded; the batch holding th-6 and th-7 was not.
    assert res.ids() == [f"th-{i}" for i in range(6)]
    table = silver_table(lake, THERMO)
    assert sorted(rows_by_id(table, ["event_id"])) == [f"th-{i}" for i in range(6)]
    quality = read_table(lake / "audit" / "quality_rule_counts").to_pylist()
    assert sum(q["passed"] for q in quality) == 6 and sum(q["failed"] for q in quality) == 0
    assert_delta_check(table)

    # Fix the data and restart over the same input: the committed rows are forwarded again, nothing is stored twice.
    recs[7] = thermo(7, {"temperature": 23.0})
    res = silver(lake, ndjson(recs), "--event-types", THERMO, "--batch-rows", "3", config=tree)
    assert res.status == 0, res.err
    assert res.ids() == [f"th-{i}" for i in range(10)]
    assert sorted(rows_by_id(table, ["event_id"]), key=lambda e: int(e[3:])) == [f"th-{i}" for i in range(10)]


def test_a_fail_rule_in_the_first_batch_leaves_no_rows_and_forwards_nothing(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    write_rules(tree, THERMO, "  - {name: known_site, kind: not_null, field: region, action: fail}\n")
    lake = tmp_path / "lake"
    res = silver(lake, ndjson([thermo(0), thermo(1, site_id="nowhere"), thermo(2)]), "--event-types", THERMO, config=tree)
    assert res.status == 65
    assert res.out == b""
    assert "known_site" in errors(res.err)[0] and "th-1" in errors(res.err)[0]
    table = silver_table(lake, THERMO)
    assert not table.exists() or read_table(table).num_rows == 0


# ---------------------------------------------------------------- 3. schemas

def test_an_unknown_schema_version_goes_to_the_dlq_and_the_stream_goes_on(tmp_path):
    recs = [thermo(0), thermo(1, schema_version="1.7"), thermo(2, schema_version="2.0"), door(3, schema_version="1.1"), thermo(4)]
    res = silver(tmp_path / "lake", ndjson(recs))
    assert res.status == 0, res.err
    assert res.ids() == ["th-0", "th-4"]
    assert [(d["reason"], d["field"], d["line"]) for d in res.dlq] == [
        ("unknown_schema_version", "schema_version", 2), ("unknown_schema_version", "schema_version", 3),
        ("unknown_schema_version", "schema_version", 4)]
    assert "thermostat.telemetry/v1.7.json" in res.dlq[0]["message"]
    assert "1.0, 1.1" in res.dlq[0]["message"]  # the versions it knows
    assert res.dlq[2]["event_type"] == DOOR and "rule" not in res.dlq[0]


@pytest.mark.parametrize("rec, pointer, keyword", [
    (thermo(0, {"humidity": 101.0}), "/humidity", "maximum"),
    (thermo(0, {"battery_pct": 1.5}), "/battery_pct", "type"),
    (thermo(0, {"temperature": "warm"}), "/temperature", "type"),
    (thermo(0, {"unit": "K"}), "/unit", "enum"),
    (thermo(0, {"temperature": None}), "/temperature", "type"),
    (thermo(0, {"co2_ppm": -5}, schema_version="1.1"), "/co2_ppm", "minimum"),
    (thermo(0, {"co2_ppm": None}, schema_version="1.1"), "/co2_ppm", "type"),
    (door(0, {"badge_id": "B-42"}), "/badge_id", "pattern"),
    (door(0, {"granted": "yes"}), "/granted", "type"),
    (door(0, {"extra": 1}), "/extra", "additionalProperties"),  # door.access declares additionalProperties: false
    (door(0, {"direction": "sideways"}), "/direction", "enum"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_payload_breaking_its_schema_is_a_schema_violation_naming_the_json_pointer(tmp_path, rec, pointer, keyword):
    res = silver(tmp_path / "lake", line(rec) + line(thermo(9)))
    assert res.status == 0, res.err
    assert res.ids() == ["th-9"]
    [d] = res.dlq
    assert d["reason"] == "schema_violation" and "rule" not in d
    assert d["field"] == "payload" + pointer.replace("/", "."), d  # dotted, as DLQ fields are
    assert f"payload{pointer}" in d["message"] and keyword in d["message"], d["message"]
    assert d["raw"].encode() + b"\n" == line(rec) and d["source"] == rec["_source"]


def test_a_missing_required_field_is_a_schema_violation_naming_it(tmp_path):
    rec = thermo(0)
    del rec["payload"]["mode"]
    res = silver(tmp_path / "lake", line(rec))
    [d] = res.dlq
    assert d["reason"] == "schema_violation" and "required" in d["message"] and "mode" in d["message"], d


def test_fields_no_schema_declares_are_rescued_in_thermostat_rows_and_typed_only_under_their_version(tmp_path):
    lake = tmp_path / "lake"
    recs = [thermo(0, {"firmware_note": "é ok", "diag": {"rssi": -61, "hops": [1, 2]}}),
            thermo(1, {"co2_ppm": 900}),                          # a 1.1 field sent as 1.0: not validated, so rescued
            thermo(2, {"co2_ppm": "high"}),                       # likewise, whatever its type
            thermo(3, {"co2_ppm": 900}, schema_version="1.1"),    # declared: typed
            thermo(4)]
    res = silver(lake, ndjson(recs), "--event-types", THERMO)
    assert res.status == 0, res.err
    assert res.dlq == []
    fwd = {r["event_id"]: r for r in res.rows}
    assert fwd["th-0"]["_rescued_data"] == {"firmware_note": "é ok", "diag": {"rssi": -61, "hops": [1, 2]}}
    assert fwd["th-1"]["_rescued_data"] == {"co2_ppm": 900} and fwd["th-1"]["co2_ppm"] is None
    assert fwd["th-2"]["_rescued_data"] == {"co2_ppm": "high"} and fwd["th-2"]["co2_ppm"] is None
    assert fwd["th-3"]["_rescued_data"] is None and fwd["th-3"]["co2_ppm"] == 900
    assert fwd["th-4"]["_rescued_data"] is None
    stored = rows_by_id(silver_table(lake, THERMO))
    assert json.loads(stored["th-0"]["_rescued_data"]) == fwd["th-0"]["_rescued_data"]
    assert json.loads(stored["th-1"]["_rescued_data"]) == {"co2_ppm": 900} and stored["th-1"]["co2_ppm"] is None
    assert stored["th-3"]["co2_ppm"] == 900 and stored["th-4"]["_rescued_data"] is None
    assert "firmware_note" not in read_table(silver_table(lake, THERMO)).schema.names  # no column for it


# ---------------------------------------------------------------- 4. standardisation, enrichment, derivations

def test_fahrenheit_becomes_celsius_for_temperature_and_setpoint_and_the_bundled_rules_judge_celsius(tmp_path):
    lake = tmp_path / "lake"
    recs = [thermo(0, {"temperature": 212.0, "setpoint": 68.0, "unit": "F"}),
            thermo(1, {"temperature": -40.0, "setpoint": 32.0, "unit": "F"}),
            thermo(2, {"temperature": 21.5, "setpoint": 20.0, "unit": "C"}),
            thermo(3, {"temperature": 300.0, "unit": "F"}),   # 148.9 °C: within temperature_plausible (max 150)
            thermo(4, {"temperature": 310.0, "unit": "F"})]   # 154.4 °C: dropped by temperature_plausible
    res = silver(lake, ndjson(recs), "--event-types", THERMO)
    assert res.status == 0, res.err
    fwd = {r["event_id"]: r for r in res.rows}
    assert (fwd["th-0"]["temperature"], fwd["th-0"]["setpoint"], fwd["th-0"]["unit"]) == (100.0, 20.0, "C")
    assert (fwd["th-1"]["temperature"], fwd["th-1"]["setpoint"], fwd["th-1"]["unit"]) == (-40.0, 0.0, "C")
    assert (fwd["th-2"]["temperature"], fwd["th-2"]["setpoint"], fwd["th-2"]["unit"]) == (21.5, 20.0, "C")
    assert fwd["th-3"]["temperature"] == pytest.approx(148.888889, abs=1e-6)
    [d] = res.dlq
    assert (d["reason"], d["rule"], d["source"]["offset"]) == ("rule_failed", "temperature_plausible", 4)
    stored = rows_by_id(silver_table(lake, THERMO))
    assert {(k, r["temperature"], r["setpoint"], r["unit"]) for k, r in stored.items() if k != "th-3"} == {
        ("th-0", 100.0, 20.0, "C"), ("th-1", -40.0, 0.0, "C"), ("th-2", 21.5, 20.0, "C")}


def test_door_access_is_mapped_lowercased_and_enriched_with_its_sites_local_hour(tmp_path):
    lake = tmp_path / "lake"
    recs = [door(0, {"door_id": "Lobby-A", "reason": "expired"}),
            door(1, {"reason": "revoked"}),
            door(2, {"reason": "tailgating"}),  # not in the map: left alone
            door(3, {"reason": None}),
            # 2026-03-29 01:30Z is after the switch to summer time: 03:30 in Paris.
            door(4, event_time_utc="2026-03-29T01:30:00Z", ingest_time_utc="2026-03-29T01:30:01Z"),
            door(5, site_id="acme-s04", event_time_utc="2026-03-01T23:30:00Z", ingest_time_utc="2026-03-01T23:30:01Z")]
    res = silver(lake, ndjson(recs), "--event-types", DOOR)
    assert res.status == 0, res.err
    assert res.dlq == []
    fwd = {r["event_id"]: r for r in res.rows}
    assert [fwd[f"dr-{i}"]["reason"] for i in range(4)] == ["badge_expired", "badge_revoked", "tailgating", None]
    assert fwd["dr-0"]["door_id"] == "lobby-a" and fwd["dr-1"]["door_id"] == "d-17"
    assert (fwd["dr-0"]["region"], fwd["dr-0"]["timezone"], fwd["dr-0"]["event_hour_local"]) == ("eu-west", "Europe/Paris", 13)
    assert fwd["dr-4"]["event_hour_local"] == 3
    assert (fwd["dr-5"]["timezone"], fwd["dr-5"]["event_hour_local"]) == ("Europe/London", 23)
    stored = rows_by_id(silver_table(lake, DOOR))
    assert {k: (r["door_id"], r["reason"], r["event_hour_local"]) for k, r in stored.items()} == {
        k: (r["door_id"], r["reason"], r["event_hour_local"]) for k, r in fwd.items()}
    assert str(stored["dr-4"]["ingest_date"]) == "2026-03-29"


def test_thermostat_rows_get_region_timezone_and_the_local_date_of_their_site(tmp_path):
    lake = tmp_path / "lake"
    late = {"event_time_utc": "2026-03-01T23:30:00Z", "ingest_time_utc": "2026-03-01T23:30:02Z"}
    recs = [thermo(0, site_id="acme-s01", **late),   # Berlin, UTC+1: already 2 March
            thermo(1, site_id="acme-s04", **late),   # London, UTC+0: still 1 March
            thermo(2, site_id="acme-s03", event_time_utc="2026-03-01T22:59:59Z", ingest_time_utc="2026-03-01T23:00:00Z"),
            thermo(3, site_id="acme-s77", **late)]   # not in acme's sites: no region, UTC date, a site_known warning
    res = silver(lake, ndjson(recs), "--event-types", THERMO)
    assert res.status == 0, res.err
    fwd = {r["event_id"]: r for r in res.rows}
    got = {k: (r["region"], r["timezone"], r["event_date_local"], r["_quality_warnings"]) for k, r in fwd.items()}
    assert got == {"th-0": ("eu-west", "Europe/Berlin", "2026-03-02", None),
                   "th-1": ("eu-west", "Europe/London", "2026-03-01", None),
                   "th-2": ("eu-north", "Europe/Stockholm", "2026-03-01", None),
                   "th-3": (None, None, "2026-03-01", "site_known")}
    stored = rows_by_id(silver_table(lake, THERMO))
    assert stored["th-0"]["event_date_local"] == datetime.date(2026, 3, 2)
    assert stored["th-0"]["ingest_date"] == datetime.date(2026, 3, 1)  # partitioned by the UTC ingest date
    assert stored["th-1"]["event_date_local"] == datetime.date(2026, 3, 1)
    assert stored["th-3"]["region"] is None and stored["th-3"]["_quality_warnings"] == "site_known"
    assert res.counts()[(THERMO, "site_known")] == (3, 1)


def test_nested_payload_fields_become_flat_typed_columns_that_rules_standardisation_and_derive_use(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    schema = json.loads((ROOT / "schemas/event_types/thermostat.telemetry/v1.1.json").read_text())
    schema["$id"] = "medallion:thermostat.telemetry:1.2"
    schema["properties"]["location"] = {"type": "object", "required": ["floor"],
                                        "properties": {"floor": {"type": "integer"}, "room": {"type": "string"}}}
    schema["properties"]["reported_at"] = {"type": "string", "format": "date-time"}
    (tree / "schemas/event_types/thermostat.telemetry/v1.2.json").write_text(json.dumps(schema, indent=2))
    write_rules(tree, THERMO, """  - {name: floor_range, kind: range, field: location.floor, min: 0, max: 10, action: drop}
  - {name: room_named, kind: regex, field: location.room, pattern: '^[A-Z][0-9]+$', action: warn}
""")
    rules = tree / "rules/event_types/thermostat.telemetry.yaml"
    rules.write_text(rules.read_text()
                     .replace("standardize:\n", "standardize:\n  - {field: location.room, op: trim}\n"
                              "  - {field: location.room, op: uppercase}\n  - {field: reported_at, op: to_utc}\n")
                     .replace("derive:\n", "derive:\n  - {name: reported_hour_local, fn: local_hour, field: reported_at}\n"))
    v12 = {"co2_ppm": 500}
    recs = [thermo(0, {**v12, "location": {"floor": 3, "room": "  b12 ", "wing": "east"}, "reported_at": "2026-03-01T13:30:00+01:00"},
                   schema_version="1.2"),
            thermo(1, {**v12, "location": {"floor": 11}}, schema_version="1.2"),
            thermo(2, {**v12, "location": {"room": "a1"}}, schema_version="1.2"),   # floor is required
            thermo(3, {**v12, "location": {"floor": 1, "room": "lab"}}, schema_version="1.2"),
            thermo(4, {"location": {"floor": 2}})]                                  # 1.0 declares no location
    lake = tmp_path / "lake"
    res = silver(lake, ndjson(recs), "--event-types", THERMO, config=tree)
    assert res.status == 0, res.err
    assert [(d["reason"], d.get("rule"), d["source"]["offset"]) for d in res.dlq] == [
        ("rule_failed", "floor_range", 1), ("schema_violation", None, 2)]
    assert res.dlq[0]["field"] == "location.floor" and res.dlq[1]["field"].startswith("payload.location")
    fwd = {r["event_id"]: r for r in res.rows}
    assert {k: (r["location_floor"], r["location_room"], r["reported_at"], r["reported_hour_local"], r["_quality_warnings"])
            for k, r in fwd.items()} == {
        "th-0": (3, "B12", "2026-03-01T12:30:00.000000Z", 13, None),  # Berlin: 13:30 local
        "th-3": (1, "LAB", None, None, "room_named"),
        "th-4": (None, None, None, None, None)}
    assert fwd["th-0"]["_rescued_data"] == {"location.wing": "east"}
    assert fwd["th-4"]["_rescued_data"] == {"location": {"floor": 2}}
    table = read_table(silver_table(lake, THERMO))
    assert table.schema.field("location_floor").type == pa.int64()
    assert table.schema.field("location_room").type == pa.string()
    assert table.schema.field("reported_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("reported_hour_local").type == pa.int32()
    assert "location" not in table.schema.names
    stored = rows_by_id(silver_table(lake, THERMO))
    assert stored["th-0"]["reported_at"] == datetime.datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert (stored["th-3"]["location_floor"], stored["th-3"]["location_room"]) == (1, "LAB")
    assert_delta_check(silver_table(lake, THERMO))


# ---------------------------------------------------------------- 5. dedup across restarts

def test_a_duplicate_event_id_is_caught_in_a_later_run_and_a_replay_is_not_stored_twice(tmp_path):
    lake = tmp_path / "lake"
    table = silver_table(lake, THERMO)
    run1 = ndjson([thermo(i) for i in range(5)])
    res = silver(lake, run1, "--event-types", THERMO)
    assert res.status == 0 and res.ids() == [f"th-{i}" for i in range(5)], res.err
    assert len(rows_by_id(table, ["event_id"])) == 5

    # Run 2, a new process: another record (new position, other payload) reusing th-2's event_id.
    again = thermo(2, {"temperature": 30.0}, offset=10, event_time_utc="2026-03-01T15:00:00Z", ingest_time_utc="2026-03-01T15:00:01Z")
    res = silver(lake, line(again) + line(thermo(11)), "--event-types", THERMO)
    assert res.status == 0, res.err
    assert res.ids() == ["th-11"]
    [d] = res.dlq
    assert (d["reason"], d["rule"], d["field"], d["source"]) == ("duplicate_event", "event_id_unique", "event_id", again["_source"])
    assert "th-2" in d["message"]
    stored = rows_by_id(table, ["event_id", "temperature"])
    assert len(stored) == 6 and stored["th-2"]["temperature"] == 21.5

    # Run 3 replays run 1's exact input: forwarded again, stored once, not a duplicate.
    res = silver(lake, run1, "--event-types", THERMO)
    assert res.status == 0, res.err
    assert res.ids() == [f"th-{i}" for i in range(5)]
    assert res.dlq == []
    assert res.summary["rows_out"] == 5 and res.summary["rows_dlq"] == 0
    assert len(rows_by_id(table, ["event_id"])) == 6
    assert "5 record(s) already stored" in res.err
    assert_delta_check(table)


def test_a_replay_mixed_with_new_records_stores_only_the_new_ones_and_catches_their_duplicates(tmp_path):
    lake = tmp_path / "lake"
    first = [thermo(i) for i in range(4)]
    assert silver(lake, ndjson(first), "--event-types", THERMO).status == 0
    # The source rewinds to offset 2: 2 and 3 are replays, 4 is new, 5 is new but reuses th-0's id.
    recs = first[2:] + [thermo(4), thermo(5, event_id="th-0")]
    res = silver(lake, ndjson(recs), "--event-types", THERMO)
    assert res.status == 0, res.err
    assert res.ids() == ["th-2", "th-3", "th-4"]
    assert [(d["reason"], d["source"]["offset"]) for d in res.dlq] == [("duplicate_event", 5)]
    assert sorted(rows_by_id(silver_table(lake, THERMO), ["event_id"])) == ["th-0", "th-1", "th-2", "th-3", "th-4"]


def _unique_rule_tree(tmp_path, rule):
    tree = copy_tree(tmp_path / "tree")
    write_rules(tree, THERMO, f"  - {rule}\n")
    return tree


def test_a_unique_rule_on_a_payload_number_is_remembered_across_a_restart(tmp_path):
    tree = _unique_rule_tree(tmp_path, "{name: one_per_reading, kind: unique, field: temperature, window: 1h, action: drop}")
    lake = tmp_path / "lake"
    assert silver(lake, line(thermo(0)), "--event-types", THERMO, config=tree).status == 0
    res = silver(lake, line(thermo(1)), "--event-types", THERMO, config=tree)  # same temperature, new record
    assert [(d["reason"], d["rule"]) for d in res.dlq] == [("duplicate_event", "one_per_reading")]


# Regression (found by this file, fixed): the unique state rebuilt from the table keys a timestamp column by its raw microseconds
# ("1772366400000000") while live records are keyed by their RFC 3339 text ("2026-03-01T12:00:00.000000Z"),
# so after a restart a unique rule on a timestamp (or date) field never matches what is stored.
def test_a_unique_rule_on_a_timestamp_is_remembered_across_a_restart(tmp_path):
    tree = _unique_rule_tree(tmp_path, "{name: one_per_instant, kind: unique, field: event_time_utc, window: 1h, action: drop}")
    lake = tmp_path / "lake"
    same = {"event_time_utc": "2026-03-01T12:00:00Z"}
    # In one process the second record is a duplicate...
    res = silver(tmp_path / "lake-one", ndjson([thermo(0, **same), thermo(1, **same)]), "--event-types", THERMO, config=tree)
    assert [(d["reason"], d["rule"]) for d in res.dlq] == [("duplicate_event", "one_per_instant")]
    # ...and it must still be one after a restart.
    assert silver(lake, line(thermo(0, **same)), "--event-types", THERMO, config=tree).status == 0
    res = silver(lake, line(thermo(1, **same)), "--event-types", THERMO, config=tree)
    assert [(d["reason"], d["rule"]) for d in res.dlq] == [("duplicate_event", "one_per_instant")]
    assert read_table(silver_table(lake, THERMO)).num_rows == 1


# Regression (found by this file, fixed): a unique rule on `attributes.<key>` has no column, and the state rebuilt at start skips rules without
# one, so after a restart such a rule remembers nothing and the duplicate is stored.
def test_a_unique_rule_on_an_attribute_is_remembered_across_a_restart(tmp_path):
    tree = _unique_rule_tree(tmp_path, "{name: msg_once, kind: unique, field: attributes.msg_id, window: 1h, action: drop}")
    lake = tmp_path / "lake"
    a, b = thermo(0, attributes={"msg_id": "m-1"}), thermo(1, attributes={"msg_id": "m-1"})
    res = silver(tmp_path / "lake-one", ndjson([a, b]), "--event-types", THERMO, config=tree)
    assert [(d["reason"], d["rule"]) for d in res.dlq] == [("duplicate_event", "msg_once")]
    assert silver(lake, line(a), "--event-types", THERMO, config=tree).status == 0
    res = silver(lake, line(b), "--event-types", THERMO, config=tree)
    assert [(d["reason"], d["rule"]) for d in res.dlq] == [("duplicate_event", "msg_once")]
    assert read_table(silver_table(lake, THERMO)).num_rows == 1


# Regression (found by this file, fixed): the unique state rebuilt at start keeps only keys within `window` of the NEWEST event time in the
# table (SilverValidate.loadDedup's horizon), while a running process compares each pair of event times
# (DedupState.isDuplicate: |t1 - t2| <= window) and evicts lazily. So a late duplicate is caught in one run but
# stored twice when a restart falls between: the table then differs from a clean run's, against the
# architecture's "restart the pipeline, and the tables hold exactly what a clean run holds".
def test_a_restart_between_records_changes_no_dedup_outcome(tmp_path):
    x = door(0, event_time_utc="2026-03-01T12:00:00Z", ingest_time_utc="2026-03-01T12:00:01Z")
    y = door(1, event_time_utc="2026-03-01T14:00:00Z", ingest_time_utc="2026-03-01T14:00:01Z")
    late = door(2, event_id="dr-0", event_time_utc="2026-03-01T12:10:00Z", ingest_time_utc="2026-03-01T14:00:02Z")
    clean = silver(tmp_path / "clean", ndjson([x, y, late]), "--event-types", DOOR)
    assert clean.status == 0, clean.err
    for rec in (x, y, late):  # the same records, with a restart after each
        res = silver(tmp_path / "restarted", line(rec), "--event-types", DOOR)
        assert res.status == 0, res.err
    assert [d["reason"] for d in res.dlq] == [d["reason"] for d in clean.dlq]
    assert sorted(read_table(silver_table(tmp_path / "restarted", DOOR), ["event_id"])["event_id"].to_pylist()) == \
        sorted(read_table(silver_table(tmp_path / "clean", DOOR), ["event_id"])["event_id"].to_pylist())


# ---------------------------------------------------------------- 6. schema evolution

def _thermo_v10_only(tree):
    """The tree as it was before thermostat 1.1: no v1.1.json, and no rule or Gold measure on co2_ppm."""
    (tree / "schemas/event_types/thermostat.telemetry/v1.1.json").unlink()
    rules = tree / "rules/event_types/thermostat.telemetry.yaml"
    text = rules.read_text()
    text = re.sub(r"  - name: co2_plausible\n(    .*\n)+?(?=  - name:)", "", text)
    text = text.replace("      - {name: max_co2_ppm, fn: max, field: co2_ppm}\n", "")
    assert "co2" not in text
    rules.write_text(text)
    tests = tree / "rules/event_types/thermostat.telemetry.tests.yaml"
    if tests.exists():
        tests.unlink()  # `medallion test` cases of 1.1 are not part of the old tree


def test_a_new_minor_schema_version_adds_nullable_columns_in_a_metadata_commit_and_old_files_stay_readable(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    _thermo_v10_only(tree)
    lake = tmp_path / "lake"
    table = silver_table(lake, THERMO)
    old = [thermo(i) for i in range(4)]
    res = silver(lake, ndjson(old), "--event-types", THERMO, config=tree)
    assert res.status == 0 and len(res.rows) == 4, res.err
    assert "co2_ppm" not in res.rows[0]
    assert "co2_ppm" not in read_table(table).schema.names
    assert_delta_check(table)
    version_before = deltalake.DeltaTable(str(table)).version()

    shutil.copy(ROOT / "schemas/event_types/thermostat.telemetry/v1.1.json", tree / "schemas/event_types/thermostat.telemetry/")
    new = [thermo(i, {"co2_ppm": 700 + i}, schema_version="1.1") for i in range(4, 7)] + [thermo(7)]
    res = silver(lake, ndjson(new), "--event-types", THERMO, config=tree)
    assert res.status == 0, res.err
    assert [r["co2_ppm"] for r in res.rows] == [704, 705, 706, None]

    stored = rows_by_id(table, ["event_id", "co2_ppm", "temperature"])
    assert {k: r["co2_ppm"] for k, r in stored.items()} == {
        **{f"th-{i}": None for i in range(4)}, "th-4": 704, "th-5": 705, "th-6": 706, "th-7": None}
    assert read_table(table).schema.field("co2_ppm").type == pa.int64()
    # The log: a later commit carries a metaData action whose schema adds co2_ppm as nullable.
    log = sorted((table / "_delta_log").glob("*.json"))
    evolved = []
    for f in log:
        version = int(f.name.split(".")[0])
        for action in map(json.loads, f.read_text().splitlines()):
            if "metaData" in action:
                fields = {x["name"]: x for x in json.loads(action["metaData"]["schemaString"])["fields"]}
                if "co2_ppm" in fields:
                    evolved.append((version, fields["co2_ppm"]))
    assert evolved and evolved[0][0] > version_before
    assert evolved[0][1]["type"] == "long" and evolved[0][1]["nullable"] is True
    # Delta-aware readers (deltalake, duckdb delta_scan) see the old files with co2_ppm null.
    con = duck_delta()
    got = con.sql(f"SELECT event_id, co2_ppm FROM delta_scan('{table}') ORDER BY event_id").fetchall()
    assert got == sorted((k, r["co2_ppm"]) for k, r in stored.items())
    # The files written before the evolution were rewritten with co2_ppm (null) in one commit that removes the
    # old files and adds the new ones without changing data, so readers that skip the log agree too.
    rewrites = [a for f in log for a in map(json.loads, f.read_text().splitlines())
                if "commitInfo" in a and a["commitInfo"]["operation"] == "OPTIMIZE"]
    assert len(rewrites) == 1
    removed = [a["remove"] for f in log for a in map(json.loads, f.read_text().splitlines()) if "remove" in a]
    assert removed and all(r["dataChange"] is False for r in removed)
    assert_delta_check(table)

    # Removing the schema again (an older tree) still writes: co2_ppm is null in its rows.
    _thermo_v10_only(tree)
    res = silver(lake, line(thermo(8)), "--event-types", THERMO, config=tree)
    assert res.status == 0, res.err
    assert rows_by_id(table, ["event_id", "co2_ppm"])["th-8"]["co2_ppm"] is None


# delta_check's pyarrow.dataset and polars scan_parquet views read the add files without the Delta log, so
# files written before a column was added would disagree; silver-validate rewrites them at evolution.
def test_an_evolved_table_passes_delta_check_in_all_six_readers(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    _thermo_v10_only(tree)
    lake = tmp_path / "lake"
    assert silver(lake, ndjson([thermo(0)]), "--event-types", THERMO, config=tree).status == 0
    shutil.copy(ROOT / "schemas/event_types/thermostat.telemetry/v1.1.json", tree / "schemas/event_types/thermostat.telemetry/")
    assert silver(lake, line(thermo(1, {"co2_ppm": 700}, schema_version="1.1")), "--event-types", THERMO, config=tree).status == 0
    assert_delta_check(silver_table(lake, THERMO))


def test_a_schema_version_that_changes_a_columns_type_is_a_configuration_error(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    path = tree / "schemas/event_types/thermostat.telemetry/v1.2.json"
    schema = json.loads((ROOT / "schemas/event_types/thermostat.telemetry/v1.1.json").read_text())
    schema["$id"] = "medallion:thermostat.telemetry:1.2"
    schema["properties"]["battery_pct"] = {"type": "string"}
    path.write_text(json.dumps(schema, indent=2))
    lake = tmp_path / "lake"
    res = silver(lake, line(thermo(0)), "--event-types", THERMO, config=tree)
    assert res.status == 78
    assert any("battery_pct" in m and "thermostat.telemetry" in m for m in errors(res.err)), res.err
    assert res.out == b"" and not lake.exists()


# ---------------------------------------------------------------- streaming: quiet streams and signals

def test_a_quiet_stream_is_committed_after_the_flush_interval_and_rows_are_forwarded_only_once_stored(tmp_path):
    lake = tmp_path / "lake"
    proc = subprocess.Popen([binary("silver-validate"), "--config", str(ROOT), "--tenant", "acme", "--lake", str(lake),
                             "--dlq", str(tmp_path / "d"), "--event-types", THERMO, "--flush-interval", "0.3"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(ndjson([thermo(i) for i in range(3)]))
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "nothing forwarded within 30 s of a quiet stream"
        first = json.loads(proc.stdout.readline())  # arrives without EOF, after the commit
        assert first["event_id"] == "th-0"
        assert sorted(rows_by_id(silver_table(lake, THERMO), ["event_id"])) == ["th-0", "th-1", "th-2"]
        proc.stdin.close()
        rest = proc.stdout.read()
        assert proc.wait(timeout=30) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [json.loads(l)["event_id"] for l in rest.splitlines()] == ["th-1", "th-2"]


def test_sigterm_commits_what_is_in_flight_forwards_it_and_exits_0(tmp_path):
    lake = tmp_path / "lake"
    dlq = tmp_path / "d"
    proc = subprocess.Popen([binary("silver-validate"), "--config", str(ROOT), "--tenant", "acme", "--lake", str(lake),
                             "--dlq", str(dlq), "--event-types", THERMO, "--flush-interval", "600"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Five rows, then a reject: once its DLQ record is out, the five have been read (and not committed).
        proc.stdin.write(ndjson([thermo(i) for i in range(5)]) + b"not json\n")
        proc.stdin.flush()
        deadline = time.time() + 30
        while not (dlq.exists() and dlq.read_bytes().endswith(b"\n")) and time.time() < deadline:
            time.sleep(0.02)
        assert dlq.exists(), "the reject never reached the DLQ"
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert [json.loads(l)["event_id"] for l in out.splitlines()] == [f"th-{i}" for i in range(5)]
    assert sorted(rows_by_id(silver_table(lake, THERMO), ["event_id"])) == [f"th-{i}" for i in range(5)]
    s = summary(err.decode())
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (6, 5, 1)


# ---------------------------------------------------------------- 7. dry run

def test_dry_run_writes_no_lake_but_forwards_and_counts_like_a_real_run(tmp_path):
    recs = [thermo(0, {"co2_ppm": 100}, schema_version="1.1"),  # co2_plausible (warn) fails
            thermo(1, {"co2_ppm": 600}, schema_version="1.1"),
            thermo(2, {"temperature": 400.0}),                    # temperature_plausible (drop) fails
            thermo(3, event_id="th-1"),                          # event_id_unique (drop) fails
            thermo(4, site_id="acme-s42"),                       # site_known (warn) fails
            door(5, {"badge_id": "b-0001"}), door(6, {"direction": "in"}, event_id="dr-5")]
    data = ndjson(recs)
    work = tmp_path / "work"
    work.mkdir()
    lake = tmp_path / "lake"
    dlq = tmp_path / "dry.dlq"
    status, out, err = run([binary("silver-validate"), "--config", str(ROOT), "--tenant", "acme", "--dry-run",
                            "--lake", str(lake), "--dlq", str(dlq), "--batch-rows", "2"], data, cwd=work)
    assert status == 0, err
    assert not lake.exists() and list(work.iterdir()) == []  # nothing in the working directory either
    dry_counts = rule_counts(err)
    assert dry_counts[(THERMO, "co2_plausible")] == (4, 1)
    assert dry_counts[(THERMO, "temperature_plausible")] == (4, 1)
    assert dry_counts[(THERMO, "event_id_unique")] == (3, 1)
    assert dry_counts[(THERMO, "site_known")] == (4, 1)
    assert dry_counts[(THERMO, "humidity_range")] == (5, 0)
    assert dry_counts[(DOOR, "event_id_unique")] == (1, 1)
    assert dry_counts[(ENERGY, "kwh_non_negative")] == (0, 0)
    assert "dry_run_batch" in err
    dry_rows = [json.loads(l) for l in out.splitlines()]
    assert [r["event_id"] for r in dry_rows] == ["th-0", "th-1", "th-4", "dr-5"]
    assert [(d["reason"], d.get("rule")) for d in read_ndjson(dlq)] == [
        ("rule_failed", "temperature_plausible"), ("duplicate_event", "event_id_unique"), ("duplicate_event", "event_id_unique")]

    real = silver(lake, data, "--batch-rows", "2")
    assert real.status == 0, real.err
    assert real.counts() == dry_counts
    assert real.rows == dry_rows


# Regression (found by this file, fixed): --dry-run opens no table, so it neither rebuilds the unique state nor reads
# the txn positions; on an existing lake its forwarded rows and rule_counts differ from what the real run
# does with the same input (here it forwards a duplicate and counts a replay).
def test_dry_run_on_an_existing_lake_predicts_the_real_run(tmp_path):
    lake = tmp_path / "lake"
    assert silver(lake, ndjson([thermo(i) for i in range(3)]), "--event-types", THERMO).status == 0
    data = line(thermo(0)) + line(thermo(2, offset=10))  # a replay, then a new record reusing th-2's id
    dry = silver(lake, data, "--event-types", THERMO, "--dry-run")
    real = silver(lake, data, "--event-types", THERMO)
    assert dry.status == real.status == 0
    assert (dry.ids(), [d["reason"] for d in dry.dlq]) == (real.ids(), [d["reason"] for d in real.dlq])
    assert dry.counts() == real.counts()


# ---------------------------------------------------------------- 8. the per-rule counts table

def test_quality_rule_counts_has_one_row_per_rule_per_batch_summing_to_the_run_and_is_appended_across_runs(tmp_path):
    lake = tmp_path / "lake"
    recs = [thermo(i, {"co2_ppm": 100 if i % 3 == 0 else 500}, schema_version="1.1") for i in range(7)]
    recs.insert(2, thermo(50, {"temperature": 500.0}))  # dropped by temperature_plausible in the first batch
    res = silver(lake, ndjson(recs), "--event-types", THERMO, "--batch-rows", "3", "--pipeline", "acme-main")
    assert res.status == 0, res.err
    table = lake / "audit" / "quality_rule_counts"
    rows = read_table(table).to_pylist()
    rules = [(r["event_type"], r["rule"]) for r in rows]
    n_rules = len([k for k in res.counts() if k[0] == THERMO])  # the bundled thermostat rules
    assert n_rules >= 5
    batches = sorted({r["batch_id"] for r in rows})
    assert len(batches) == 3 and len(rows) == 3 * n_rules  # 3 + 3 + 1 stored rows, batches of 3
    assert all(rules.count(k) == 3 for k in set(rules))
    for b in batches:
        assert len({r["rule"] for r in rows if r["batch_id"] == b}) == n_rules
        assert len({r["table_version"] for r in rows if r["batch_id"] == b}) == 1
    assert sorted({r["table_version"] for r in rows}) == [1, 2, 3]
    assert {(r["pipeline"], r["tenant_id"], r["stage"]) for r in rows} == {("acme-main", "acme", "silver-validate")}
    meta = {r["rule"]: (r["kind"], r["action"], r["field"]) for r in rows}
    assert meta["co2_plausible"] == ("range", "warn", "co2_ppm") and meta["event_id_unique"] == ("unique", "drop", "event_id")
    # Summed over the batches they equal the run's totals.
    con = duck_delta()
    sums = {r: (p, f) for r, p, f in con.sql(
        f"SELECT rule, sum(passed)::BIGINT, sum(failed)::BIGINT FROM delta_scan('{table}') GROUP BY rule").fetchall()}
    assert sums == {rule: counts for (_, rule), counts in res.counts().items()}
    assert sums["co2_plausible"] == (5, 3) and sums["temperature_plausible"] == (7, 1)
    assert sums["temperature_present"] == (8, 0)
    assert_delta_check(table)

    before = deltalake.DeltaTable(str(table)).version()
    res = silver(lake, ndjson([thermo(i, {"co2_ppm": 100}, schema_version="1.1") for i in range(60, 62)]),
                 "--event-types", THERMO, "--batch-rows", "3", "--pipeline", "acme-main")
    assert res.status == 0, res.err
    after = read_table(table).to_pylist()
    assert len(after) == len(rows) + n_rules  # history appended, never overwritten
    assert all(r in after for r in rows)
    assert deltalake.DeltaTable(str(table)).version() == before + 1
    assert {r["operation"] for r in deltalake.DeltaTable(str(table)).history()} <= {"CREATE TABLE", "WRITE"}
    new = [r for r in after if r not in rows]
    assert {r["rule"]: (r["passed"], r["failed"]) for r in new}["co2_plausible"] == (0, 2)


# ---------------------------------------------------------------- 9. hostile input and configuration errors

def test_hostile_input_becomes_dlq_records_with_reasons_and_never_crashes(tmp_path):
    lake = tmp_path / "lake"
    huge = line(thermo(90, {"blob": "x" * (2 << 20)}))[:-1]
    bad_utf8 = line(thermo(91))[:-1].replace(b'"dev-9"', b'"dev-\xff\xfe"')
    cases = [
        (b'{"tenant_id":"acme","site_id":', "invalid_json"),
        (bad_utf8, "invalid_utf8"),
        (huge, "line_too_long"),
        (line(thermo(92, event_type="../.."))[:-1], "unsafe_id"),
        (line(thermo(93, event_id=7))[:-1], "wrong_type"),
        (line(thermo(94, payload=None))[:-1].replace(b'"payload":{', b'"payload":[{').replace(b'},"attributes"', b'}],"attributes"'), "wrong_type"),
        (line(thermo(95, tenant_id="nobody"))[:-1], "tenant_mismatch"),
        (line(thermo(96, tenant_id="globex"))[:-1], "tenant_mismatch"),
        (line(thermo(97, event_type="pump.pressure"))[:-1], "unknown_event_type"),
        (line(thermo(98, schema_version="one"))[:-1], "bad_schema_version"),
        (line(thermo(99, event_time_utc="2026-02-30T00:00:00Z"))[:-1], "bad_timestamp"),
        (line(thermo(100, event_id=None))[:-1], "missing_field"),
        (line(thermo(101))[:-1].replace(b'"temperature":21.5', b'"temperature":21.5,"temperature":99.0'), "duplicate_field"),
        (line(thermo(102, {"temperature": "21.5"}))[:-1], "schema_violation"),
        (line(thermo(103, {"co2_ppm": 10 ** 20}, schema_version="1.1"))[:-1], "schema_violation"),  # no long holds it
        (b"[1,2,3]", "not_an_object"),
        (b"", "invalid_json"),
        (b'{"payload":' + b"[" * 5000 + b"]" * 5000 + b"}", "too_deep"),
    ]
    data = b"".join(bad + b"\n" + line(thermo(i)) for i, (bad, _) in enumerate(cases))
    res = silver(lake, data)
    assert res.status == 0, res.err
    assert [(d["reason"], d["line"]) for d in res.dlq] == [(reason, 2 * i + 1) for i, (_, reason) in enumerate(cases)]
    for (raw, _), d in zip(cases, res.dlq):
        assert d["stage"] == "silver-validate" and d["message"] and d["raw_length"] == len(raw)
        if d["reason"] == "invalid_utf8":
            assert "raw" not in d and base64.b64decode(d["raw_base64"]) == raw
        elif d["reason"] == "line_too_long":
            assert d["raw_truncated"] is True and raw.startswith(d["raw"].encode()) and len(d["raw"]) <= 4096
        else:
            assert d["raw"].encode() == raw and d["raw_truncated"] is False
    s = res.summary
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"], s["status"]) == (2 * len(cases), len(cases), len(cases), "ok")
    assert "rows_undelivered" not in s
    assert res.ids() == [f"th-{i}" for i in range(len(cases))]
    assert sorted(rows_by_id(silver_table(lake, THERMO), ["event_id"])) == sorted(f"th-{i}" for i in range(len(cases)))
    assert sorted(p.name for p in (lake / "silver").iterdir()) == sorted([THERMO, DOOR, ENERGY])
    assert read_table(silver_table(lake, DOOR)).num_rows == 0
    assert not (tmp_path / "silver").exists() and not list(tmp_path.glob("**/event_type=..*"))


MARK = b'{"_mark":{"test":{"0":5}}}\n'


def test_a_position_mark_is_forwarded_in_place_and_is_not_a_record(tmp_path):
    lake = tmp_path / "lake"
    res = silver(lake, line(thermo(0)) + MARK + line(thermo(1)) + b"[1]\n", "--event-types", THERMO)
    assert res.status == 0, res.err
    assert res.out.splitlines()[1] + b"\n" == MARK and len(res.out.splitlines()) == 3  # between th-0 and th-1
    assert res.ids() == ["th-0", "th-1"] and len(res.dlq) == 1
    assert res.summary["marks"] == 1 and res.summary["rows_in"] == 3
    assert read_table(silver_table(lake, THERMO)).num_rows == 2


# Regression (found by this file, fixed): a batch that forwards a `_mark` line counts the mark out twice: the batch passes
# `lines: inputRows - dlqRows` (marks excluded) to OutputWriter.writeRaw, and emitSummary subtracts `marks`
# from the delivered lines again. So every forwarded mark lowers rows_out by one and adds a spurious
# rows_undelivered, although every row reached stdout (bronze-sink has the same arithmetic).
def test_a_position_mark_keeps_the_summary_conserved(tmp_path):
    res = silver(tmp_path / "lake", line(thermo(0)) + MARK + line(thermo(1)) + b"[1]\n", "--event-types", THERMO)
    assert res.status == 0, res.err
    assert res.ids() == ["th-0", "th-1"]  # both rows were delivered...
    s = res.summary
    assert "rows_undelivered" not in s, s  # ...so the summary must say so
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (3, 2, 1), s


def test_an_unknown_tenant_exits_78_naming_the_tenant_file_and_writes_nothing(tmp_path):
    lake = tmp_path / "lake"
    res = silver(lake, line(thermo(0)), tenant="wayne")
    assert res.status == 78
    assert res.out == b""
    msgs = errors(res.err)
    assert msgs and all(f"{ROOT}/configs/tenants/wayne/tenant.yaml" in m for m in msgs), res.err
    assert "no such tenant 'wayne'" in msgs[0] and "acme" in msgs[0]
    assert not lake.exists()


# Regression (found by this file, fixed): the missing tenant is reported twice (two error lines, the `fix:` text differing only by a comma).
def test_an_unknown_tenant_is_reported_once(tmp_path):
    res = silver(tmp_path / "lake", line(thermo(0)), tenant="wayne")
    assert res.status == 78
    assert len(errors(res.err)) == 1, errors(res.err)


def test_event_types_flag_limits_the_tables_and_rejects_the_others(tmp_path):
    lake = tmp_path / "lake"
    res = silver(lake, ndjson([thermo(0), door(1), thermo(2)]), "--event-types", DOOR)
    assert res.status == 0, res.err
    assert res.ids() == ["dr-1"]
    assert [(d["reason"], d["event_type"]) for d in res.dlq] == [("unknown_event_type", THERMO)] * 2
    assert sorted(p.name for p in (lake / "silver").iterdir()) == [DOOR]
    res = silver(lake, b"", "--event-types", "nope")
    assert res.status == 78 and any("nope" in m for m in errors(res.err)), res.err

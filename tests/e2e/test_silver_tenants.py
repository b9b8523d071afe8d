"""silver-validate for several tenants reading one shared stream into the same Silver tables."""
import json

from conftest import ROOT, binary, run, table_rows


def test_instances_for_two_tenants_on_one_shared_stream_store_every_row_of_each(tmp_path):
    status, stream, err = run([binary("medallion"), "generate", "--count", "3000", "--seed", "11"])
    assert status == 0, err
    lines = stream.splitlines()
    by_tenant = {t: [l for l in lines if json.loads(l)["tenant_id"] == t] for t in ("acme", "globex")}
    lake = tmp_path / "lake"
    for tenant, mine in by_tenant.items():  # acme first: its positions run ahead of globex's records
        status, out, err = run([binary("silver-validate"), "--config", str(ROOT), "--tenant", tenant, "--lake", str(lake),
                                "--dlq", str(tmp_path / f"{tenant}.dlq")], stdin=b"\n".join(mine) + b"\n")
        assert status == 0, err
        assert len(out.splitlines()) == len(mine)
    stored = {}
    for table in (lake / "silver").iterdir():
        for row in table_rows(table, ["tenant_id", "event_id"]):
            stored.setdefault(row["tenant_id"], []).append(row["event_id"])
    for tenant, mine in by_tenant.items():
        assert sorted(stored[tenant]) == sorted(json.loads(l)["event_id"] for l in mine), tenant
    # A rerun of globex's input is a replay: nothing stored twice, every row forwarded again.
    status, out, err = run([binary("silver-validate"), "--config", str(ROOT), "--tenant", "globex", "--lake", str(lake),
                            "--dlq", str(tmp_path / "again.dlq")], stdin=b"\n".join(by_tenant["globex"]) + b"\n")
    assert status == 0 and len(out.splitlines()) == len(by_tenant["globex"]), err
    total = sum(len(table_rows(t, ["event_id"])) for t in (lake / "silver").iterdir())
    assert total == len(by_tenant["acme"]) + len(by_tenant["globex"])
    assert (tmp_path / "again.dlq").read_bytes() == b""  # no duplicate_event for a replayed record


def test_dlq_sink_keeps_the_positions_of_two_tenants_silver_instances_apart(tmp_path):
    """Per-tenant silver-validate instances write DLQ records and marks stamped with their instance;
    dlq-sink keys positions by it, so one tenant's mark ahead does not make it skip another's rejects."""
    def rec(tenant, offset, temperature):
        return {"tenant_id": tenant, "site_id": f"{tenant}-s01", "device_id": "d1", "device_type": "thermostat",
                "event_type": "thermostat.telemetry", "event_id": f"{tenant}-{offset}",
                "event_time_utc": "2026-03-01T12:00:00Z", "ingest_time_utc": "2026-03-01T12:00:01Z",
                "schema_version": "1.1", "source_system": "t",
                "payload": {"temperature": temperature, "unit": "C", "humidity": 40, "setpoint": 20, "mode": "heat",
                            "battery_pct": 90, "co2_ppm": 500},
                "_source": {"source": "shared", "partition": 0, "offset": offset}}
    mark = {"_mark": {"source": "shared", "partition": 0, "offset": 100}}
    streams = {"acme": [rec("acme", 10, 21.0), mark], "globex": [rec("globex", 50, 900.0)]}  # 900 °C: rule_failed
    lake = tmp_path / "lake"
    for tenant, lines in streams.items():
        status, _, err = run([binary("silver-validate"), "--config", str(ROOT), "--tenant", tenant, "--lake", str(lake),
                              "--dlq", str(tmp_path / f"{tenant}.dlq")],
                             stdin=b"".join(json.dumps(l).encode() + b"\n" for l in lines))
        assert status == 0, err
    acme_dlq = [json.loads(l) for l in (tmp_path / "acme.dlq").read_bytes().splitlines()]
    assert acme_dlq == [{**mark, "stage": "silver-validate.acme"}]
    globex_dlq = [json.loads(l) for l in (tmp_path / "globex.dlq").read_bytes().splitlines()]
    assert [(d["stage"], d["instance"], d["reason"], d["rule"]) for d in globex_dlq] == [
        ("silver-validate", "silver-validate.globex", "rule_failed", "temperature_plausible")]
    for tenant in streams:  # acme's stream first: its mark (offset 100) lies beyond globex's reject (50)
        status, _, err = run([binary("dlq-sink"), "--lake", str(lake), "--input", str(tmp_path / f"{tenant}.dlq"),
                              "--dlq", str(tmp_path / "dlq-sink.dlq")])
        assert status == 0, err
    rows = table_rows(lake / "dlq" / "events", ["stage", "reason", "reported_tenant_id"])
    assert [(r["stage"], r["reason"], r["reported_tenant_id"]) for r in rows] == [("silver-validate", "rule_failed", "globex")]

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

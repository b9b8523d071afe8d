"""`medallion generate` as users call it for demos and benchmarks."""
import json

from conftest import binary, run


def test_generate_is_deterministic_and_its_summary_counts_every_kind(tmp_path):
    args = [binary("medallion"), "generate", "--count", "2000", "--seed", "9", "--bad-rate", "0.1",
            "--bad-kinds", "malformed_json,bad_timestamp", "--base-time", "2026-05-01T00:00:00Z", "--summary"]
    status, first, err = run(args)
    assert status == 0, err
    assert run(args)[1] == first  # same seed, same bytes
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["lines"] == 2000 == len(first.splitlines())
    assert set(summary["bad_by_kind"]) <= {"malformed_json", "bad_timestamp"}
    assert summary["bad_lines"] == sum(summary["bad_by_kind"].values()) > 0
    good = []
    for l in first.splitlines():
        try:
            good.append(json.loads(l))
        except ValueError:
            continue  # a deliberately malformed line
    assert len(good) >= 1700
    assert good[0]["event_time_utc"].startswith("2026-05-01T00:00")


def test_generate_usage_errors_name_the_flag():
    status, _, err = run([binary("medallion"), "generate", "--bad-kinds", "nope"])
    assert status == 64 and "--bad-kinds" in err
    status, _, err = run([binary("medallion"), "generate", "--base-time", "yesterday"])
    assert status == 64 and "--base-time" in err


def _tree_with_newco(tmp_path, event_types="[door.access]"):
    import shutil
    from conftest import ROOT
    for name in ("configs", "schemas", "rules", "pipelines"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "configs/tenants/newco").mkdir()
    (tmp_path / "configs/tenants/newco/tenant.yaml").write_text(f"""version: 1
tenant: newco
eventhubs: {{namespace: newco-ehns, hub: telemetry, consumer_group: medallion, connection_string_env: NEWCO_EH}}
event_types: {event_types}
sites:
  newco-hq: {{region: us-east, timezone: America/New_York}}
  newco-lab: {{region: us-west, timezone: America/Los_Angeles}}
""")
    return tmp_path


def test_a_tenant_onboarded_by_configuration_gets_generated_events_silver_can_enrich(tmp_path):
    root = _tree_with_newco(tmp_path)
    for tool in ([binary("medallion"), "generate"], [binary("eh-source"), "--generate"]):
        status, out, err = run(tool + ["--count", "300", "--config", str(root), "--tenant", "newco"])
        assert status == 0, err
        rows = [json.loads(l) for l in out.splitlines()]
        assert len(rows) == 300
        assert {r["tenant_id"] for r in rows} == {"newco"}
        assert {r["site_id"] for r in rows} == {"newco-hq", "newco-lab"}
        assert {r["event_type"] for r in rows} == {"door.access"}
    status, silver, err = run([binary("silver-validate"), "--config", str(root), "--tenant", "newco", "--dry-run",
                               "--dlq", str(tmp_path / "dlq.ndjson")], stdin=out)
    assert status == 0, err
    kept = [json.loads(l) for l in silver.splitlines()]
    assert len(kept) == 300  # every generated event passes the tenant's schemas and rules
    assert {r["region"] for r in kept} == {"us-east", "us-west"}


def test_generating_for_an_event_type_without_a_sample_payload_is_a_configuration_error(tmp_path):
    root = _tree_with_newco(tmp_path, event_types="[door.access, hvac.alarm]")
    (root / "schemas/event_types/hvac.alarm").mkdir()
    (root / "schemas/event_types/hvac.alarm/v1.0.json").write_text(
        '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"code": {"type": "string"}}}')
    status, _, err = run([binary("medallion"), "generate", "--count", "10", "--config", str(root), "--tenant", "newco"])
    assert status == 78, err
    assert "configs/tenants/newco/tenant.yaml" in err and "hvac.alarm" in err and "--replay" in err

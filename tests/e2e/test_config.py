"""The configuration tree as users meet it: medallion check / config show / onboard, filters with --config,
and every command shown in the configuration docs."""
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT, binary, envelope, line, read_ndjson, run

TREE = ["configs", "schemas", "rules", "pipelines"]
FIXTURES = ROOT / "Tests" / "MedallionCoreTests" / "Config" / "Fixtures" / "broken"
DOCS = ["configuration.md", "onboarding-tenant.md", "onboarding-event-type.md", "runbook.md", "platform-context.md"]


def copy_tree(dest: pathlib.Path) -> pathlib.Path:
    for name in TREE:
        shutil.copytree(ROOT / name, dest / name)
    return dest


def medallion(*args, cwd=None, env=None):
    return run([binary("medallion"), *args], cwd=cwd, env=env)


@pytest.mark.parametrize("env", [None, "dev", "stage", "prod"])
def test_bundled_tree_passes_check(env):
    status, out, err = medallion("check", "--config", str(ROOT), *(["--env", env] if env else []))
    assert status == 0, err
    assert b"3 tenants, 3 event types, 3 pipelines" in out


@pytest.mark.parametrize("case", sorted(p.name for p in FIXTURES.iterdir()))
def test_broken_config_is_reported_with_file_and_line(tmp_path, case):
    tree = copy_tree(tmp_path / "tree")
    src = FIXTURES / case
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if path.is_file() and str(rel) not in ("expected.txt", "remove.txt", "fix.txt"):
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, tree / rel)
    if (src / "remove.txt").exists():
        for rel in (src / "remove.txt").read_text().split():
            (tree / rel).unlink()
    status, _, err = medallion("check", "--config", str(tree))
    assert status == 78, err
    problems = [l for l in err.splitlines() if ": error: " in l]
    expected = [f"{tree}/{l}" for l in (src / "expected.txt").read_text().splitlines()]
    assert [p.split(" (fix: ")[0] for p in problems] == expected
    assert all(re.search(r"\(fix: .+\)$", p) for p in problems)


def test_check_lists_every_problem_at_once_across_files_and_environments(tmp_path):
    """Problems only compiling the Silver programs finds do not wait for the rest of the tree to be
    clean, and event types no tenant enables yet are compiled too."""
    tree = copy_tree(tmp_path)
    door = tree / "rules/event_types/door.access.yaml"
    door.write_text(door.read_text().replace("    kind: regex\n    field: badge_id", "    kind: freshness\n    max_age_seconds: 60\n    field: badge_id"))
    (tree / "configs/tenants/globex/tenant.yaml").write_text(
        (tree / "configs/tenants/globex/tenant.yaml").read_text() + "colour: blue\n")
    # A new event type no tenant enables yet: its rules are compiled all the same.
    status, _, err = medallion("onboard", "event-type", "pump.pressure", "--config", str(tree))
    assert status == 0, err
    pump = tree / "rules/event_types/pump.pressure.yaml"
    pump.write_text(pump.read_text() + "derive:\n  - {name: local_day, fn: local_date, field: site_id}\n")
    status, _, err = medallion("check", "--config", str(tree))
    assert status == 78
    problems = [l for l in err.splitlines() if ": error: " in l]
    assert any("door.access.yaml:" in p and "freshness needs a timestamp field" in p for p in problems), problems
    assert any("globex/tenant.yaml:" in p and "colour" in p for p in problems), problems
    assert any("pump.pressure.yaml:" in p and "derive[0].field" in p for p in problems), problems
    assert len(problems) == 3, problems
    assert err.rstrip().endswith(f"3 problems in {tree}")


def test_config_show_merges_and_redacts(tmp_path):
    env = dict(os.environ, ACME_PROD_EVENTHUBS_CONNECTION="Endpoint=sb://x/;SharedAccessKey=TOPSECRET")
    status, out, err = medallion("config", "show", "--config", str(ROOT), "--tenant", "acme", "--env", "prod",
                                 "--format", "json", env=env)
    assert status == 0, err
    assert b"TOPSECRET" not in out
    cfg = json.loads(out)
    assert (cfg["tenant"], cfg["env"]) == ("acme", "prod")
    assert cfg["batching"] == {"rows": 500000, "bytes": 67108864, "flush_interval_seconds": 10}
    assert cfg["eventhubs"]["hub"] == "telemetry" and cfg["eventhubs"]["namespace"] == "acme-prod-ehns"
    assert cfg["eventhubs"]["connection_string"] == "<redacted: $ACME_PROD_EVENTHUBS_CONNECTION is set>"
    env.pop("ACME_PROD_EVENTHUBS_CONNECTION")
    status, out, _ = medallion("config", "show", "--config", str(ROOT), "--tenant", "acme", "--env", "prod", env=env)
    assert status == 0 and b"is not set>" in out and b"TOPSECRET" not in out


def test_onboarding_a_tenant_and_an_event_type_needs_no_code(tmp_path):
    tree = copy_tree(tmp_path)
    status, out, err = medallion("onboard", "event-type", "pump.pressure", "--config", str(tree))
    assert status == 0, err
    status, out, err = medallion("onboard", "tenant", "wayne", "--config", str(tree))
    assert status == 0, err
    assert b"next steps" in out and b"medallion check" in out
    status, _, err = medallion("check", "--config", str(tree))
    assert status == 0, err
    # The new tenant gets the generator's sample with its own tenant id, plus events of the new type.
    status, sample, err = medallion("generate", "--count", "600", "--seed", "5")
    assert status == 0, err
    mine = sample.replace(b'"tenant_id":"acme"', b'"tenant_id":"wayne"')
    pump = [envelope(tenant_id="wayne", event_type="pump.pressure", event_id=f"p-{i}", payload={"value": i})
            for i in range(5)]
    other = envelope(tenant_id="wayne", event_type="boiler.state", event_id="b-1")
    data = mine + b"".join(line(r) for r in pump) + line(other)
    dlq = tmp_path / "rejects.ndjson"
    status, out, err = run([binary("envelope-check"), "--config", str(tree), "--tenant", "wayne", "--env", "dev",
                            "--dlq", str(dlq)], data)
    assert status == 0, err
    valid = [json.loads(l) for l in out.splitlines()]
    assert valid and all(r["tenant_id"] == "wayne" for r in valid)
    assert sum(r["event_type"] == "pump.pressure" for r in valid) == 5
    reasons = {r["reason"] for r in read_ndjson(dlq)}
    assert reasons == {"tenant_mismatch", "unknown_event_type"}
    assert sum(1 for r in read_ndjson(dlq) if r["reason"] == "unknown_event_type") == 1


@pytest.mark.parametrize("kind,name,guide", [("tenant", "wayne", "onboarding-tenant.md"),
                                             ("event-type", "pump.pressure", "onboarding-event-type.md")])
def test_onboard_prints_the_next_steps_of_its_guide(tmp_path, kind, name, guide):
    tree = copy_tree(tmp_path)
    status, out, err = medallion("onboard", kind, name, "--config", str(tree))
    assert status == 0, err
    text = out.decode()
    assert f"next steps (docs/{guide}, from step 2):" in text
    printed = re.findall(r"^  (\d+)\. ([^:]+):", text, flags=re.M)
    headings = re.findall(r"^## (\d+)\. (.+)$", (ROOT / "docs" / guide).read_text(), flags=re.M)
    # Step 1 of each guide is the scaffold itself; every later step is printed, in order, by its title.
    assert printed == headings[1:], f"onboard {kind} prints {printed}, docs/{guide} has {headings}"
    assert name in text


def test_onboard_refuses_to_overwrite_and_unsafe_names(tmp_path):
    tree = copy_tree(tmp_path)
    before = (tree / "configs/tenants/acme/tenant.yaml").read_bytes()
    status, _, err = medallion("onboard", "tenant", "acme", "--config", str(tree))
    assert status == 73 and "refusing to overwrite" in err
    assert (tree / "configs/tenants/acme/tenant.yaml").read_bytes() == before
    status, _, err = medallion("onboard", "event-type", "../etc", "--config", str(tree))
    assert status == 64 and "not a valid name" in err
    assert not (tmp_path.parent / "etc").exists()


def test_filter_with_a_broken_tree_exits_78_naming_file_and_line(tmp_path):
    tree = copy_tree(tmp_path)
    path = tree / "configs/tenants/acme/tenant.yaml"
    path.write_text(path.read_text().replace("event_types: [", "event_typez: ["))
    status, out, err = run([binary("envelope-check"), "--config", str(tree), "--tenant", "acme"], line(envelope()))
    assert status == 78 and out == b""
    events = [json.loads(l) for l in err.splitlines()]
    msgs = [e["msg"] for e in events if e["event"] == "error"]
    assert any(m.startswith(f"{path}:9: error: event_typez: unknown key") for m in msgs), msgs
    # ... and still the one summary line a supervisor expects, saying nothing was read.
    summary_line = [e for e in events if e["event"] == "summary"]
    assert len(summary_line) == 1 and summary_line[0]["status"] == "failed" and summary_line[0]["rows_in"] == 0


def test_flags_override_the_tree(tmp_path):
    recs = [envelope(event_type="door.access", event_id="a"), envelope(event_id="b")]
    args = [binary("envelope-check"), "--config", str(ROOT), "--tenant", "acme", "--dlq", str(tmp_path / "d")]
    status, out, err = run(args + ["--event-types", "door.access"], b"".join(line(r) for r in recs))
    assert status == 0, err
    assert [json.loads(l)["event_id"] for l in out.splitlines()] == ["a"]


def test_bronze_sink_takes_storage_root_and_batching_from_the_tree(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    overlay = tree / "configs/tenants/globex/dev.yaml"
    overlay.write_text(f"version: 1\nstorage:\n  root: {tmp_path / 'lake'}\nbatching:\n  rows: 2\n")
    recs = [envelope(tenant_id="globex", event_id=f"e{i}") for i in range(5)]
    for i, r in enumerate(recs):
        r["_source"] = {"source": "t", "partition": 0, "offset": i}
    status, out, err = run([binary("bronze-sink"), "--config", str(tree), "--tenant", "globex", "--dlq", str(tmp_path / "d")],
                           b"".join(line(r) for r in recs))
    assert status == 0, err
    log = sorted((tmp_path / "lake/bronze/events/_delta_log").glob("*.json"))
    assert len(log) >= 3  # 5 rows in batches of 2: three commits (plus the table's creation, if separate)
    assert len(out.splitlines()) == 5


def sh_blocks(doc: pathlib.Path):
    return re.findall(r"^```sh\n(.*?)^```", doc.read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("doc", DOCS)
def test_every_command_in_the_docs_runs(tmp_path, doc):
    blocks = sh_blocks(ROOT / "docs" / doc)
    assert blocks, f"docs/{doc} shows no commands"
    copy_tree(tmp_path)
    env = dict(os.environ, PATH=f"{BIN.resolve()}:{os.environ['PATH']}")
    for block in blocks:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"docs/{doc}: this block failed ({proc.returncode}):\n{block}\n{proc.stderr[-3000:]}"


def test_dlq_sink_takes_storage_root_from_the_tree_and_redrives_that_tenant(tmp_path):
    tree = copy_tree(tmp_path / "tree")
    (tree / "configs/tenants/globex/dev.yaml").write_text(f"version: 1\nstorage:\n  root: {tmp_path / 'lake'}\n")
    bad = [line(envelope(tenant_id="globex", event_time_utc="2026-02-30T00:00:00Z")),
           line(envelope(tenant_id="acme", event_time_utc="2026-02-30T00:00:00Z"))]
    dlq = tmp_path / "ec.dlq"
    run([binary("envelope-check"), "--tenants", "acme,globex", "--dlq", str(dlq)], b"".join(bad))
    status, _, err = run([binary("dlq-sink"), "--config", str(tree), "--tenant", "globex", "--input", str(dlq)])
    assert status == 0, err
    assert (tmp_path / "lake/dlq/events/_delta_log").is_dir()
    status, out, err = run([binary("dlq-sink"), "--config", str(tree), "--tenant", "globex", "--redrive"])
    assert status == 0, err
    assert out == bad[0]  # only globex's record, byte for byte

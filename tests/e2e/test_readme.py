"""The README's "A shell pipeline" section, run as written: its command blocks in order, in one
temporary directory (the configuration tree copied in before the block that uses it), with PATH
pointing at the binaries under test."""
import json
import os
import re
import shutil
import subprocess

import deltalake

from conftest import BIN, ROOT


def section_blocks():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## A shell pipeline"):text.index("\n## ", text.index("## A shell pipeline") + 1)]
    blocks, current = [], []
    for line in section.splitlines():
        if line.startswith("    "):
            current.append(line[4:])
        elif current and line.strip() == "":
            current.append("")
        elif current:
            blocks.append("\n".join(current).strip() + "\n")
            current = []
    if current:
        blocks.append("\n".join(current).strip() + "\n")
    return blocks


def lines(path):
    """The NDJSON lines of a file (split on \\n only: a bad line may hold a raw \\r)."""
    with open(path, "rb") as f:
        data = f.read()
    return data[:-1].split(b"\n") if data else []


def test_readme_shell_pipeline_runs_as_written(tmp_path):
    blocks = section_blocks()
    assert len(blocks) == 3, blocks
    plain, with_tree, capture = blocks
    assert plain.startswith('export PATH="$PWD/.build/release:$PATH"\n')  # after `make demo`
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    results = []
    for block in blocks:
        if block is with_tree:  # "the filters read their settings from" the tree: run it from its root
            for name in ["configs", "schemas", "rules", "pipelines"]:
                shutil.copytree(ROOT / name, tmp_path / name)
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env,
                              capture_output=True, timeout=600)
        assert proc.returncode == 0, f"README block failed ({proc.returncode}):\n{block}\n{proc.stderr.decode()[-3000:]}"
        results.append(proc)

    # The plain pipeline: 100,000 generated lines, Bronze, the DLQ, a redrive.
    events = lines(tmp_path / "events.ndjson")
    assert len(events) == 100_000
    bronze = deltalake.DeltaTable(str(tmp_path / "lake/bronze/events")).to_pyarrow_table(columns=["event_id"]).to_pylist()
    committed = lines(tmp_path / "committed.ndjson")
    assert len(committed) == len(bronze) == len({r["event_id"] for r in bronze}) > 95_000
    rejects = lines(tmp_path / "rejects.ndjson")
    bronze_rejects = lines(tmp_path / "bronze-rejects.ndjson") if (tmp_path / "bronze-rejects.ndjson").exists() else []
    assert len(rejects) + len(bronze_rejects) + len(committed) == len(events)
    stored = lines(tmp_path / "stored-rejects.ndjson")
    assert len(stored) == len(rejects) + len(bronze_rejects)
    dlq = deltalake.DeltaTable(str(tmp_path / "lake/dlq/events")).to_pyarrow_table(columns=["reason"]).to_pylist()
    assert len(dlq) == len(stored)
    redriven = lines(tmp_path / "bad-timestamps.ndjson")
    assert len(redriven) == sum(r["reason"] == "bad_timestamp" for r in dlq) > 0
    assert set(redriven) <= set(events)  # the original lines, byte for byte

    # The same events through acme's configured pipeline into Silver.
    summaries = {s["stage"]: s for s in map(json.loads, results[1].stderr.splitlines()) if s.get("event") == "summary"}
    acme = [json.loads(l) for l in committed if json.loads(l)["tenant_id"] == "acme"]
    checked = summaries["envelope-check"]["rows_out"]
    assert 0 < checked <= len(acme)  # acme's enabled event types only
    assert summaries["bronze-sink"]["rows_in"] == summaries["silver-validate"]["rows_in"] == checked
    silver_rows = lines(tmp_path / "silver-rows.ndjson")
    silver_rejects = lines(tmp_path / "silver-rejects.ndjson")
    assert len(silver_rows) + len(silver_rejects) == checked and len(silver_rows) > 0
    for event_type in {json.loads(l)["event_type"] for l in silver_rows}:
        assert (tmp_path / "lake/silver" / event_type / "_delta_log").is_dir()
    assert "tenant_mismatch" in {json.loads(l)["reason"] for l in lines(tmp_path / "acme-rejects.ndjson")}

    # Debugging a capture: the rejects appear on the terminal (stderr), one DLQ record per line.
    assert (tmp_path / "capture.ndjson.zst").stat().st_size > 0
    shown = [json.loads(l) for l in results[2].stderr.splitlines() if l.startswith(b'{"dlq_version"')]
    assert shown and all(r["stage"] == "envelope-check" for r in shown)
    assert not re.search(rb'"level":"error"', results[2].stderr)

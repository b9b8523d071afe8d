"""The README's main job (`make demo` runs scripts/demo.sh) must keep working."""
import json
import os
import subprocess

from conftest import BIN, ROOT, table_rows


def test_demo_script_runs_the_bundled_sample_end_to_end(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, BIN=str(BIN), OUT=str(out))
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summaries = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith('{"stage"')]
    assert [s["stage"] for s in summaries] == ["envelope-check", "bronze-sink"] + ["silver-validate"] * 3 + ["dlq-sink"]
    for s in summaries:
        assert s["status"] == "ok" and s["rows_in"] == s["rows_out"] + s["rows_dlq"]
    check, bronze, *silver, dlq = summaries
    assert check["rows_in"] == 20_000 and check["rows_dlq"] > 0
    assert len(table_rows(out / "lake" / "bronze" / "events", ["event_id"])) == check["rows_out"] == bronze["rows_in"]
    # Silver: one run per tenant over what Bronze committed; every kept row is in a Silver table.
    assert sum(s["rows_in"] for s in silver) == bronze["rows_out"]
    stored = sum(len(table_rows(t, ["event_id"])) for t in (out / "lake" / "silver").iterdir())
    assert stored == sum(s["rows_out"] for s in silver) > 19_000
    assert len(table_rows(out / "lake" / "dlq" / "events", ["reason"])) == check["rows_dlq"] + sum(s["rows_dlq"] for s in silver) == dlq["rows_in"]
    assert "silver/thermostat.telemetry (°C after standardisation" in proc.stdout

"""Shared fixtures for end-to-end tests: they run the real binaries as processes."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("MEDALLION_BIN", ROOT / ".build" / "debug")).resolve()
SHARED = ROOT.parent / "shared"


def binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make build` (or set MEDALLION_BIN)")
    return str(path)


def run(args, stdin=b"", cwd=None, timeout=120, env=None):
    """Runs a binary to completion; returns (status, stdout bytes, stderr text)."""
    proc = subprocess.run(args, input=stdin, capture_output=True, cwd=cwd, timeout=timeout, env=env)
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def events_named(stderr: str, event: str) -> list:
    """The JSON diagnostic lines of one `event` from a stage's stderr (other lines are skipped)."""
    found = []
    for line in stderr.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("event") == event:
            found.append(obj)
    return found


def summary(stderr: str) -> dict:
    """The stage's one-line JSON summary from its stderr."""
    found = events_named(stderr, "summary")
    if not found:
        raise AssertionError(f"no summary line in stderr:\n{stderr}")
    return found[0]


def read_ndjson(path) -> list:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f if line.strip()]


def envelope(**changes) -> dict:
    rec = {
        "tenant_id": "acme", "site_id": "s-1", "device_id": "dev-9", "device_type": "thermostat",
        "event_type": "thermostat.telemetry", "event_id": "e-0001",
        "event_time_utc": "2026-03-01T12:00:00.123Z", "ingest_time_utc": "2026-03-01T12:00:01Z",
        "schema_version": "1.0", "source_system": "gen",
        "payload": {"temperature": 21.5, "unit": "C"}, "attributes": {"fw": "2.1.0"},
    }
    for key, value in changes.items():
        if value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    return rec


def line(rec: dict) -> bytes:
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def delta_check(table) -> str:
    """Runs ../shared/tools/delta_check.py (six readers must agree); fails the test on any failure."""
    import sys
    proc = subprocess.run([sys.executable, str(SHARED / "tools" / "delta_check.py"), str(table), "--require-delta-scan"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"delta_check failed for {table}:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def events(n, tenant="acme", source="gen:t", partitions=4, start=0, **changes):
    """n valid envelopes with _source positions (offset per partition increasing)."""
    out = []
    for i in range(start, start + n):
        rec = envelope(event_id=f"{tenant}-{source}-{i}", device_id=f"dev-{i % 13}", tenant_id=tenant,
                       event_time_utc=f"2026-03-0{1 + i % 3}T12:00:{i % 60:02d}.{i % 1000:03d}Z",
                       ingest_time_utc=f"2026-03-0{1 + i % 3}T12:00:{i % 60:02d}Z",
                       payload={"temperature": 15 + (i % 100) / 10, "unit": "C", "i": i}, **changes)
        rec["_source"] = {"source": source, "partition": i % partitions, "offset": i // partitions}
        out.append(rec)
    return out


def table_rows(path, columns=None):
    import deltalake
    return deltalake.DeltaTable(str(path)).to_pyarrow_table(columns=columns).to_pylist()

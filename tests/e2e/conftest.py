"""Shared fixtures for end-to-end tests: they run the real binaries as processes."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("MEDALLION_BIN", ROOT / ".build" / "debug"))
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


def summary(stderr: str) -> dict:
    """The stage's one-line JSON summary from its stderr."""
    for line in stderr.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("event") == "summary":
            return obj
    raise AssertionError(f"no summary line in stderr:\n{stderr}")


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

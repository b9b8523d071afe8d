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

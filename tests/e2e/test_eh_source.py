"""eh-source against a real Kafka-protocol peer: librdkafka's mock cluster, started in this process
(kafka_mock.py), records produced with kcat. Volumes stay small (the mock keeps ~5 MiB per partition)
and every test uses a fresh topic and group (the mock's first join waits ~3 s)."""
import json
import os
import signal
import subprocess
import time
import uuid

import deltalake
import pytest

from conftest import binary, envelope, events, line, read_ndjson, run, summary, table_rows
from kafka_mock import API_FETCH, ERR_NOT_LEADER_FOR_PARTITION, ERR_REQUEST_TIMED_OUT, MockCluster

MOCK_FLAGS = ["--session-timeout-ms", "6000", "--heartbeat-interval-ms", "1000"]


@pytest.fixture(scope="module")
def cluster():
    c = MockCluster(brokers=1)
    yield c
    c.close()


def fresh(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def source_args(cluster, topic, group, *extra):
    return [binary("eh-source"), "--plaintext", "--bootstrap", cluster.bootstrap, "--topic", topic,
            "--group", group, *MOCK_FLAGS, *extra]


MARK = b'{"_mark":'


def records(data: bytes):
    """The record lines of eh-source's output; position marks are control lines (docs/eh-source.md)."""
    return [l for l in data.splitlines() if not l.startswith(MARK)]


def marks(data: bytes):
    return [json.loads(l)["_mark"] for l in data.splitlines() if l.startswith(MARK)]


def json_lines(text):
    out = []
    for l in text.splitlines():
        out.append(json.loads(l))  # stderr carries JSON lines only
    return out


def wait_for(predicate, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def plain_events(n, partitions, **kw):
    recs = events(n, partitions=partitions, **kw)
    for r in recs:
        r.pop("_source")
    return recs


def produce_spread(cluster, topic, recs, partitions):
    """Record i goes to partition i % partitions (so per-partition order = list order)."""
    for p in range(partitions):
        cluster.produce(topic, p, [line(r).rstrip(b"\n") for r in recs[p::partitions]])


def test_consumes_several_partitions_stamps_positions_and_ingest_time_and_rejects_non_objects(cluster, tmp_path):
    topic, group = fresh("multi"), fresh("g")
    cluster.create_topic(topic, 4)
    recs = plain_events(40, 4)
    no_ingest = envelope(event_id="no-ingest", ingest_time_utc=None)
    with_source = envelope(event_id="sender-source")
    with_source["_source"] = {"source": "upstream", "partition": 9, "offset": 99}
    produce_spread(cluster, topic, recs, 4)
    cluster.produce(topic, 0, [line(no_ingest).rstrip(b"\n"), line(with_source).rstrip(b"\n"),
                               b"[1,2]", b"not json", b'{"pretty":\n  true}'])
    dlq = tmp_path / "dlq.ndjson"
    status, out, err = run(source_args(cluster, topic, group, "--idle-exit-seconds", "1", "--dlq", str(dlq)), timeout=60)
    assert status == 0, err
    logs = json_lines(err)
    s = summary(err)
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"], s["status"]) == (45, 43, 2, "ok")
    rows = [json.loads(l) for l in records(out)]
    assert len(rows) == 43
    src = f"kafka:{cluster.bootstrap}/{topic}"
    positions = {(r["_source"]["partition"], r["_source"]["offset"]) for r in rows}
    assert len(positions) == 43 and {p for p, _ in positions} == {0, 1, 2, 3}
    assert all(r["_source"]["source"] == src for r in rows)
    by_id = {r.get("event_id"): r for r in rows}
    for i, rec in enumerate(recs):  # per partition, offsets follow production order
        got = by_id[rec["event_id"]]
        assert got["_source"]["partition"] == i % 4 and got["_source"]["offset"] == i // 4
        assert got["ingest_time_utc"] == rec["ingest_time_utc"]  # the sender's value is kept
        assert {k: v for k, v in got.items() if k != "_source"} == rec
    stamped = by_id["no-ingest"]["ingest_time_utc"]
    assert len(stamped) == 24 and stamped.endswith("Z")  # RFC 3339 UTC ms from the broker timestamp
    origin = by_id["sender-source"]
    assert origin["_origin"] == {"source": "upstream", "partition": 9, "offset": 99}
    assert origin["_source"]["source"] == src
    assert by_id[None]["pretty"] is True  # a multi-line value becomes one line
    assert len(records(out)) == 43
    dlq_lines = dlq.read_bytes()
    rejects = [json.loads(l) for l in records(dlq_lines)]
    assert [r["reason"] for r in rejects] == ["not_an_object", "invalid_json"]
    assert rejects[0]["raw"] == "[1,2]" and rejects[0]["source"] == {"source": src, "partition": 0, "offset": 12}
    assert any(l["event"] == "partitions_assigned" for l in logs)
    # Position marks: after each partition's records, up to its last offset (rejected ones included), on
    # stdout and, stamped with the stage, on the DLQ stream; the summary does not count them as rows.
    last = {}
    for m in marks(out):
        assert m["source"] == src
        last[m["partition"]] = max(last.get(m["partition"], -1), m["offset"])
    assert last == {0: 14, 1: 9, 2: 9, 3: 9}
    seen = {}
    for l in out.splitlines():
        if l.startswith(MARK):
            m = json.loads(l)["_mark"]
            assert seen.get(m["partition"], -1) == m["offset"], "a mark before its records"
        else:
            r = json.loads(l)["_source"]
            seen[r["partition"]] = r["offset"]
    dlq_marks = [json.loads(l) for l in dlq_lines.splitlines() if l.startswith(MARK)]
    assert dlq_marks and all(m["stage"] == "eh-source" for m in dlq_marks)
    assert s["marks"] == len(marks(out))


def test_no_marks_writes_only_records_for_tools_that_do_not_expect_control_lines(cluster):
    topic, group = fresh("nomarks"), fresh("g")
    cluster.create_topic(topic, 2)
    produce_spread(cluster, topic, plain_events(20, 2), 2)
    status, out, err = run(source_args(cluster, topic, group, "--idle-exit-seconds", "1", "--no-marks"), timeout=60)
    assert status == 0, err
    assert len(out.splitlines()) == 20 and marks(out) == []
    assert summary(err)["marks"] == 0


def test_restart_with_resume_from_lake_stores_each_event_exactly_once(cluster, tmp_path):
    """eh-source | bronze-sink, killed (-9) mid-stream, then restarted with --resume-from-lake: the
    Bronze table holds every event exactly once, although the group's committed offsets ran ahead
    of the table (records were in the pipe when it died)."""
    topic, group = fresh("resume"), fresh("g")
    cluster.create_topic(topic, 3)
    recs = plain_events(600, 3)
    produce_spread(cluster, topic, recs, 3)
    lake = tmp_path / "lake"
    bronze = [binary("bronze-sink"), "--lake", str(lake), "--tenants", "acme", "--batch-rows", "40",
              "--flush-interval", "0.2", "--dlq", str(tmp_path / "bronze.dlq")]
    src = source_args(cluster, topic, group, "--resume-from-lake", str(lake), "--rate", "250")
    a = subprocess.Popen(src, stdout=subprocess.PIPE, stderr=open(tmp_path / "a.err", "wb"))
    b = subprocess.Popen(bronze, stdin=a.stdout, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "b.err", "wb"))
    a.stdout.close()
    table = lake / "bronze" / "events"

    def stored():
        try:
            return deltalake.DeltaTable(str(table)).version() >= 3
        except Exception:
            return False
    wait_for(stored, 30, "a few Bronze commits")
    a.kill()
    b.kill()
    a.wait()
    b.wait()
    first = len(table_rows(table, ["event_id"]))
    assert 0 < first < 600
    # Restart: resume from the table, not from the group's offsets.
    pipeline = f"{' '.join(source_args(cluster, topic, group, '--resume-from-lake', str(lake), '--idle-exit-seconds', '1.5'))}" \
               f" 2>{tmp_path / 'a2.err'} | {' '.join(bronze)} > /dev/null 2>{tmp_path / 'b2.err'}"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], timeout=90)
    assert proc.returncode == 0, (tmp_path / "a2.err").read_text() + (tmp_path / "b2.err").read_text()
    ids = [r["event_id"] for r in table_rows(table, ["event_id"])]
    assert len(ids) == 600 and set(ids) == {r["event_id"] for r in recs}
    assigned = [l for l in json_lines((tmp_path / "a2.err").read_text()) if l["event"] == "partitions_assigned"]
    assert "@committed" not in assigned[0]["msg"]  # every partition started from the lake or earliest


def test_resume_from_lake_starts_at_the_lowest_position_of_the_pipeline_sinks_so_silver_loses_nothing(cluster, tmp_path):
    """Bronze committed everything, Silver only the first half (the rest was in a pipe when the
    pipeline died). A restart with --resume-from-lake starts from Silver's positions: Bronze skips
    what it has, Silver stores the rest, and every Silver table holds each event exactly once."""
    from conftest import ROOT
    topic, group = fresh("pipe"), fresh("g")
    cluster.create_topic(topic, 2)
    status, generated, err = run([binary("medallion"), "generate", "--count", "200", "--seed", "5",
                                  "--config", str(ROOT), "--tenant", "acme"])
    assert status == 0, err
    recs = [json.loads(l) for l in generated.splitlines()]
    for r in recs:
        r.pop("_source")
    produce_spread(cluster, topic, recs, 2)
    status, captured, err = run(source_args(cluster, topic, group, "--idle-exit-seconds", "1.5"), timeout=60)
    assert status == 0 and len(records(captured)) == 200, err
    lake = tmp_path / "lake"
    silver = [binary("silver-validate"), "--config", str(ROOT), "--tenant", "acme", "--lake", str(lake),
              "--dlq", str(tmp_path / "silver.dlq")]
    bronze = [binary("bronze-sink"), "--lake", str(lake), "--tenants", "acme", "--dlq", str(tmp_path / "bronze.dlq")]
    assert run(bronze, stdin=captured)[0] == 0
    first_half = b"\n".join(l for l in records(captured) if json.loads(l)["_source"]["offset"] < 50) + b"\n"
    assert run(silver, stdin=first_half)[0] == 0

    def silver_ids():
        ids = []
        for t in sorted((lake / "silver").iterdir()):
            ids += [r["event_id"] for r in table_rows(t, ["event_id"])]
        return ids
    assert len(silver_ids()) == 100
    pipeline = (f"{' '.join(source_args(cluster, topic, fresh('g'), '--resume-from-lake', str(lake), '--idle-exit-seconds', '1.5'))}"
                f" 2>{tmp_path / 'a.err'} | {' '.join(bronze)} 2>{tmp_path / 'b.err'} | {' '.join(silver)} > /dev/null 2>{tmp_path / 's.err'}")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], timeout=120)
    assert proc.returncode == 0, (tmp_path / "a.err").read_text() + (tmp_path / "s.err").read_text()
    assigned = [l["msg"] for l in json_lines((tmp_path / "a.err").read_text()) if l["event"] == "partitions_assigned"][0]
    # Silver's positions (below 50 on each partition), not Bronze's (99 on each partition).
    starts = {int(p.split("@")[0]): int(p.split("@")[1]) for p in assigned.split(": ")[1].split(",")}
    assert sorted(starts) == [0, 1] and all(40 <= s <= 50 for s in starts.values()), assigned
    ids = silver_ids()
    assert len(ids) == 200 and set(ids) == {r["event_id"] for r in recs}
    assert len(table_rows(lake / "bronze" / "events", ["event_id"])) == 200
    assert "already stored" in (tmp_path / "s.err").read_text()


def test_kill_9_of_a_pipeline_with_a_dlq_fifo_then_resume_stores_every_event_and_every_reject_exactly_once(cluster, tmp_path):
    """eh-source | envelope-check (rejects into a FIFO read by dlq-sink) | bronze-sink, all killed -9
    mid-stream, then restarted with --resume-from-lake. Position marks advance the DLQ table's positions
    with the source, so the restart replays what any sink lacked, and only that: Bronze holds each good
    event once, the DLQ table each reject once."""
    topic = fresh("fifo")
    cluster.create_topic(topic, 2)
    recs = plain_events(400, 2)
    bad = set()
    for i, r in enumerate(recs):
        if i % 9 == 4:  # about one in nine is rejected by envelope-check
            r["event_time_utc"] = "2026-13-01T00:00:00Z"
            bad.add(r["event_id"])
    produce_spread(cluster, topic, recs, 2)
    lake = tmp_path / "lake"

    def start(run, *source_extra):
        fifo = tmp_path / f"dlq-{run}.fifo"
        os.mkfifo(fifo)
        errs = {n: open(tmp_path / f"{n}-{run}.err", "wb") for n in ("src", "check", "bronze", "dlq")}
        dlq = subprocess.Popen([binary("dlq-sink"), "--lake", str(lake), "--input", str(fifo), "--batch-rows", "7",
                                "--flush-interval", "0.2", "--dlq", str(tmp_path / "dlq-sink.dlq")],
                               stdout=subprocess.DEVNULL, stderr=errs["dlq"])
        src = subprocess.Popen(source_args(cluster, topic, fresh("g"), "--resume-from-lake", str(lake), *source_extra),
                               stdout=subprocess.PIPE, stderr=errs["src"])
        check = subprocess.Popen([binary("envelope-check"), "--tenants", "acme", "--dlq", str(fifo)],
                                 stdin=src.stdout, stdout=subprocess.PIPE, stderr=errs["check"])
        bronze = subprocess.Popen([binary("bronze-sink"), "--lake", str(lake), "--tenants", "acme", "--batch-rows", "25",
                                   "--flush-interval", "0.2", "--dlq", str(tmp_path / "bronze.dlq")],
                                  stdin=check.stdout, stdout=subprocess.DEVNULL, stderr=errs["bronze"])
        src.stdout.close()
        check.stdout.close()
        return [src, check, bronze, dlq]

    procs = start(1, "--rate", "150")

    def progressed():
        try:
            return (deltalake.DeltaTable(str(lake / "bronze/events")).version() >= 3
                    and deltalake.DeltaTable(str(lake / "dlq/events")).version() >= 2)
        except Exception:
            return False
    wait_for(progressed, 60, "a few Bronze and DLQ commits")
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()
    stored = len(table_rows(lake / "bronze" / "events", ["event_id"]))
    assert 0 < stored < 400 - len(bad)

    procs = start(2, "--idle-exit-seconds", "1.5")
    for p in procs:
        assert p.wait(timeout=120) == 0, [(tmp_path / f"{n}-2.err").read_text()[-500:] for n in ("src", "check", "bronze", "dlq")]
    good = [r["event_id"] for r in table_rows(lake / "bronze" / "events", ["event_id"])]
    assert sorted(good) == sorted(r["event_id"] for r in recs if r["event_id"] not in bad)
    rejects = table_rows(lake / "dlq" / "events", ["reason", "raw"])
    ids = [json.loads(r["raw"])["event_id"] for r in rejects]
    assert sorted(ids) == sorted(bad), "every reject exactly once"
    assert {r["reason"] for r in rejects} == {"bad_timestamp"}
    assigned = [l["msg"] for l in json_lines((tmp_path / "src-2.err").read_text()) if l["event"] == "partitions_assigned"][0]
    assert "@committed" not in assigned


def test_two_instances_in_one_group_share_partitions_without_loss_or_repeats(cluster, tmp_path):
    topic, group = fresh("shared"), fresh("g")
    cluster.create_topic(topic, 4)
    recs = plain_events(200, 4)
    produce_spread(cluster, topic, recs[:100], 4)
    procs, outs, errs = [], [], []
    for name in "ab":
        outs.append(tmp_path / f"{name}.out")
        errs.append(tmp_path / f"{name}.err")
        procs.append(subprocess.Popen(source_args(cluster, topic, group, "--idle-exit-seconds", "3"),
                                      stdout=open(outs[-1], "wb"), stderr=open(errs[-1], "wb")))

    def both_assigned():
        last = []
        for e in errs:
            assigned = [l for l in json_lines(e.read_text()) if l["event"] == "partitions_assigned"]
            if not assigned or assigned[-1]["msg"].endswith("none"):
                return False
            last.append(assigned[-1]["msg"])
        return True
    wait_for(both_assigned, 30, "both instances to own partitions")
    produce_spread(cluster, topic, recs[100:], 4)
    for p in procs:
        assert p.wait(timeout=60) == 0
    rows = [json.loads(l) for o in outs for l in records(o.read_bytes())]
    ids = [r["event_id"] for r in rows]
    assert set(ids) == {r["event_id"] for r in recs}  # nothing lost
    # Nothing twice, unless a commit was refused mid-rebalance (librdkafka's mock refuses commits
    # once a rebalance began; timing decides). Then the repeat is reported, and it is only of
    # records after the refused commit, on the partitions that changed hands.
    repeated = {i for i in ids if ids.count(i) > 1}
    if repeated:
        failures = [l for e in errs for l in json_lines(e.read_text()) if l["event"] == "offset_commit_failed"]
        assert failures, f"{len(repeated)} records repeated without an offset_commit_failed warning"
        assert "at-least-once" in failures[0]["msg"]
    per_instance = [{json.loads(l)["_source"]["partition"] for l in records(o.read_bytes())} for o in outs]
    assert per_instance[0] and per_instance[1]


def test_a_quiet_topic_commits_at_once_so_a_member_joining_later_repeats_nothing(cluster, tmp_path):
    """The background auto-commit runs every few seconds; a rebalance inside that window would hand
    partitions over at the previous commit. eh-source commits as soon as the topic goes quiet."""
    topic, group = fresh("late"), fresh("g")
    cluster.create_topic(topic, 4)
    recs = plain_events(160, 4)
    produce_spread(cluster, topic, recs[:80], 4)
    outs = [tmp_path / "a.out", tmp_path / "b.out"]
    errs = [tmp_path / "a.err", tmp_path / "b.err"]
    first = subprocess.Popen(source_args(cluster, topic, group, "--idle-exit-seconds", "6"),
                             stdout=open(outs[0], "wb"), stderr=open(errs[0], "wb"))
    wait_for(lambda: len(records(outs[0].read_bytes())) == 80, 30, "the first member to read 80 records")
    time.sleep(0.5)  # quiet: the first member commits now, not at the next auto-commit
    second = subprocess.Popen(source_args(cluster, topic, group, "--idle-exit-seconds", "3"),
                              stdout=open(outs[1], "wb"), stderr=open(errs[1], "wb"))
    wait_for(lambda: any(l["event"] == "partitions_assigned" and not l["msg"].endswith("none")
                         for l in json_lines(errs[1].read_text())), 30, "the second member to own partitions")
    produce_spread(cluster, topic, recs[80:], 4)
    for p in (first, second):
        assert p.wait(timeout=60) == 0
    ids = [json.loads(l)["event_id"] for o in outs for l in records(o.read_bytes())]
    assert sorted(ids) == sorted(r["event_id"] for r in recs)  # nothing lost, nothing twice
    assert outs[1].read_bytes(), "the second member read nothing"


def test_injected_fetch_errors_and_a_broker_outage_are_survived(tmp_path):
    c = MockCluster(brokers=1)
    try:
        topic, group = fresh("faults"), fresh("g")
        c.create_topic(topic, 2)
        recs = plain_events(60, 2)
        produce_spread(c, topic, recs[:20], 2)
        out, err = tmp_path / "out", tmp_path / "err"
        proc = subprocess.Popen([binary("eh-source"), "--plaintext", "--bootstrap", c.bootstrap, "--topic", topic,
                                 "--group", group, *MOCK_FLAGS, "--max-records", "60", "--idle-exit-seconds", "30"],
                                stdout=open(out, "wb"), stderr=open(err, "wb"))
        wait_for(lambda: len(records(out.read_bytes())) == 20, 30, "the first 20 records")
        c.push_errors(API_FETCH, [ERR_NOT_LEADER_FOR_PARTITION, ERR_REQUEST_TIMED_OUT])
        produce_spread(c, topic, recs[20:40], 2)
        wait_for(lambda: len(records(out.read_bytes())) == 40, 30, "records after the injected errors")
        c.broker_down(1)
        time.sleep(2)
        c.broker_up(1)
        produce_spread(c, topic, recs[40:], 2)
        assert proc.wait(timeout=60) == 0, err.read_text()
        ids = [json.loads(l)["event_id"] for l in records(out.read_bytes())]
        if sorted(ids) != sorted(r["event_id"] for r in recs):
            # Tell a lost record from one the producer never delivered: read the topic back.
            in_topic = subprocess.run(["kcat", "-C", "-b", c.bootstrap, "-t", topic, "-e", "-q", "-f", "%p %o %s\n",
                                       "-X", "log_level=0"], capture_output=True, timeout=30).stdout.decode()
            missing = sorted(set(r["event_id"] for r in recs) - set(ids))
            raise AssertionError(f"missing {missing}; in topic: " + " | ".join(
                l[:40] + "…" + l[l.find('"event_id"'):l.find('"event_id"') + 40] for l in in_topic.splitlines()))
        logs = json_lines(err.read_text())
        assert any(l["event"] in ("broker_error", "librdkafka") for l in logs)
        assert summary(err.read_text())["rows_out"] == 60
    finally:
        c.close()


def test_sigterm_while_every_broker_is_down_exits_at_once_and_says_what_is_not_committed(tmp_path):
    c = MockCluster(brokers=1)
    try:
        topic, group = fresh("term"), fresh("g")
        c.create_topic(topic, 2)
        recs = plain_events(20, 2)
        produce_spread(c, topic, recs, 2)
        out, err = tmp_path / "out", tmp_path / "err"
        proc = subprocess.Popen(source_args(c, topic, group), stdout=open(out, "wb"), stderr=open(err, "wb"))
        wait_for(lambda: len(records(out.read_bytes())) == 20, 30, "the 20 records")
        c.broker_down(1)
        wait_for(lambda: any(l["event"] == "broker_error" for l in json_lines(err.read_text())), 20, "the outage to be seen")
        started = time.time()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert time.time() - started < 5, "a close that waits for the brokers"
        logs = json_lines(err.read_text())
        warning = [l for l in logs if l["event"] == "close_without_brokers"]
        assert warning and "at-least-once" in warning[0]["msg"]
        assert summary(err.read_text())["rows_out"] == 20
    finally:
        c.close()


def test_unreachable_brokers_exit_75_after_max_retry_seconds_with_json_diagnostics(tmp_path):
    start = time.time()
    status, out, err = run([binary("eh-source"), "--plaintext", "--bootstrap", "127.0.0.1:1", "--topic", "t",
                            "--group", fresh("g"), "--max-retry-seconds", "1.5"], timeout=60)
    assert status == 75, err
    assert time.time() - start < 15
    logs = json_lines(err)
    assert any(l["event"] == "broker_error" for l in logs)
    assert summary(err)["status"] == "failed" and "unreachable" in summary(err)["error"]


def tenant_tree(tmp_path, hub, group, lake):
    """A copy of the bundled tree whose tenant acme (dev) reads `hub` with consumer group `group`."""
    from conftest import ROOT
    import shutil
    tree = tmp_path / "tree"
    for name in ["configs", "schemas", "rules", "pipelines"]:
        shutil.copytree(ROOT / name, tree / name)
    (tree / "configs/tenants/acme/dev.yaml").write_text(
        f"version: 1\nstorage:\n  root: {lake}\neventhubs:\n  hub: {hub}\n  consumer_group: {group}\n")
    return tree


def test_live_mode_takes_hub_group_and_resume_lake_from_the_tenants_settings(cluster, tmp_path):
    """eh-source --config DIR --tenant T reads the tenant's eventhubs.hub with its consumer_group, and
    --resume starts at the tenant's own storage root: nothing but configuration names the topic."""
    topic, group = fresh("tree"), fresh("g")
    cluster.create_topic(topic, 2)
    recs = plain_events(50, 2)
    produce_spread(cluster, topic, recs, 2)
    lake = tmp_path / "lake"
    tree = tenant_tree(tmp_path, topic, group, lake)
    args = [binary("eh-source"), "--config", str(tree), "--tenant", "acme", "--env", "dev", "--plaintext",
            "--bootstrap", cluster.bootstrap, *MOCK_FLAGS, "--idle-exit-seconds", "1", "--resume"]
    status, out, err = run(args, timeout=60)
    assert status == 0, err
    assert sorted(json.loads(l)["event_id"] for l in records(out)) == sorted(r["event_id"] for r in recs)
    events_ = json_lines(err)
    assert any(e["event"] == "partitions_assigned" for e in events_)
    assert summary(err)["input"].endswith("/(eventhubs.hub)")
    # The consumer group is the tenant's: its committed offsets now cover the topic, so a second run
    # without --resume reads nothing.
    args.remove("--resume")
    status, out, err = run(args, timeout=60)
    assert status == 0, err
    assert records(out) == []


def test_live_mode_from_the_tree_refuses_a_connection_string_of_another_namespace(tmp_path):
    tree = tenant_tree(tmp_path, "telemetry", "medallion", tmp_path / "lake")
    env = dict(os.environ, ACME_EVENTHUBS_CONNECTION="Endpoint=sb://someone-else.servicebus.windows.net/;"
                                                     "SharedAccessKeyName=listen;SharedAccessKey=c2VjcmV0")
    status, _, err = run([binary("eh-source"), "--config", str(tree), "--tenant", "acme", "--max-retry-seconds", "1"],
                         env=env, timeout=30)
    assert status == 78, err
    assert "someone-else.servicebus.windows.net" in err and "acme-dev-ehns" in err and "c2VjcmV0" not in err
    # The same namespace in other letters, or configured as a full host name, is accepted (then it
    # tries to connect to a host that does not resolve here: exit 75, not a configuration error).
    env["ACME_EVENTHUBS_CONNECTION"] = ("Endpoint=sb://ACME-DEV-EHNS.servicebus.windows.net/;"
                                       "SharedAccessKeyName=listen;SharedAccessKey=c2VjcmV0;EntityPath=telemetry")
    status, _, err = run([binary("eh-source"), "--config", str(tree), "--tenant", "acme", "--max-retry-seconds", "1"],
                         env=env, timeout=60)
    assert status == 75, err
    tenant_file = tree / "configs/tenants/acme/tenant.yaml"
    tenant_file.write_text(tenant_file.read_text().replace("namespace: acme-dev-ehns", "namespace: acme-dev-ehns.servicebus.windows.net"))
    status, _, err = run([binary("eh-source"), "--config", str(tree), "--tenant", "acme", "--max-retry-seconds", "1"],
                         env=env, timeout=60)
    assert status == 75, err
    env.pop("ACME_EVENTHUBS_CONNECTION")
    status, _, err = run([binary("eh-source"), "--config", str(tree), "--tenant", "acme"], env=env, timeout=30)
    assert status == 78 and "eventhubs.connection_string_env ACME_EVENTHUBS_CONNECTION" in err
    # A URL storage root cannot be resumed from (this build reads local paths only).
    status, _, err = run([binary("eh-source"), "--config", str(tree), "--tenant", "acme", "--env", "prod",
                          "--plaintext", "--bootstrap", "127.0.0.1:1", "--resume"], timeout=30)
    assert status == 78 and "abfss://" in err


def test_connection_string_is_never_logged(tmp_path):
    secret = "c2VjcmV0LWtleS1kby1ub3QtbG9n="
    env = dict(os.environ, EH_CONN=f"Endpoint=sb://medallion-test.invalid/;SharedAccessKeyName=listen;"
                                   f"SharedAccessKey={secret};EntityPath=telemetry")
    status, out, err = run([binary("eh-source"), "--connection-string-env", "EH_CONN", "--group", fresh("g"),
                            "--max-retry-seconds", "1"], env=env, timeout=60)
    assert status == 75, err
    assert secret not in err and "SharedAccessKey=" not in err
    assert "medallion-test.invalid:9093" in err or "broker_error" in err
    status, _, err = run([binary("eh-source"), "--connection-string-env", "EH_MISSING", "--topic", "t"],
                         env={k: v for k, v in os.environ.items() if k != "EH_MISSING"})
    assert status == 78 and "EH_MISSING" in err
    env["EH_CONN"] = f"SharedAccessKey={secret}"
    status, _, err = run([binary("eh-source"), "--connection-string-env", "EH_CONN", "--topic", "t"], env=env)
    assert status == 78 and "Endpoint" in err and secret not in err


def test_sigterm_stops_cleanly_with_a_summary(cluster, tmp_path):
    topic, group = fresh("term"), fresh("g")
    cluster.create_topic(topic, 2)
    produce_spread(cluster, topic, plain_events(10, 2), 2)
    out, err = tmp_path / "out", tmp_path / "err"
    proc = subprocess.Popen(source_args(cluster, topic, group), stdout=open(out, "wb"), stderr=open(err, "wb"))
    wait_for(lambda: len(records(out.read_bytes())) == 10, 30, "10 records")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    s = summary(err.read_text())
    assert s["status"] == "stopped" and s["rows_out"] == 10
    # The offsets were committed: the same group sees nothing new.
    status, out2, err2 = run(source_args(cluster, topic, group, "--idle-exit-seconds", "1"), timeout=60)
    assert status == 0 and out2 == b"", err2


def test_max_records_stops_after_n(cluster):
    topic, group = fresh("max"), fresh("g")
    cluster.create_topic(topic, 1)
    produce_spread(cluster, topic, plain_events(30, 1), 1)
    status, out, err = run(source_args(cluster, topic, group, "--max-records", "12"), timeout=60)
    assert status == 0, err
    assert len(records(out)) == 12
    status, out, err = run(source_args(cluster, topic, group, "--idle-exit-seconds", "1"), timeout=60)
    assert status == 0 and len(records(out)) == 18  # continues after the 12 from the group's offsets


# ---- NDJSON replay and the generator (no broker, no wall clock) ----

def test_replay_adds_positions_keeps_existing_ones_and_is_byte_identical_twice(tmp_path):
    import zstandard
    recs = plain_events(30, 1)
    kept = envelope(event_id="kept")
    kept["_source"] = {"source": "kafka:x/t", "partition": 2, "offset": 7}
    data = b"".join(line(r) for r in recs[:10]) + line(kept) + b"[1]\n" + b"".join(line(r) for r in recs[10:])
    plain = tmp_path / "events.ndjson"
    plain.write_bytes(data)
    packed = tmp_path / "events.ndjson.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(data))
    outs = []
    for path in (plain, plain, packed):
        status, out, err = run([binary("eh-source"), "--replay", str(path), "--dlq", str(tmp_path / "d")], cwd=tmp_path)
        assert status == 0, err
        outs.append(out)
        s = summary(err)
        assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (32, 31, 1)
    assert outs[0] == outs[1]  # deterministic: no wall clock in the output
    rows = [json.loads(l) for l in outs[0].splitlines()]
    assert rows[0]["_source"] == {"source": f"file:{plain}", "partition": 0, "offset": 1}
    assert rows[10]["_source"] == kept["_source"]  # a replay of our own output keeps its positions
    assert rows[11]["_source"]["offset"] == 13 and "ingest_time_utc" in rows[11]
    assert [r["_source"]["offset"] for r in [json.loads(l) for l in outs[2].splitlines()]][:3] == [1, 2, 3]
    status, out, err = run([binary("eh-source"), "--replay", "--source-id", "cap1", "--dlq", str(tmp_path / "d")],
                           stdin=data, cwd=tmp_path)
    assert status == 0 and json.loads(out.splitlines()[0])["_source"]["source"] == "cap1"
    status, _, err = run([binary("eh-source"), "--replay", str(tmp_path / "missing.ndjson")])
    assert status == 66 and "missing.ndjson" in err


def test_replay_capture_to_rate_and_follow(tmp_path):
    import zstandard
    data = b"".join(line(r) for r in plain_events(50, 1)) + b"not json\n"
    src = tmp_path / "in.ndjson"
    src.write_bytes(data)
    cap = tmp_path / "copy.ndjson.zst"
    start = time.time()
    status, out, err = run([binary("eh-source"), "--replay", str(src), "--rate", "100", "--capture-to", str(cap),
                            "--dlq", str(tmp_path / "d")])
    assert status == 0, err
    assert time.time() - start >= 0.4  # 51 records at 100/s
    assert subprocess.run(["zstd", "-dc", str(cap)], capture_output=True, check=True).stdout == data  # the raw input, teed
    grow = tmp_path / "grow.ndjson"
    grow.write_bytes(data[:data.index(b"\n") + 1])
    proc = subprocess.Popen([binary("eh-source"), "--replay", str(grow), "--follow", "--idle-exit-seconds", "1.5",
                             "--dlq", str(tmp_path / "d2")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    with open(grow, "ab") as f:
        f.write(data[data.index(b"\n") + 1:])
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.count(b"\n") == 50 and summary(err.decode())["rows_dlq"] == 1


def test_generate_matches_medallion_generate_and_is_deterministic(tmp_path):
    args = ["--count", "500", "--seed", "7", "--bad-rate", "0.05"]
    status, out, err = run([binary("eh-source"), "--generate", *args])
    assert status == 0, err
    status2, out2, _ = run([binary("eh-source"), "--generate", *args])
    assert out == out2 and out.count(b"\n") == 500
    status, reference, err = run([binary("medallion"), "generate", *args, "--max-heavy", "16"])
    assert status == 0, err
    assert out == reference
    assert summary(run([binary("eh-source"), "--generate", *args])[2])["rows_out"] == 500


# ---- Event Hubs Capture replay (Avro written by fastavro) ----

CAPTURE_SCHEMA = {
    "type": "record", "name": "EventData", "namespace": "Microsoft.ServiceBus.Messaging",
    "fields": [
        {"name": "SequenceNumber", "type": "long"},
        {"name": "Offset", "type": "string"},
        {"name": "EnqueuedTimeUtc", "type": "string"},
        {"name": "SystemProperties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
        {"name": "Properties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
        {"name": "Body", "type": ["null", "bytes"]},
    ],
}


def capture_records(partition, first_seq, bodies, minute):
    out = []
    for i, body in enumerate(bodies):
        seq = first_seq + i
        out.append({"SequenceNumber": seq, "Offset": str(seq * 512), "EnqueuedTimeUtc": f"11/26/2025 3:{minute:02d}:{i % 60:02d} PM",
                    "SystemProperties": {"x-opt-enqueued-time": 1764172798000 + i, "x-opt-partition-key": "k"},
                    "Properties": {"app": "meter", "n": i, "f": 1.5, "b": b"\x00"}, "Body": body})
    return out


def write_capture(root, partition, minute, records, codec, sync_interval=16000):
    import fastavro
    d = root / "contoso" / "telemetry" / str(partition) / "2025" / "11" / "26" / "15" / f"{minute:02d}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / "00.avro"
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(CAPTURE_SCHEMA), records, codec=codec, sync_interval=sync_interval)
    return path


def test_capture_replay_both_codecs_empty_files_in_partition_and_time_order(tmp_path):
    root = tmp_path / "capture"
    recs = plain_events(40, 1)
    bodies = [line(r).rstrip(b"\n") for r in recs]
    no_ingest = line(envelope(event_id="cap-no-ingest", ingest_time_utc=None)).rstrip(b"\n")
    # partition 1 minute 59 (deflate) sorts after minute 58 (null); partition 0 comes first.
    write_capture(root, 1, 59, capture_records(1, 110, bodies[30:], 59), "deflate")
    write_capture(root, 1, 58, capture_records(1, 100, bodies[20:30], 58), "null")
    write_capture(root, 0, 58, capture_records(0, 0, bodies[:20] + [no_ingest, b"not json", None], 58), "deflate", 300)
    empty = root / "contoso" / "telemetry" / "0" / "2025" / "11" / "26" / "15" / "59"
    empty.mkdir(parents=True)
    (empty / "00.avro").write_bytes(b"")  # Capture writes empty files for quiet windows
    outs = []
    for _ in range(2):
        status, out, err = run([binary("eh-source"), "--capture-dir", str(root), "--dlq", str(tmp_path / "d")])
        assert status == 0, err
        outs.append(out)
    assert outs[0] == outs[1]  # deterministic
    s = summary(err)
    assert (s["rows_in"], s["rows_out"], s["rows_dlq"]) == (43, 41, 2)
    rows = [json.loads(l) for l in outs[0].splitlines()]
    assert [r["event_id"] for r in rows] == [r["event_id"] for r in recs[:20]] + ["cap-no-ingest"] + \
           [r["event_id"] for r in recs[20:]]
    assert rows[0]["_source"] == {"source": "capture:contoso/telemetry", "partition": 0, "offset": 0}
    assert rows[21]["_source"] == {"source": "capture:contoso/telemetry", "partition": 1, "offset": 100}
    assert rows[-1]["_source"]["offset"] == 119
    assert rows[20]["ingest_time_utc"] == "2025-11-26T15:58:20.000Z"  # from EnqueuedTimeUtc "11/26/2025 3:58:20 PM"
    assert rows[0]["ingest_time_utc"] == recs[0]["ingest_time_utc"]  # the sender's own value wins
    assert {k: v for k, v in rows[5].items() if k != "_source"} == recs[5]
    dlq = read_ndjson(tmp_path / "d")[-2:]
    assert [d["reason"] for d in dlq] == ["invalid_json", "invalid_json"]
    assert dlq[0]["raw"] == "not json" and dlq[0]["source"]["offset"] == 21


def test_capture_corrupt_block_becomes_a_dlq_record_and_the_file_goes_on(tmp_path):
    root = tmp_path / "capture"
    recs = plain_events(60, 1)
    path = write_capture(root, 0, 0, capture_records(0, 0, [line(r).rstrip(b"\n") for r in recs], 0), "deflate", 2000)
    data = bytearray(path.read_bytes())
    sync = bytes(data[-16:])
    marks = []
    at = data.find(sync)
    while at >= 0:
        marks.append(at)
        at = data.find(sync, at + 16)
    assert len(marks) >= 4  # header + at least three blocks
    start, end = marks[1] + 16, marks[2]
    mid = (start + end) // 2
    data[mid:mid + 8] = b"\xff" * 8  # damage the second block's deflate data
    path.write_bytes(bytes(data))
    status, out, err = run([binary("eh-source"), "--capture-dir", str(root), "--dlq", str(tmp_path / "d")])
    assert status == 0, err
    dlq = read_ndjson(tmp_path / "d")
    assert len(dlq) == 1 and dlq[0]["reason"] == "corrupt_capture_block" and "block 2" in dlq[0]["message"]
    rows = [json.loads(l) for l in out.splitlines()]
    s = summary(err)
    assert s["rows_dlq"] == 1 and s["rows_in"] == s["rows_out"] + 1
    assert 0 < len(rows) < 60 and rows[-1]["event_id"] == recs[-1]["event_id"]  # blocks after the bad one are read
    assert any(json.loads(l)["event"] == "corrupt_capture_block" for l in err.splitlines())
    # A codec other than null/deflate fails clearly, naming the file.
    import fastavro
    other = tmp_path / "other" / "x.avro"
    other.parent.mkdir()
    with open(other, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(CAPTURE_SCHEMA), capture_records(0, 0, [b"{}"], 0), codec="snappy") \
            if _has_snappy() else f.write(b"Obj\x01\x04\x14avro.codec\x0cbzip2\x16avro.schema\x04{}\x00" + b"S" * 16)
    status, _, err = run([binary("eh-source"), "--capture-dir", str(other.parent)])
    assert status == 65 and "x.avro" in err and ("codec" in err or "damaged" in err)


def _has_snappy():
    try:
        import cramjam  # noqa: F401  (fastavro's snappy codec)
        return True
    except ImportError:
        return False

"""acme's dev pipeline as the runbook runs it: a real supervisord started from
examples/supervisord/acme-dev.conf (placeholders substituted), five programs joined by FIFOs,
eh-source following an NDJSON file, and the pipeline-restarter event listener. The tables are
compared with what a plain shell pipeline over the same input writes."""
import collections
import hashlib
import http.client
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import deltalake
import pytest

from conftest import BIN, ROOT, binary, events_named, summary

EXAMPLE = ROOT / "examples" / "supervisord"
VENV_BIN = pathlib.Path(sys.executable).parent
STAGES = ["eh-source", "envelope-check", "bronze-sink", "silver-validate", "dlq-sink"]
SILVER = ["thermostat.telemetry", "door.access", "energy.meter"]
GROUP = "acme-dev"


def supervisor_tool(name):
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: pip install -r tests/requirements.txt (supervisor)")
    return str(path)


def rows(lake, table, columns):
    path = lake / table
    if not (path / "_delta_log").is_dir():
        return []
    return deltalake.DeltaTable(str(path)).to_pyarrow_table(columns=columns).to_pylist()


def dlq_key(r):
    """What identifies a stored reject: its stage, reason, position and exact bytes."""
    raw = r["raw"].encode() if r["raw"] is not None else (r["raw_base64"] or "").encode()
    return (r["stage"], r["reason"], r["source_id"], r["source_partition"], r["source_offset"],
            r["raw_length"], hashlib.sha256(raw).hexdigest()[:16])


DLQ_COLUMNS = ["stage", "reason", "source_id", "source_partition", "source_offset", "raw_length", "raw", "raw_base64"]


def lake_contents(lake):
    return {
        "bronze": [r["event_id"] for r in rows(lake, "bronze/events", ["event_id"])],
        **{e: [r["event_id"] for r in rows(lake, f"silver/{e}", ["event_id"])] for e in SILVER},
        "dlq": [dlq_key(r) for r in rows(lake, "dlq/events", DLQ_COLUMNS)],
    }


class Pipeline:
    """One supervisord running the example configuration in a temporary directory."""

    def __init__(self, tmp_path, edit_tree=None):
        self.tmp = tmp_path
        self.tree = tmp_path / "tree"
        for name in ["configs", "schemas", "rules", "pipelines"]:
            shutil.copytree(ROOT / name, self.tree / name)
        # Quick commits on a quiet stream, so the test sees them within a second.
        (self.tree / "configs/tenants/acme/dev.yaml").write_text(
            "version: 1\nbatching:\n  rows: 10000\n  flush_interval_seconds: 1\n")
        if edit_tree:
            edit_tree(self.tree)
        # A short directory: a unix socket path must stay under 108 bytes.
        self.sock_dir = pathlib.Path(tempfile.mkdtemp(prefix="medsv"))
        self.run = tmp_path / "run"
        self.log = self.run / "log"
        self.lake = tmp_path / "lake"
        self.incoming = tmp_path / "incoming.ndjson"
        self.incoming.touch()
        self.log.mkdir(parents=True)
        text = (EXAMPLE / "acme-dev.conf").read_text()
        for placeholder, value in {"@BIN@": BIN, "@TREE@": self.tree, "@LAKE@": self.lake,
                                   "@RUN@": self.run, "@INCOMING@": self.incoming}.items():
            text = text.replace(placeholder, str(value))
        assert not re.findall(r"@[A-Z]+@", text), "a placeholder the runbook does not explain"
        # The FIFOs the configuration names, created beforehand as the runbook says.
        self.fifos = sorted(set(re.findall(re.escape(str(self.run)) + r"/[\w.-]+\.fifo", text)))
        assert len(self.fifos) == 7, self.fifos  # 3 between the stages, one DLQ stream per stage writing rejects
        for fifo in self.fifos:
            os.mkfifo(fifo)
        conf_dir = tmp_path / "conf.d"
        conf_dir.mkdir()
        (conf_dir / "acme-dev.conf").write_text(text)
        shutil.copy(EXAMPLE / "pipeline-restarter.py", conf_dir / "pipeline-restarter.py")
        self.conf = tmp_path / "supervisord.conf"
        self.conf.write_text(f"""[supervisord]
nodaemon=true
logfile={self.log}/supervisord.log
pidfile={self.sock_dir}/supervisord.pid
childlogdir={self.log}

[unix_http_server]
file={self.sock_dir}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.sock_dir}/supervisor.sock

[include]
files = {conf_dir}/*.conf
""")
        self.proc = subprocess.Popen([supervisor_tool("supervisord"), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def ctl(self, *args):
        proc = subprocess.run([supervisor_tool("supervisorctl"), "-c", str(self.conf), *args],
                              capture_output=True, text=True, timeout=180)
        return proc.returncode, proc.stdout + proc.stderr

    def info(self):
        """supervisord's view of the stages (state, pid, exit status), through its XML-RPC interface."""
        from supervisor import childutils
        rpc = childutils.getRPCInterface({"SUPERVISOR_SERVER_URL": f"unix://{self.sock_dir}/supervisor.sock"})
        return {p["name"]: p for p in rpc.supervisor.getAllProcessInfo() if p["group"] == GROUP}

    def wait_all_running(self, timeout=20, not_pids=()):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                info = self.info()
            except (OSError, http.client.HTTPException):  # the socket is not there yet
                time.sleep(0.1)
                continue
            if len(info) == 5 and all(p["statename"] == "RUNNING" and p["pid"] not in not_pids for p in info.values()):
                return info
            time.sleep(0.1)
        raise AssertionError(f"the pipeline did not reach RUNNING:\n{self.ctl('status')[1]}\n{self.logs()}")

    def append(self, seed, count):
        """Appends `count` generated acme events (2% bad lines of every kind) to the followed file."""
        proc = subprocess.run([binary("medallion"), "generate", "--count", str(count), "--seed", str(seed),
                               "--config", str(self.tree), "--tenant", "acme", "--bad-rate", "0.02"],
                              capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()
        with open(self.incoming, "ab") as f:
            f.write(proc.stdout)
        return proc.stdout.count(b"\n")

    def stage_log(self, stage):
        path = self.log / f"{stage}.log"
        return path.read_text() if path.exists() else ""

    def logs(self):
        return "\n".join(f"--- {s}\n{self.stage_log(s)[-2500:]}" for s in STAGES + ["restarter"])

    def wait_for(self, expected, timeout=45, settle=2.5):
        """Polls the tables until they hold every row of the reference, then waits `settle` seconds
        more (over two flush intervals) so that rows stored late, twice, are seen too."""
        deadline = time.time() + timeout
        missing = {}
        while time.time() < deadline:
            got = lake_contents(self.lake)
            missing = {k: sum((collections.Counter(v) - collections.Counter(got[k])).values()) for k, v in expected.items()}
            if not any(missing.values()):
                time.sleep(settle)
                return
            time.sleep(0.25)
        raise AssertionError(f"the tables still lack rows after {timeout} s: {missing}\n{self.logs()}")

    def stop_all(self):
        status, out = self.ctl("stop", "all")
        assert status == 0, out
        return self.info()

    def close(self):
        if self.proc.poll() is None:
            self.ctl("shutdown")
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.sock_dir, ignore_errors=True)


@pytest.fixture
def pipeline(tmp_path):
    p = Pipeline(tmp_path)
    try:
        p.wait_all_running()
        yield p
    finally:
        p.close()


def reference(p: Pipeline):
    """The same stages as one shell pipeline over the whole input, files instead of FIFOs,
    into a lake of its own: what a clean run stores."""
    ref = pathlib.Path(tempfile.mkdtemp(prefix="reference", dir=p.tmp))
    cfg = f"--config {p.tree} --tenant acme --env dev"
    script = (f"set -euo pipefail; cd {ref}; "
              f"eh-source --replay {p.incoming} --dlq eh.dlq 2>/dev/null"
              f" | envelope-check {cfg} --dlq ec.dlq 2>/dev/null"
              f" | bronze-sink {cfg} --lake lake --dlq br.dlq 2>/dev/null"
              f" | silver-validate {cfg} --lake lake --dlq sv.dlq > /dev/null 2>&1; "
              f"dlq-sink {cfg} --lake lake --input eh.dlq --input ec.dlq --input br.dlq --input sv.dlq > /dev/null 2>&1")
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return lake_contents(ref / "lake")


def assert_exactly_once(got, want):
    for table in ["bronze", *SILVER]:
        dups = [k for k, n in collections.Counter(got[table]).items() if n > 1]
        assert not dups, f"{table}: {len(dups)} event ids stored twice, e.g. {dups[:3]}"
        assert sorted(got[table]) == sorted(want[table]), \
            f"{table}: {len(got[table])} rows, a clean run stores {len(want[table])}"
    have, clean = collections.Counter(got["dlq"]), collections.Counter(want["dlq"])
    positioned = [k for k, n in have.items() if n > 1 and k[2] is not None]
    assert not positioned, f"dlq/events: rejects with a position stored twice, e.g. {positioned[:3]}"
    assert not clean - have, f"dlq/events: rejects missing: {list((clean - have).items())[:5]}"
    extra = have - clean
    assert not extra, (
        f"dlq/events holds {sum(extra.values())} rows a clean run does not; by (stage, reason, source_id): "
        f"{collections.Counter((k[0], k[1], k[2]) for k in extra.elements())} (a reject stored without a "
        f"source position cannot be recognised by dlq-sink when a restart replays its record)")


def assert_stopped_cleanly(p: Pipeline, info):
    for stage in STAGES:
        proc = info[stage]
        # `stop all` signals the stages one after another: a stage whose upstream stopped first may
        # already have ended at the end of its input (EXITED, exit 0, status ok) before its own TERM.
        assert (proc["statename"], proc["exitstatus"]) in (("STOPPED", 0), ("EXITED", 0)), \
            f"{stage}: {proc}\n{p.stage_log(stage)[-2000:]}"
        s = events_named(p.stage_log(stage), "summary")[-1]  # this run's summary: the log's last one
        assert s["status"] in ("stopped", "ok"), s
        assert s["rows_in"] == s["rows_out"] + s["rows_dlq"] and "rows_undelivered" not in s, s


def test_pipeline_under_supervisord_stores_each_event_and_each_reject_once_and_stops_cleanly(pipeline):
    p = pipeline
    lines = p.append(seed=21, count=4000)
    want = reference(p)
    assert len(want["bronze"]) > 3800 and len(want["dlq"]) > 40  # valid events and rejects of every kind
    p.wait_for(want)
    info = p.stop_all()
    assert_stopped_cleanly(p, info)
    got = lake_contents(p.lake)
    assert len(got["bronze"]) == len(set(got["bronze"])) == len(want["bronze"])
    assert_exactly_once(got, want)
    # Each stage's summary agrees with the tables: every line read, every reject delivered.
    s = {stage: events_named(p.stage_log(stage), "summary")[-1] for stage in STAGES}
    assert s["eh-source"]["rows_in"] == lines
    assert s["envelope-check"]["rows_in"] == s["eh-source"]["rows_out"]
    assert s["bronze-sink"]["rows_out"] == len(got["bronze"]) == s["silver-validate"]["rows_in"]
    rejects = sum(s[stage]["rows_dlq"] for stage in STAGES[:4])
    assert rejects == len(got["dlq"]) == s["dlq-sink"]["rows_in"]
    assert "group_restart" not in p.stage_log("restarter")  # nothing needed restarting
    # The example names every FIFO it uses in its mkfifo comment, for the operator.
    comment = (EXAMPLE / "acme-dev.conf").read_text()
    for fifo in p.fifos:
        assert "@RUN@/" + pathlib.Path(fifo).name in comment


def test_kill_9_of_bronze_sink_mid_stream_restarts_the_whole_pipeline_and_the_tables_stay_exactly_once(pipeline):
    p = pipeline
    p.append(seed=31, count=15000)
    # Kill bronze-sink once Bronze has a commit and the DLQ holds 40 of envelope-check's ~170
    # rejects: later records are still in flight (in its memory, in the FIFOs, in Silver's
    # batch) and the restart replays records whose rejects are already stored.
    log = p.lake / "bronze" / "events" / "_delta_log"
    deadline = time.time() + 30
    while time.time() < deadline:
        if log.is_dir() and any(log.glob("*.json")) and \
                sum(r["stage"] == "envelope-check" for r in rows(p.lake, "dlq/events", ["stage"])) >= 40:
            break
        time.sleep(0.02)
    before = p.info()
    os.kill(before["bronze-sink"]["pid"], signal.SIGKILL)
    stored_at_kill = len(rows(p.lake, "bronze/events", ["event_id"]))
    # The listener restarts the whole group: every stage runs again with a new pid.
    deadline = time.time() + 30
    while "group_started" not in p.stage_log("restarter") and time.time() < deadline:
        time.sleep(0.1)
    assert "group_restart" in p.stage_log("restarter"), p.logs()
    p.wait_all_running(not_pids={proc["pid"] for proc in before.values()})
    p.append(seed=32, count=3000)
    want = reference(p)
    p.wait_for(want)
    info = p.stop_all()
    assert_stopped_cleanly(p, info)
    # The kill was mid-stream: part of the first input was stored, part still to come.
    first = rows(p.lake, "bronze/events", ["_source_id"])
    assert 0 < stored_at_kill < sum(r["_source_id"] == "gen:31" for r in first)
    assert_exactly_once(lake_contents(p.lake), want)


def test_stop_and_start_again_replays_the_followed_file_and_stores_nothing_twice(pipeline):
    p = pipeline
    p.append(seed=41, count=4000)
    want = reference(p)
    p.wait_for(want)
    first = p.stop_all()
    assert_stopped_cleanly(p, first)
    # A deploy or a reboot: `supervisorctl start acme-dev:*`. eh-source replays the file from its
    # first line; every sink skips what it stored by the lines' _source positions.
    status, out = p.ctl("start", f"{GROUP}:*")
    assert status == 0, out
    p.wait_all_running(not_pids={proc["pid"] for proc in first.values()})
    p.append(seed=42, count=1000)
    want = reference(p)
    p.wait_for(want)
    assert_stopped_cleanly(p, p.stop_all())
    assert_exactly_once(lake_contents(p.lake), want)


def test_a_stage_that_cannot_start_stops_the_whole_pipeline_instead_of_restarting_it(tmp_path):
    def break_tree(tree):
        path = tree / "configs/tenants/acme/tenant.yaml"
        path.write_text(path.read_text().replace("event_types: [", "event_typez: ["))

    p = Pipeline(tmp_path, edit_tree=break_tree)
    try:
        # Every stage reading the tree exits 78 at once; supervisord retries each start
        # (startretries=3), then marks it FATAL, and the listener stops what is left of the group.
        deadline = time.time() + 40
        info = {}
        while time.time() < deadline:
            try:
                info = p.info()
            except (OSError, http.client.HTTPException):
                info = {}
            if "group_stopped" in p.stage_log("restarter") and info and \
                    not any(proc["statename"] in ("RUNNING", "STARTING", "BACKOFF", "STOPPING") for proc in info.values()):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the group did not stop: {[(n, i['statename']) for n, i in info.items()]}\n{p.logs()}")
        assert "group_restart" not in p.stage_log("restarter"), p.stage_log("restarter")
        # silver-validate and dlq-sink read the tree first and fail; the stages upstream of
        # silver-validate still wait for their FIFOs' readers, and the listener stops them.
        for stage in ["silver-validate", "dlq-sink"]:
            assert info[stage]["statename"] == "FATAL", (stage, info[stage])
            err = p.stage_log(stage)
            assert '"exit_status":78' in err and "tenant.yaml:9: error: event_typez" in err, err[-1500:]
        for stage in ["eh-source", "envelope-check", "bronze-sink"]:
            assert info[stage]["statename"] == "STOPPED", (stage, info[stage])
        time.sleep(3)  # and nothing starts again by itself
        assert all(proc["statename"] in ("FATAL", "STOPPED") for proc in p.info().values())
    finally:
        p.close()


# What `stopsignal=TERM` relies on, shown without supervisord: a stop must not turn the state of a
# FIFO into data, nor into an error exit.

@pytest.mark.parametrize("stage", ["envelope-check", "dlq-sink"])
def test_term_while_the_input_holds_half_a_line_stores_no_partial_line(tmp_path, stage):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    lake, dlq = tmp_path / "lake", tmp_path / "rejects.ndjson"
    args = {"envelope-check": ["--tenant", "acme", "--dlq", str(dlq)],
            "dlq-sink": ["--lake", str(lake)]}[stage]
    proc = subprocess.Popen([binary(stage), "--input", str(fifo), *args], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while True:  # open the writing end once the stage holds the reading end
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read().decode()
            time.sleep(0.05)
    # The writer is alive, in the middle of a long line.
    os.write(writer, b'{"dlq_version":1,"stage":"envelope-check","reason":"invalid_json","message":"x')
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    os.close(writer)
    assert proc.returncode == 0, err.decode()
    s = summary(err.decode())
    assert s["status"] == "stopped"
    stored = rows(lake, "dlq/events", ["reason"]) if stage == "dlq-sink" else \
        (dlq.read_text().splitlines() if dlq.exists() else [])
    assert s["rows_in"] == 0 and not stored, \
        f"{stage} turned the half line in its input into a record at SIGTERM: {stored} {s}"


@pytest.mark.parametrize("end", ["--input", "--dlq"])
def test_term_while_waiting_to_open_a_fifo_exits_0(tmp_path, end):
    fifo = tmp_path / "x.fifo"
    os.mkfifo(fifo)
    args = ["--input", str(fifo), "--dlq", str(tmp_path / "d.ndjson")] if end == "--input" else \
        ["--input", "/dev/null", "--dlq", str(fifo)]
    proc = subprocess.Popen([binary("envelope-check"), "--tenant", "acme", *args], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1)  # blocked in open(2): nobody holds the FIFO's other end
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, f"SIGTERM while waiting for {end} FIFO: exit {proc.returncode}\n{err.decode()}"

#!/usr/bin/env python3
"""supervisord event listener: restarts a medallion pipeline as a whole, never one stage alone.

The stages of a pipeline are joined by FIFOs. When one stage dies, a restarted copy of it alone
can attach to FIFOs that its neighbours still hold open: the records the dead process had read
but not committed are gone from the pipe, and the next commits record higher positions, so no
replay brings them back. Restarting every stage of the group instead makes the source replay
from the start (`eh-source --replay`) or from the slowest sink (`--resume-from-lake`), and every
sink skips what it already stored.

    [eventlistener:acme-dev-restarter]
    command=python3 %(here)s/pipeline-restarter.py acme-dev
    events=PROCESS_STATE_EXITED,PROCESS_STATE_FATAL

Rules, for the programs of the group named on the command line:

- an exit supervisord calls unexpected (a code not in the program's `exitcodes=`, or a signal):
  stop the whole group, then start it again;
- an expected exit 0 (the source was stopped, or a stage's input ended because its upstream
  stopped): nothing;
- an expected non-zero exit (65: a `fail` rule; 78: configuration or an incompatible table) or
  FATAL (a stage that cannot start): stop the whole group and leave it stopped; restarting would
  fail the same way. Fix the cause, then `supervisorctl start <group>:*`;
- more than --max-restarts restarts within --window seconds: stop the group and leave it stopped.

Standard library only, so any python3 runs it. It talks to supervisord through the server URL
supervisord gives its children (SUPERVISOR_SERVER_URL: a unix socket or http). It logs one JSON
line per decision on stderr.
"""
import argparse
import http.client
import json
import os
import socket
import sys
import time
import xmlrpc.client

class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self._path = path

    def make_connection(self, host):
        _, self._extra_headers, _ = self.get_host_info(host)
        return _UnixConnection(self._path)


def rpc_proxy(env):
    url = env["SUPERVISOR_SERVER_URL"]
    user, password = env.get("SUPERVISOR_USERNAME", ""), env.get("SUPERVISOR_PASSWORD", "")
    auth = f"{user}:{password}@" if user else ""
    if url.startswith("unix://"):
        return xmlrpc.client.ServerProxy(f"http://{auth}localhost/RPC2", transport=_UnixTransport(url[len("unix://"):]))
    scheme, rest = url.split("://", 1)
    return xmlrpc.client.ServerProxy(f"{scheme}://{auth}{rest.rstrip('/')}/RPC2")


def log(event, **fields):
    line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "stage": "pipeline-restarter", "event": event, **fields}
    sys.stderr.write(json.dumps(line) + "\n")
    sys.stderr.flush()


def members(rpc, group):
    return {p["name"]: p for p in rpc.supervisor.getAllProcessInfo() if p["group"] == group}


def stop_group(rpc, group):
    try:
        rpc.supervisor.stopProcessGroup(group, True)
    except xmlrpc.client.Fault as fault:  # nothing running any more
        log("stop_fault", group=group, fault=fault.faultString)


def handle(rpc, group, kind, payload, restarts, args):
    if payload.get("groupname") != group:
        return
    name = payload["processname"]
    procs = members(rpc, group)
    me = procs.get(name)
    if me is None:
        return
    # A stale event: the process was started again (or stopped by hand) since.
    if me["statename"] != ("FATAL" if kind == "PROCESS_STATE_FATAL" else "EXITED"):
        return
    blocked = sorted(p["name"] for p in procs.values()
                     if p["statename"] == "FATAL" or (p["statename"] == "EXITED" and p["exitstatus"] in args.stop_codes))
    if blocked:
        if any(p["statename"] in ("STARTING", "RUNNING", "BACKOFF", "STOPPING") for p in procs.values()):
            log("group_stopped", group=group,
                because={n: "FATAL (could not start)" if procs[n]["statename"] == "FATAL" else f"exit {procs[n]['exitstatus']}"
                         for n in blocked},
                fix=f"fix the cause (see each stage's log), then: supervisorctl start {group}:*")
            stop_group(rpc, group)
        return
    if payload.get("expected") == "1":
        return  # exit 0 as configured: the source stopped, or this stage's input ended
    now = time.monotonic()
    while restarts and now - restarts[0] > args.window:
        restarts.pop(0)
    if len(restarts) >= args.max_restarts:
        log("group_stopped", group=group, because=[name], exit_status=me["exitstatus"],
            fix=f"{len(restarts)} restarts within {args.window:.0f} s; see the logs, then: supervisorctl start {group}:*")
        stop_group(rpc, group)
        return
    restarts.append(now)
    log("group_restart", group=group, because=name,
        exit_status="a signal" if me["exitstatus"] == -1 else me["exitstatus"])
    stop_group(rpc, group)
    rpc.supervisor.startProcessGroup(group, True)
    log("group_started", group=group)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("group", help="the supervisord group of the pipeline's programs")
    parser.add_argument("--stop-codes", default="65,78",
                        help="exit codes that stop the group for good (default 65,78)")
    parser.add_argument("--max-restarts", type=int, default=5)
    parser.add_argument("--window", type=float, default=300.0)
    args = parser.parse_args()
    args.stop_codes = {int(c) for c in args.stop_codes.split(",") if c}
    rpc = rpc_proxy(os.environ)
    restarts = []
    log("listening", group=args.group)
    while True:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        header = dict(token.split(":", 1) for token in sys.stdin.readline().split())
        body = sys.stdin.read(int(header["len"]))
        payload = dict(token.split(":", 1) for token in body.split("\n", 1)[0].split())
        try:
            handle(rpc, args.group, header["eventname"], payload, restarts, args)
        except Exception as error:  # never leave the listener BUSY: report and go on
            log("error", error=repr(error))
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

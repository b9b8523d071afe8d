#!/usr/bin/env bash
# bench/eh_source.sh — eh-source rates: Kafka consume from librdkafka's mock cluster, and NDJSON replay.
#
#   1. Kafka: starts tests/e2e/kafka_mock.py (an in-memory Kafka-protocol cluster), produces
#      $KAFKA_EVENTS generated events with kcat over $PARTITIONS partitions (the mock keeps ~5 MiB per
#      partition: keep KAFKA_EVENTS * 565 B / PARTITIONS below that), then times
#      eh-source --plaintext ... --max-records $KAFKA_EVENTS > /dev/null.
#      The rate counts from the partitions_assigned event to the summary (the mock's first group join
#      waits ~3 s, which is not consume speed).
#   2. Replay: eh-source --replay FILE > /dev/null over $REPLAY_EVENTS generated events (best of $RUNS).
# Every command is printed before it runs.
#
# Environment: BIN_DIR (default <repo>/.build/release), PY (default <repo>/.venv-readers/bin/python),
# WORK_DIR (/tmp/medallion-bench-eh), KAFKA_EVENTS (300000), PARTITIONS (64), REPLAY_EVENTS (1000000), RUNS (3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/.build/release}"
PY="${PY:-$ROOT/.venv-readers/bin/python}"
WORK_DIR="${WORK_DIR:-/tmp/medallion-bench-eh}"
KAFKA_EVENTS="${KAFKA_EVENTS:-300000}"
PARTITIONS="${PARTITIONS:-64}"
REPLAY_EVENTS="${REPLAY_EVENTS:-1000000}"
RUNS="${RUNS:-3}"
mkdir -p "$WORK_DIR"
say() { printf '+ %s\n' "$*" >&2; }

# --- Kafka consume on the mock cluster ---
TOPIC="bench-$$"
say "$PY tests/e2e/kafka_mock.py --topic $TOPIC --partitions $PARTITIONS   # prints the bootstrap address"
coproc MOCK { exec "$PY" "$ROOT/tests/e2e/kafka_mock.py" --topic "$TOPIC" --partitions "$PARTITIONS"; }
MOCK_IN=${MOCK[1]}
read -r BOOTSTRAP <&"${MOCK[0]}"
trap 'exec {MOCK_IN}>&-; wait 2>/dev/null || true' EXIT
# kcat's default producer queue (100k messages) overflows on a fast pipe; give it room, and count what
# the topic holds rather than assume (the mock still drops some records under load).
say "$BIN_DIR/eh-source --generate --count $KAFKA_EVENTS --seed 7 | kcat -P -b $BOOTSTRAP -t $TOPIC -X queue.buffering.max.messages=10000000"
"$BIN_DIR/eh-source" --generate --count "$KAFKA_EVENTS" --seed 7 2>/dev/null \
  | kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -X log_level=0 -X queue.buffering.max.messages=10000000 -X queue.buffering.max.kbytes=2097151
IN_TOPIC=$(kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -e -q -f '.\n' -X log_level=0 | wc -l)
echo "records in the topic: $IN_TOPIC of $KAFKA_EVENTS produced"
# The mock serves fetches from one in-process thread, so rates vary run to run: consume the same
# topic RUNS times, each with a fresh group, and report every run and the median.
for run in $(seq "$RUNS"); do
  CMD=("$BIN_DIR/eh-source" --plaintext --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --group "bench-$$-$run"
       --session-timeout-ms 6000 --heartbeat-interval-ms 1000 --max-records "$IN_TOPIC" --idle-exit-seconds 2)
  say "${CMD[*]} > /dev/null"
  "${CMD[@]}" > /dev/null 2> "$WORK_DIR/kafka-$run.err"
done
"$PY" - "$WORK_DIR" "$RUNS" <<'EOF'
import json, sys, datetime, statistics
rates = []
for run in range(1, int(sys.argv[2]) + 1):
    ev = [json.loads(l) for l in open(f"{sys.argv[1]}/kafka-{run}.err")]
    t = lambda e: datetime.datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()
    start = t(next(e for e in ev if e["event"] == "partitions_assigned"))
    s = next(e for e in ev if e["event"] == "summary")
    idle = next((e for e in ev if e["event"] == "idle_exit"), None)
    secs = t(s) - start - (2.0 if idle else 0)  # an idle exit waited 2 s after the last record
    rates.append(s["rows_out"] / secs)
    print(f"  run {run}: {s['rows_out']} events, {s['bytes_in'] / 1e6:.1f} MB in {secs:.2f} s after the group join: "
          f"{s['rows_out'] / secs:,.0f} events/s ({s['seconds']:.2f} s with the join)")
print(f"eh-source kafka (mock cluster): median {statistics.median(rates):,.0f} events/s over {len(rates)} runs "
      f"(min {min(rates):,.0f}, max {max(rates):,.0f})")
EOF
# --- NDJSON replay ---
FILE="$WORK_DIR/replay.ndjson"
say "$BIN_DIR/eh-source --generate --count $REPLAY_EVENTS --seed 42 > $FILE"
"$BIN_DIR/eh-source" --generate --count "$REPLAY_EVENTS" --seed 42 > "$FILE" 2>/dev/null
# Replays add _source only where absent; strip it so the bench measures the stamping path.
STRIPPED="$WORK_DIR/replay-nosource.ndjson"
sed 's/^{"_source":{[^}]*},/{/; s/,"_source":{[^}]*}//' "$FILE" > "$STRIPPED"
best=0
for _ in $(seq "$RUNS"); do
    say "$BIN_DIR/eh-source --replay $STRIPPED --dlq /dev/null > /dev/null"
    rate=$("$BIN_DIR/eh-source" --replay "$STRIPPED" --dlq /dev/null 2>&1 >/dev/null | "$PY" -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e.get("event") == "summary": print(e["rows_per_second"], round(e["bytes_in"] / 1e6 / e["seconds"]))')
    [ "${rate%% *}" -gt "${best%% *}" ] && best="$rate"
done
echo "eh-source replay ($REPLAY_EVENTS events, $(($(stat -c %s "$STRIPPED") / 1000000)) MB, _source added): ${best%% *} events/s, ${best##* } MB/s (best of $RUNS)"
rm -f "$FILE" "$STRIPPED"

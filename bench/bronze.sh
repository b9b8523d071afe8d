#!/usr/bin/env bash
# bench/bronze.sh — bronze-sink against the Python (orjson + pyarrow + delta-rs) baseline.
#
# What it measures, on ONE generated file of N clean events (bad-rate 0,
# default N = 1,000,000):
#   - the Python baseline (bench/python_bronze_baseline.py): NDJSON -> Bronze
#     Delta table partitioned by tenant_id/event_type/ingest_date, ZSTD;
#   - bronze-sink doing the same from stdin (its output, the forwarded
#     records, goes to /dev/null).
#   For each: wall seconds (process start to exit), events/s, peak RSS
#   (/usr/bin/time -f %M), bytes on disk (du -sb of its table directory), and
#   the rows readable back from every Delta table found there (delta-rs).
#   Then the ratios against the targets: bronze-sink rate >= 2x Python,
#   RSS <= 1/4 of Python's, bytes on disk <= 1.1x Python's.
#   Each tool runs once by default (RUNS=n for best-of-n; RSS is the max).
#
# Usage:
#   bench/bronze.sh            # N = 1,000,000
#   bench/bronze.sh 5000000
#
# Environment (all optional):
#   BIN_DIR          release binaries (default: <repo>/.build/release)
#   MEDALLION        generator, run as "$MEDALLION generate --count N --seed S --bad-rate 0 --output FILE"
#   PYTHON           python with orjson, pyarrow, deltalake (default: <repo>/.venv-readers/bin/python)
#   BRONZE_SINK_CMD  see below
#   WORK_DIR         scratch space (default: /tmp/medallion-bench)
#   PY_BASELINE_ARGS e.g. --stream (RecordBatchReader instead of one table; default: table mode)
#   SEED, RUNS, KEEP (1 keeps the file and tables)
#
# bronze-sink's invocation may still change: it lives in BRONZE_SINK_CMD only.
# It is run by bash with stdin = the file; $BIN_DIR, $TABLE_ROOT (an empty
# directory it owns) and $DLQ are exported for it. Stand-in run before the
# real binary exists (the baseline itself, reading stdin):
#   MEDALLION=/work/scratch/gen/.build/release/gen-demo \
#   BRONZE_SINK_CMD='"$PYTHON" bench/python_bronze_baseline.py - "$TABLE_ROOT/bronze/events"' bench/bronze.sh 200000
set -euo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export BIN_DIR="${BIN_DIR:-$repo/.build/release}"
export PYTHON="${PYTHON:-$repo/.venv-readers/bin/python}"
WORK_DIR="${WORK_DIR:-/tmp/medallion-bench}"
export TABLE_ROOT="$WORK_DIR/bronze-sink-root"
export DLQ="$WORK_DIR/bronze-sink-dlq.ndjson"
# >>> the one place that knows how bronze-sink is called <<<
export BRONZE_SINK_CMD="${BRONZE_SINK_CMD:-\"\$BIN_DIR/bronze-sink\" --lake \"\$TABLE_ROOT\" --tenants acme,globex,initech --dlq \"\$DLQ\"}"
MEDALLION="${MEDALLION:-$BIN_DIR/medallion}"
SEED="${SEED:-42}"
RUNS="${RUNS:-1}"
N="${1:-1000000}"
TIME=/usr/bin/time
PY_TABLE="$WORK_DIR/python-bronze/events"

die() { echo "bronze.sh: $*" >&2; exit 1; }
[ -x "$TIME" ] || die "$TIME missing (apt-get install time)"
[ -x "$PYTHON" ] || die "python not found: $PYTHON (set PYTHON)"
"$PYTHON" -c 'import orjson, pyarrow, deltalake' 2>/dev/null \
  || die "$PYTHON lacks orjson/pyarrow/deltalake ($PYTHON -m pip install orjson pyarrow deltalake)"
command -v "$MEDALLION" >/dev/null || [ -x "$MEDALLION" ] || die "generator not found: $MEDALLION"
mkdir -p "$WORK_DIR"
cd "$repo"

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
calc() { awk "BEGIN { printf \"%s\", $1 }"; }
verdict() { if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo PASS; else echo FAIL; fi; }

# rows_in DIR: total rows over every Delta table (a dir holding _delta_log) under DIR.
rows_in() {
  "$PYTHON" - "$1" <<'PY'
import os, sys
from deltalake import DeltaTable
total, tables = 0, 0
for root, dirs, _files in os.walk(sys.argv[1]):
    if "_delta_log" in dirs:
        total += DeltaTable(root).to_pyarrow_dataset().count_rows()
        tables += 1
        dirs[:] = []
print(f"{total} {tables}")
PY
}

# measure NAME CMD DIR: runs CMD (bash string) RUNS times after emptying DIR;
# sets M_S (best seconds) and M_RSS (max KiB).
measure() {
  local name=$1 cmd=$2 dir=$3 start end s r
  M_S=""; M_RSS=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$dir" "$DLQ"; mkdir -p "$dir"
    start=$(now_us)
    bash -c "$cmd" || die "$name failed (exit $?): $cmd"
    end=$(now_us)
    s=$(calc "($end - $start) / 1e6")
    if [ -z "$M_S" ] || [ "$(calc "$s < $M_S ? 1 : 0")" = 1 ]; then M_S=$s; fi
    r=$(tail -n 1 "$WORK_DIR/rss.txt"); [ "$r" -gt "$M_RSS" ] && M_RSS=$r
  done
  return 0
}

file="$WORK_DIR/bronze-$N-seed$SEED.ndjson"
gen_cmd="\"$MEDALLION\" generate --count $N --seed $SEED --bad-rate 0 --output \"$file\""
bash -c "$gen_cmd"
bytes=$(stat -c %s "$file"); lines=$(wc -l < "$file")
[ "$lines" -eq "$N" ] || die "generator wrote $lines lines, expected $N"
echo "== bronze bench: N=$N events, $bytes bytes ($file) =="
echo "generate: $gen_cmd"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start (other work on the machine skews results)"

py_cmd="$TIME -f %M -o \"$WORK_DIR/rss.txt\" \"$PYTHON\" \"$here/python_bronze_baseline.py\" ${PY_BASELINE_ARGS:-} \"$file\" \"$PY_TABLE\""
measure python "$py_cmd" "$(dirname "$PY_TABLE")"
py_s=$M_S; py_rss=$M_RSS
py_disk=$(du -sb "$(dirname "$PY_TABLE")" | cut -f1)
read -r py_rows py_tables < <(rows_in "$(dirname "$PY_TABLE")")

sink_cmd="cat \"$file\" | $TIME -f %M -o \"$WORK_DIR/rss.txt\" bash -c 'eval \"exec \$BRONZE_SINK_CMD\"' > /dev/null"
measure bronze-sink "$sink_cmd" "$TABLE_ROOT"
sk_s=$M_S; sk_rss=$M_RSS
sk_disk=$(du -sb "$TABLE_ROOT" | cut -f1)
# Count the Bronze table only (bronze-sink also writes audit rows under the same root).
sk_dir="$TABLE_ROOT"
[ -d "$TABLE_ROOT/bronze/events" ] && sk_dir="$TABLE_ROOT/bronze/events"
read -r sk_rows sk_tables < <(rows_in "$sk_dir")

py_eps=$(calc "$lines / $py_s"); sk_eps=$(calc "$lines / $sk_s")
rate_x=$(calc "$sk_eps / $py_eps")
rss_x=$(calc "$sk_rss / $py_rss")
size_x=$(calc "$sk_disk / $py_disk")

printf '%-14s %9s %12s %12s %14s %10s\n' tool seconds events/s "RSS MiB" "bytes on disk" "rows read"
printf '%-14s %9.2f %12.0f %12.1f %14d %10s\n' "python" "$py_s" "$py_eps" "$(calc "$py_rss / 1024")" "$py_disk" "$py_rows"
printf '%-14s %9.2f %12.0f %12.1f %14d %10s\n' "bronze-sink" "$sk_s" "$sk_eps" "$(calc "$sk_rss / 1024")" "$sk_disk" "$sk_rows"
[ "$py_rows" -eq "$lines" ] || echo "WARNING: python table holds $py_rows rows, expected $lines"
[ "$sk_rows" -eq "$lines" ] || echo "WARNING: bronze-sink tables ($sk_tables found) hold $sk_rows rows, expected $lines"
printf '%-26s %8s   %-16s %s\n' "rate  bronze-sink/python" "$(printf %.2fx "$rate_x")" "target >= 2x" "$(verdict "$rate_x >= 2")"
printf '%-26s %8s   %-16s %s\n' "RSS   bronze-sink/python" "$(printf %.3f "$rss_x")" "target <= 0.25" "$(verdict "$rss_x <= 0.25")"
printf '%-26s %8s   %-16s %s\n' "bytes bronze-sink/python" "$(printf %.3f "$size_x")" "target <= 1.1" "$(verdict "$size_x <= 1.1")"
echo "commands:"
echo "  python:      $py_cmd"
echo "  bronze-sink: $sink_cmd"
echo "               (BRONZE_SINK_CMD='$BRONZE_SINK_CMD', TABLE_ROOT=$TABLE_ROOT, DLQ=$DLQ)"
echo "reproduce: $(printf '%q ' env BIN_DIR="$BIN_DIR" MEDALLION="$MEDALLION" BRONZE_SINK_CMD="$BRONZE_SINK_CMD" SEED="$SEED" RUNS="$RUNS" "$here/bronze.sh" "$N")"
if [ "${KEEP:-0}" != 1 ]; then rm -rf "$file" "$(dirname "$PY_TABLE")" "$TABLE_ROOT" "$DLQ"; fi

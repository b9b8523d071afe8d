#!/usr/bin/env bash
# bench/silver.sh — silver-validate's rate and memory on >= 1M events with the bundled rules.
#
# Input: `medallion generate` (clean events, seed SEED) filtered to tenant acme, so every line is
# one silver-validate serves (the generator mixes three tenants; without the filter two thirds
# would be tenant_mismatch rejects, which is not the work we want to time). Default: 1,000,000
# acme events (about 3M generated). Runs silver-validate from the release build with the bundled
# configuration tree (schemas, rules, standardisation, enrichment, dedup), writing real Silver
# tables; its forwarded rows go to /dev/null. Reports wall seconds, events/s, MB/s of input, peak
# RSS (/usr/bin/time -f %M), rows committed per table (read back with delta-rs), DLQ rows, and the
# same figures at half the input, to show memory does not grow with input.
#
# Usage:  bench/silver.sh [N]        (N acme events, default 1000000)
# Env:    BIN_DIR (default .build/release), PYTHON (default .venv-readers/bin/python),
#         WORK_DIR (default /tmp/medallion-bench), SEED (default 42), KEEP=1 keeps files.
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
BIN_DIR="${BIN_DIR:-$repo/.build/release}"
PYTHON="${PYTHON:-$repo/.venv-readers/bin/python}"
WORK_DIR="${WORK_DIR:-/tmp/medallion-bench}"
SEED="${SEED:-42}"
N="${1:-1000000}"
TIME=/usr/bin/time
die() { echo "silver.sh: $*" >&2; exit 1; }
[ -x "$TIME" ] || die "$TIME missing (apt-get install time)"
[ -x "$BIN_DIR/silver-validate" ] || die "no $BIN_DIR/silver-validate (make release)"
mkdir -p "$WORK_DIR"
input="$WORK_DIR/silver-acme-$N.ndjson"
if [ ! -s "$input" ]; then
  # head stops early on purpose: the generator and grep then see a closed pipe.
  { "$BIN_DIR/medallion" generate --count $((N * 3 + N / 10)) --seed "$SEED" --bad-rate 0 2>/dev/null \
    | grep -F '"tenant_id":"acme"' | head -n "$N" > "$input"; } || true
fi
lines=$(wc -l < "$input")
[ "$lines" -ge "$N" ] || die "only $lines acme events generated"
bytes=$(stat -c %s "$input")

run() {  # run LABEL FILE -> prints one result line
  local label=$1 file=$2 lake="$WORK_DIR/silver-lake" dlq="$WORK_DIR/silver-dlq.ndjson"
  rm -rf "$lake" "$dlq"
  local start end rss
  start=$EPOCHREALTIME
  $TIME -f %M -o "$WORK_DIR/silver.rss" "$BIN_DIR/silver-validate" --config "$repo" --tenant acme \
    --lake "$lake" --dlq "$dlq" --input "$file" > /dev/null 2> "$WORK_DIR/silver.err"
  end=$EPOCHREALTIME
  rss=$(tail -n1 "$WORK_DIR/silver.rss")
  local n secs
  n=$(wc -l < "$file")
  secs=$(awk "BEGIN { printf \"%.3f\", $end - $start }")
  local stored
  stored=$("$PYTHON" - "$lake/silver" <<'PY'
import os, sys
from deltalake import DeltaTable
parts = []
for name in sorted(os.listdir(sys.argv[1])):
    parts.append(f"{name}={DeltaTable(os.path.join(sys.argv[1], name)).to_pyarrow_dataset().count_rows()}")
print(" ".join(parts))
PY
)
  local dlqn=0
  [ -f "$dlq" ] && dlqn=$(wc -l < "$dlq")
  printf '%-6s events=%d seconds=%s events_per_s=%s MB_per_s=%s peak_rss_MiB=%s dlq=%d stored: %s\n' \
    "$label" "$n" "$secs" "$(awk "BEGIN { printf \"%d\", $n / $secs }")" \
    "$(awk "BEGIN { printf \"%.1f\", $(stat -c %s "$file") / $secs / 1e6 }")" \
    "$(awk "BEGIN { printf \"%.1f\", $rss / 1024 }")" "$dlqn" "$stored"
}

echo "silver-validate, bundled rules, tenant acme, $(nproc) cores — input $input ($lines events, $bytes bytes)"
half="$WORK_DIR/silver-acme-half.ndjson"
head -n $((N / 2)) "$input" > "$half"
run half "$half"
run full "$input"
echo "reproduce: bench/silver.sh $N"
[ "${KEEP:-0}" = 1 ] || rm -f "$half"

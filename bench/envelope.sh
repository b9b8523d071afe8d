#!/usr/bin/env bash
# bench/envelope.sh — envelope-check throughput against the pipe limit and jq.
#
# What it measures, per size N (default 1,000,000 events):
#   1. generates one NDJSON file of N events with bad-rate 0 (jq aborts on the
#      first malformed line, so the comparison input must be clean), once;
#   2. pipe limit:      cat FILE | cat > /dev/null               (best of $RUNS)
#   3. envelope-check:  cat FILE | envelope-check ... > /dev/null (best of $RUNS),
#      peak RSS via /usr/bin/time -f %M (max over the runs), and one extra,
#      untimed run that counts accepted lines and DLQ lines;
#   4. jq:              cat FILE | jq -c -f bench/envelope_check.jq > /dev/null,
#      once. jq is first timed on a $JQ_PREFIX_LINES-line prefix; if the whole
#      file would then take more than $JQ_MAX_SECONDS, the prefix result is
#      used and the rates are extrapolated (rates are per byte and per event,
#      so they carry over; the output says so).
#   It prints MB/s (10^6 bytes) and events/s for each, the ratios
#   envelope-check/pipe and envelope-check/jq, and the targets:
#   >= 25% of pipe, >= 40x jq, peak RSS <= 64 MiB at every size.
#
# Usage:
#   bench/envelope.sh                      # N = 1,000,000
#   bench/envelope.sh 1000000 5000000      # both sizes, one after the other
#
# Environment (all optional):
#   BIN_DIR             release binaries      (default: <repo>/.build/release)
#   MEDALLION           generator binary, run as
#                       "$MEDALLION generate --count N --seed S --bad-rate 0 --output FILE"
#                       (default: $BIN_DIR/medallion)
#   ENVELOPE_CHECK_CMD  the filter under test, run by bash with stdin = the file;
#                       $DLQ is exported (default:
#                       '"$BIN_DIR/envelope-check" --tenants acme,globex,initech --dlq "$DLQ"')
#   WORK_DIR            where the generated files go (default: /tmp/medallion-bench)
#   SEED                generator seed (default 42)
#   RUNS                best-of count for the fast tools (default 3)
#   JQ_MAX_SECONDS      longest jq run allowed on a whole file (default 120)
#   JQ_PREFIX_LINES     prefix size for the jq probe (default 200000)
#   KEEP                1 keeps the generated files (default: deleted at the end)
#
# Stand-in run before the real binaries exist (proves the script):
#   MEDALLION=/work/scratch/gen/.build/release/gen-demo ENVELOPE_CHECK_CMD=cat bench/envelope.sh
set -euo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
export BIN_DIR="${BIN_DIR:-$repo/.build/release}"
MEDALLION="${MEDALLION:-$BIN_DIR/medallion}"
WORK_DIR="${WORK_DIR:-/tmp/medallion-bench}"
export DLQ="${DLQ:-$WORK_DIR/envelope-dlq.ndjson}"
export ENVELOPE_CHECK_CMD="${ENVELOPE_CHECK_CMD:-\"\$BIN_DIR/envelope-check\" --tenants acme,globex,initech --dlq \"\$DLQ\"}"
SEED="${SEED:-42}"
RUNS="${RUNS:-3}"
JQ_MAX_SECONDS="${JQ_MAX_SECONDS:-120}"
JQ_PREFIX_LINES="${JQ_PREFIX_LINES:-200000}"
JQ_PROGRAM="$here/envelope_check.jq"
TIME=/usr/bin/time

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000000)

die() { echo "envelope.sh: $*" >&2; exit 1; }
[ -x "$TIME" ] || die "$TIME missing (apt-get install time)"
command -v jq >/dev/null || die "jq missing (apt-get install jq)"
command -v "$MEDALLION" >/dev/null || [ -x "$MEDALLION" ] || die "generator not found: $MEDALLION (set MEDALLION or BIN_DIR)"
mkdir -p "$WORK_DIR"

# Microseconds since the epoch, from bash itself (no fork in the timed path).
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# calc EXPR: floating-point arithmetic via awk.
calc() { awk "BEGIN { printf \"%s\", $1 }"; }
verdict() { if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo PASS; else echo FAIL; fi; }

# best_of CMD: runs CMD (a bash string) $RUNS times, echoes the best seconds.
best_of() {
  local best="" start end s
  for _ in $(seq "$RUNS"); do
    start=$(now_us)
    bash -c "$1"
    end=$(now_us)
    s=$(calc "($end - $start) / 1e6")
    if [ -z "$best" ] || [ "$(calc "$s < $best ? 1 : 0")" = 1 ]; then best=$s; fi
  done
  echo "$best"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start (other work on the machine skews results)"
summary=()
rss_by_size=()

# What the machine can do in parallel: one single-threaded envelope-check on a
# 300k-event file, then two at once. Twice the time for two means one CPU's worth
# of throughput, whatever nproc says (the pipe's two cats share it too).
probe="$WORK_DIR/probe.ndjson"
"$MEDALLION" generate --count 300000 --seed "$SEED" --output "$probe"
one_cmd="\"$BIN_DIR/envelope-check\" --threads 1 --tenants acme,globex,initech --dlq /dev/null --input \"$probe\" > /dev/null 2>&1"
start=$(now_us); bash -c "$one_cmd"; end=$(now_us); one_s=$(calc "($end - $start) / 1e6")
start=$(now_us); bash -c "$one_cmd & $one_cmd; wait"; end=$(now_us); two_s=$(calc "($end - $start) / 1e6")
rm -f "$probe"
echo "parallel capacity: one run ${one_s}s, two at once ${two_s}s -> $(printf %.2f "$(calc "2 * $one_s / $two_s")") CPUs of throughput (nproc $(nproc))"
for n in "${sizes[@]}"; do
  file="$WORK_DIR/events-$n-seed$SEED.ndjson"
  echo "== envelope bench: N=$n events =="
  gen_cmd="\"$MEDALLION\" generate --count $n --seed $SEED --bad-rate 0 --output \"$file\""
  start=$(now_us); bash -c "$gen_cmd"; end=$(now_us)
  bytes=$(stat -c %s "$file")
  lines=$(wc -l < "$file")
  [ "$lines" -eq "$n" ] || die "generator wrote $lines lines, expected $n"
  gen_s=$(calc "($end - $start) / 1e6")
  echo "file: $file ($bytes bytes, $lines lines; generated in ${gen_s}s)"
  echo "generate: $gen_cmd"

  # 1. pipe limit and 2. envelope-check, run alternately so that both see the
  # same machine state (this machine's pipe speed is bimodal); best and median.
  pipe_cmd="cat \"$file\" | cat > /dev/null"
  rss_file="$WORK_DIR/rss.txt"
  # The filter runs as `bash -c 'eval "exec $ENVELOPE_CHECK_CMD"'`: exec makes
  # time's child the filter itself, so %M is the filter's RSS.
  ec_cmd="cat \"$file\" | $TIME -f %M -o \"$rss_file\" bash -c 'eval \"exec \$ENVELOPE_CHECK_CMD\"' > /dev/null"
  rss_kib=0
  pipe_times=(); ec_times=()
  for _ in $(seq "$RUNS"); do
    start=$(now_us); bash -c "$pipe_cmd"; end=$(now_us)
    pipe_times+=("$(calc "($end - $start) / 1e6")")
    rm -f "$DLQ"
    start=$(now_us)
    bash -c "$ec_cmd" || die "envelope-check failed (exit $?): $ec_cmd"
    end=$(now_us)
    ec_times+=("$(calc "($end - $start) / 1e6")")
    r=$(tail -n 1 "$rss_file")
    [ "$r" -gt "$rss_kib" ] && rss_kib=$r
  done
  pipe_s=$(printf '%s\n' "${pipe_times[@]}" | sort -g | head -n 1)
  ec_best=$(printf '%s\n' "${ec_times[@]}" | sort -g | head -n 1)
  pipe_med=$(printf '%s\n' "${pipe_times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  ec_med=$(printf '%s\n' "${ec_times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  rm -f "$DLQ"
  accepted=$(cat "$file" | bash -c 'eval "exec $ENVELOPE_CHECK_CMD"' | wc -l) || die "envelope-check failed on the counting run"
  dlq_lines=0; [ -f "$DLQ" ] && dlq_lines=$(wc -l < "$DLQ")

  # 3. jq: probe on a prefix, whole file only if it fits in JQ_MAX_SECONDS
  prefix="$WORK_DIR/events-$n-seed$SEED.prefix$JQ_PREFIX_LINES.ndjson"
  head -n "$JQ_PREFIX_LINES" "$file" > "$prefix"
  p_bytes=$(stat -c %s "$prefix"); p_lines=$(wc -l < "$prefix")
  start=$(now_us)
  jq_out=$(cat "$prefix" | jq -c -f "$JQ_PROGRAM" | wc -l)
  end=$(now_us)
  p_s=$(calc "($end - $start) / 1e6")
  [ "$jq_out" -eq "$p_lines" ] || die "jq accepted $jq_out of $p_lines prefix lines"
  predicted=$(calc "$p_s * $bytes / $p_bytes")
  if [ "$p_lines" -eq "$lines" ]; then
    jq_s=$p_s; jq_bytes=$bytes; jq_lines=$lines; jq_note="whole file"
    jq_cmd="cat \"$file\" | jq -c -f \"$JQ_PROGRAM\" > /dev/null"
  elif [ "$(calc "$predicted <= $JQ_MAX_SECONDS ? 1 : 0")" = 1 ]; then
    jq_cmd="cat \"$file\" | jq -c -f \"$JQ_PROGRAM\" > /dev/null"
    start=$(now_us); bash -c "$jq_cmd"; end=$(now_us)
    jq_s=$(calc "($end - $start) / 1e6"); jq_bytes=$bytes; jq_lines=$lines; jq_note="whole file"
  else
    jq_s=$p_s; jq_bytes=$p_bytes; jq_lines=$p_lines
    jq_note="EXTRAPOLATED: timed on the first $p_lines lines ($p_bytes bytes); whole file predicted ${predicted}s > ${JQ_MAX_SECONDS}s"
    jq_cmd="cat \"$prefix\" | jq -c -f \"$JQ_PROGRAM\" > /dev/null"
  fi
  rm -f "$prefix"

  pipe_mbs=$(calc "$bytes / $pipe_s / 1e6");  pipe_eps=$(calc "$lines / $pipe_s")
  ec_mbs=$(calc "$bytes / $ec_best / 1e6");   ec_eps=$(calc "$lines / $ec_best")
  jq_mbs=$(calc "$jq_bytes / $jq_s / 1e6");   jq_eps=$(calc "$jq_lines / $jq_s")
  vs_pipe=$(calc "$ec_mbs / $pipe_mbs")
  vs_jq=$(calc "$ec_mbs / $jq_mbs")
  rss_mib=$(calc "$rss_kib / 1024")

  printf '%-16s %10s %10s %12s  %s\n' tool seconds MB/s events/s note
  printf '%-16s %10.3f %10.1f %12.0f  %s\n' "pipe (cat|cat)" "$pipe_s" "$pipe_mbs" "$pipe_eps" "best of $RUNS (median $(printf %.1f "$(calc "$bytes / $pipe_med / 1e6")") MB/s)"
  printf '%-16s %10.3f %10.1f %12.0f  %s\n' "envelope-check" "$ec_best" "$ec_mbs" "$ec_eps" "best of $RUNS (median $(printf %.1f "$(calc "$bytes / $ec_med / 1e6")") MB/s); peak RSS $(printf %.1f "$rss_mib") MiB"
  printf '%-16s %10.3f %10.1f %12.0f  %s\n' "jq (types)" "$jq_s" "$jq_mbs" "$jq_eps" "once; $jq_note"
  echo "envelope-check accepted $accepted of $lines lines; DLQ lines: $dlq_lines (input has bad-rate 0)"
  printf '%-22s %12s   %-18s %s\n' "envelope-check / pipe" "$(printf %.1f%% "$(calc "$vs_pipe * 100")")" "target >= 25%" "$(verdict "$vs_pipe >= 0.25") (best vs best; medians: $(printf %.1f%% "$(calc "$pipe_med / $ec_med * 100")"))"
  printf '%-22s %12s   %-18s %s\n' "envelope-check / jq" "$(printf %.1fx "$vs_jq")" "target >= 40x" "$(verdict "$vs_jq >= 40")"
  printf '%-22s %12s   %-18s %s\n' "envelope-check RSS" "$(printf '%.1f MiB' "$rss_mib")" "target <= 64 MiB" "$(verdict "$rss_kib <= 65536")"
  echo "commands:"
  echo "  pipe:           $pipe_cmd"
  echo "  envelope-check: $ec_cmd"
  echo "                  (ENVELOPE_CHECK_CMD='$ENVELOPE_CHECK_CMD', DLQ=$DLQ)"
  echo "  jq:             $jq_cmd"
  echo
  summary+=("$(printf 'N=%-9s %8.1f MB/s %10.0f ev/s  %5.1f%% of pipe  %6.1fx jq  RSS %6.1f MiB' \
    "$n" "$ec_mbs" "$ec_eps" "$(calc "$vs_pipe * 100")" "$vs_jq" "$rss_mib")")
  rss_by_size+=("$rss_kib")
  [ "${KEEP:-0}" = 1 ] || rm -f "$file"
done

echo "== summary (envelope-check); load average at end: $(cut -d' ' -f1-3 /proc/loadavg) =="
printf '%s\n' "${summary[@]}"
if [ ${#rss_by_size[@]} -ge 2 ]; then
  lo=$(printf '%s\n' "${rss_by_size[@]}" | sort -n | head -n 1); hi=$(printf '%s\n' "${rss_by_size[@]}" | sort -n | tail -n 1)
  printf 'peak RSS across sizes: %.1f to %.1f MiB (%s)   target: the same at every size (within 10%%): %s\n' \
    "$(calc "$lo / 1024")" "$(calc "$hi / 1024")" "${sizes[*]}" "$(verdict "$hi <= $lo * 1.1")"
fi
echo "reproduce: $(printf '%q ' env BIN_DIR="$BIN_DIR" MEDALLION="$MEDALLION" ENVELOPE_CHECK_CMD="$ENVELOPE_CHECK_CMD" SEED="$SEED" RUNS="$RUNS" "$here/envelope.sh" "${sizes[@]}")"

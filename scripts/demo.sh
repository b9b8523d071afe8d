#!/usr/bin/env bash
# The main job on the bundled sample (make demo): check the sample events, store the valid ones in
# Bronze, validate, clean and enrich them into Silver per tenant (configuration tree at the repo
# root), store every reject in the DLQ table, and show what landed where.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
OUT=${OUT:-out}
SAMPLE=${SAMPLE:-samples/events.ndjson.zst}
TENANTS=acme,globex,initech
EVENT_TYPES=thermostat.telemetry,door.access,energy.meter
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== envelope-check | bronze-sink  ($SAMPLE)"
"$BIN/envelope-check" --tenants "$TENANTS" --event-types "$EVENT_TYPES" --input "$SAMPLE" --dlq "$OUT/envelope-check.dlq.ndjson" 2> "$OUT/envelope-check.log" \
  | "$BIN/bronze-sink" --lake "$OUT/lake" --tenants "$TENANTS" --event-types "$EVENT_TYPES" --pipeline demo --dlq "$OUT/bronze-sink.dlq.ndjson" \
      2> "$OUT/bronze-sink.log" > "$OUT/committed.ndjson"
touch "$OUT/bronze-sink.dlq.ndjson"
echo "== silver-validate, one run per tenant (schemas, rules, standardisation, enrichment from the tree)"
for tenant in ${TENANTS//,/ }; do
  jq -c --arg t "$tenant" 'select(.tenant_id == $t)' "$OUT/committed.ndjson" \
    | "$BIN/silver-validate" --config . --tenant "$tenant" --lake "$OUT/lake" --pipeline demo \
        --dlq "$OUT/silver-validate.dlq.ndjson" 2> "$OUT/silver-validate-$tenant.log" > "$OUT/silver-$tenant.ndjson"
done
touch "$OUT/silver-validate.dlq.ndjson"
echo "== dlq-sink"
"$BIN/dlq-sink" --lake "$OUT/lake" --pipeline demo --input "$OUT/envelope-check.dlq.ndjson" \
  --input "$OUT/bronze-sink.dlq.ndjson" --input "$OUT/silver-validate.dlq.ndjson" 2> "$OUT/dlq-sink.log" > /dev/null

echo
echo "== summaries (stderr of each stage; rows_in = rows_out + rows_dlq)"
for log in envelope-check bronze-sink silver-validate-acme silver-validate-globex silver-validate-initech dlq-sink; do
  jq -c 'select(.event == "summary") | {stage, status, rows_in, rows_out, rows_dlq, seconds}' "$OUT/$log.log"
done
echo
echo "== rejects by stage and reason"
cat "$OUT/envelope-check.dlq.ndjson" "$OUT/silver-validate.dlq.ndjson" | jq -r '.stage + " " + .reason + (if .rule then " (" + .rule + ")" else "" end)' | sort | uniq -c | sort -rn
echo
echo "== data-quality rules that failed (audit/quality_rule_counts: per rule, summed over batches)"
grep -h '"rule_counts"' "$OUT"/silver-validate-*.log | jq -r .msg | grep -v 'failed 0$' || echo "(none)"
echo
echo "== Delta tables under $OUT/lake"
for table in bronze/events silver/thermostat.telemetry silver/door.access silver/energy.meter dlq/events audit/audit_pipeline_batches audit/quality_rule_counts; do
  versions=$(ls "$OUT/lake/$table/_delta_log" | grep -c '\.json$')
  files=$(find "$OUT/lake/$table" -name '*.parquet' | wc -l)
  bytes=$(find "$OUT/lake/$table" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  printf '%-32s %3d commits %4d files %9d bytes\n' "$table" "$versions" "$files" "$bytes"
done
echo
echo "== Bronze partitions"
(cd "$OUT/lake/bronze/events" && find . -name '*.parquet' -printf '%h\n' | sort | uniq -c | sed 's|\./||')
if [ -x .venv-readers/bin/python ]; then
  echo
  echo "== what a reader sees (DuckDB over the Parquet files, deltalake over the log)"
  .venv-readers/bin/python - "$OUT/lake" <<'PY'
import os, sys, duckdb, deltalake
lake = sys.argv[1]
print(duckdb.sql(f"""select tenant_id, event_type, count(*) as events
  from read_parquet('{lake}/bronze/events/**/*.parquet', hive_partitioning=true)
  group by all order by all""").fetchall())
dt = deltalake.DeltaTable(f"{lake}/bronze/events")
print(f"deltalake: bronze/events version {dt.version()}, {dt.to_pyarrow_table().num_rows} rows")
silver = deltalake.DeltaTable(f"{lake}/silver/thermostat.telemetry").to_pyarrow_table()
print("silver/thermostat.telemetry (°C after standardisation, region from the tenant's sites):")
print(duckdb.sql("""select tenant_id, region, round(avg(temperature), 1) as avg_celsius,
  count(*) filter (where _rescued_data is not null) as rescued, count(*) as readings
  from silver group by all order by all""").fetchall())
sys.stdout.flush()
# duckdb and deltalake loaded together can abort in their thread teardown at
# interpreter exit ("terminate called without an active exception"); the work
# is done, so leave without running it.
os._exit(0)
PY
fi

#!/usr/bin/env python3
"""Python baseline for the Bronze step: NDJSON -> partitioned Delta table.

What it measures
    The straightforward Python way to land envelope NDJSON as Bronze, which
    `bronze-sink` has to beat (targets: >= 2x the rate, <= 1/4 the RSS, files
    <= 1.1x the size; see bench/bronze.sh):
      1. read the input and parse each line with orjson, 100,000 lines at a
         time, each batch turned into Arrow at once (Python objects for one
         batch alive at a time, Arrow data for all of them),
      2. build one Arrow table with the envelope columns: ids and versions as
         strings, payload and attributes as JSON text (re-serialized by orjson),
         event/ingest time as timestamp[us, UTC], `_source` as three columns
         _source_id string, _source_partition int64, _source_offset int64 (as bronze-sink), and ingest_date
         (YYYY-MM-DD, the first 10 characters of ingest_time_utc),
      3. write it with deltalake.write_deltalake(..., partition_by=
         [tenant_id, event_type, ingest_date], ZSTD) as one commit.
    It prints the phase timings, events/s, and the bytes on disk of the table
    (Parquet files plus _delta_log). It does no validation: feed it clean
    envelopes (bad-rate 0), as bronze-sink gets from envelope-check.

How to run
    /work/main/.venv-readers/bin/python bench/python_bronze_baseline.py [--stream] INPUT TABLE_DIR
    INPUT may be '-' for stdin. TABLE_DIR is replaced if it exists.
    --stream passes a RecordBatchReader to write_deltalake instead of one
    table (parsing overlaps writing, lower RSS); bronze.sh uses the default
    table mode unless PY_BASELINE_ARGS=--stream.
    Needs orjson, pyarrow, deltalake (the .venv-readers venv).
"""
import os
import shutil
import sys
import time

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import WriterProperties, write_deltalake

STRING_FIELDS = [
    "tenant_id", "site_id", "device_id", "device_type", "event_type", "event_id",
    "schema_version", "source_system",
]
TIME_FIELDS = ["event_time_utc", "ingest_time_utc"]
PARTITION_BY = ["tenant_id", "event_type", "ingest_date"]


BATCH_LINES = 100_000
COLUMN_ORDER = [
    "tenant_id", "site_id", "device_id", "device_type", "event_type", "event_id",
    "event_time_utc", "ingest_time_utc", "schema_version", "source_system",
    "payload", "attributes", "_source_id", "_source_partition", "_source_offset", "ingest_date",
]


def parse_batch(f, limit):
    """Parses up to `limit` lines with orjson into per-column Python lists."""
    cols = {k: [] for k in STRING_FIELDS + TIME_FIELDS + ["payload", "attributes"]}
    src = ([], [], [])
    dumps, loads = orjson.dumps, orjson.loads
    appenders = [(k, cols[k].append) for k in STRING_FIELDS + TIME_FIELDS]
    payload, attributes = cols["payload"].append, cols["attributes"].append
    n = 0
    for line in f:
        rec = loads(line)
        for k, append in appenders:
            append(rec[k])
        payload(dumps(rec["payload"]).decode())
        attributes(dumps(rec["attributes"]).decode())
        s = rec.get("_source") or {}
        src[0].append(s.get("source"))
        src[1].append(s.get("partition"))
        src[2].append(s.get("offset"))
        n += 1
        if n == limit:
            break
    return cols, src


def to_record_batch(cols, src):
    arrays = {k: pa.array(cols[k], pa.string()) for k in STRING_FIELDS}
    for k in TIME_FIELDS:
        arrays[k] = pc.cast(pa.array(cols[k], pa.string()), pa.timestamp("us", tz="UTC"))
    arrays["payload"] = pa.array(cols["payload"], pa.string())
    arrays["attributes"] = pa.array(cols["attributes"], pa.string())
    # The same layout bronze-sink writes: three flat position columns.
    arrays["_source_id"] = pa.array(src[0], pa.string())
    arrays["_source_partition"] = pa.array(src[1], pa.int64())
    arrays["_source_offset"] = pa.array(src[2], pa.int64())
    arrays["ingest_date"] = pc.utf8_slice_codeunits(pa.array(cols["ingest_time_utc"], pa.string()), 0, 10)
    return pa.RecordBatch.from_arrays([arrays[k] for k in COLUMN_ORDER], names=COLUMN_ORDER)


def dir_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def main():
    args = sys.argv[1:]
    stream = "--stream" in args
    args = [a for a in args if a != "--stream"]
    if len(args) != 2:
        sys.exit(__doc__)
    source, table_dir = args
    t0 = time.perf_counter()

    # Parse in batches of BATCH_LINES and turn each into an Arrow record
    # batch at once, so Python objects for at most one batch are alive; the
    # Arrow data for all rows is then one table. (Building Python lists for
    # the whole file first would more than double the peak RSS and make the
    # baseline look worse than a reasonable Python job is.)
    batches = []
    counters = {"rows": 0, "parse_s": 0.0}
    f = sys.stdin.buffer if source == "-" else open(source, "rb")

    def record_batches():
        while True:
            p0 = time.perf_counter()
            cols, src = parse_batch(f, BATCH_LINES)
            counters["parse_s"] += time.perf_counter() - p0
            if not src[0]:
                return
            counters["rows"] += len(src[0])
            yield to_record_batch(cols, src)

    if stream:
        # --stream: hand delta-rs a reader, so parsing overlaps writing and
        # no whole-file table exists (a stronger baseline for RSS).
        first = next(record_batches(), None)
        if first is None:
            sys.exit("python-bronze: no input lines")
        data = pa.RecordBatchReader.from_batches(
            first.schema, (b for part in ([first], record_batches()) for b in part))
    else:
        batches = list(record_batches())
        if not batches:
            sys.exit("python-bronze: no input lines")
        data = pa.Table.from_batches(batches)
        del batches
    t2 = time.perf_counter()

    if os.path.exists(table_dir):
        shutil.rmtree(table_dir)
    write_deltalake(
        table_dir, data, partition_by=PARTITION_BY, mode="overwrite",
        writer_properties=WriterProperties(compression="ZSTD"),
    )
    t3 = time.perf_counter()

    f.close()
    total = t3 - t0
    rows, parse_s = counters["rows"], counters["parse_s"]
    on_disk = dir_bytes(table_dir)
    print(f"python-bronze: rows={rows}")
    if stream:  # parse and arrow time are inside write_s
        print(f"python-bronze: mode=stream parse_s={parse_s:.3f} total_s={total:.3f}")
    else:
        print(f"python-bronze: mode=table parse_s={parse_s:.3f} arrow_s={t2 - t0 - parse_s:.3f} "
              f"write_s={t3 - t2:.3f} total_s={total:.3f}")
    print(f"python-bronze: events_per_s={rows / total:.0f}")
    print(f"python-bronze: bytes_on_disk={on_disk} table={table_dir}")
    print(f"python-bronze: reproduce: {sys.executable} {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()

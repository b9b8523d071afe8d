/// Re-emits stored DLQ records as their original raw lines (`dlq-sink --redrive`),
/// so that a fixed pipeline can re-process what it once rejected:
/// `dlq-sink --lake L --redrive --reason bad_timestamp | envelope-check ...`.
///
/// Filters: reason codes, stages, tenant (pruned on the partition), and a
/// time range on the reject time (pruned on `ingest_date`, then exact on
/// `time`; `since` inclusive, `until` exclusive). Lines are written byte for
/// byte: `raw` as UTF-8, `raw_base64` decoded. A record kept only as a
/// prefix (`raw_truncated`, from `line_too_long`) cannot be redriven
/// faithfully; it is counted and reported, never emitted as if whole.
package struct DLQRedrive {
    package var reasons: [String]?
    package var stages: [String]?
    package var tenant: String?
    package var sinceMicros: Int64?
    package var untilMicros: Int64?

    package init() {}

    package struct Result: Sendable {
        package var emitted = 0
        package var skippedTruncated = 0
        package var filesFailed = 0
        package var firstError: String?
    }

    package func run(lakeRoot: String, output: OutputWriter,
                     log: (String) -> Void) throws(StageError) -> Result {
        let tablePath = lakeRoot + "/" + DLQSink.tableSubpath
        let table: DeltaTableReader
        do {
            table = try DeltaTableReader.open(tablePath: tablePath)
        } catch {
            throw StageError(.noInput, "cannot open the DLQ table: \(error.description)")
        }
        let sinceDay = sinceMicros.map { Self.day($0) }
        let untilDay = untilMicros.map { Self.day($0 - 1) }
        let scan: DeltaTableScan
        do {
            scan = try table.scan(columns: ["reason", "stage", "time", "raw", "raw_base64", "raw_truncated"]) { values in
                if let tenant, values["tenant_id"] != tenant { return false }
                if let sinceDay, let day = values["ingest_date"], day < sinceDay { return false }
                if let untilDay, let day = values["ingest_date"], day > untilDay { return false }
                return true
            }
        } catch {
            throw StageError(error)
        }
        var result = Result()
        while true {
            let batch: DeltaBatch?
            do {
                batch = try scan.next()
            } catch {
                // A damaged file: report it, go on with the others, fail at the end.
                result.filesFailed += 1
                if result.firstError == nil { result.firstError = error.description }
                log("skipping an unreadable DLQ file: \(error.description)")
                continue
            }
            guard let batch else { break }
            let reason = batch.columnIndex("reason")!, stage = batch.columnIndex("stage")!
            let time = batch.columnIndex("time")!, raw = batch.columnIndex("raw")!
            let rawBase64 = batch.columnIndex("raw_base64")!, truncated = batch.columnIndex("raw_truncated")!
            for row in 0..<batch.rowCount {
                if let reasons, !reasons.contains(batch.string(reason, row) ?? "") { continue }
                if let stages, !stages.contains(batch.string(stage, row) ?? "") { continue }
                if sinceMicros != nil || untilMicros != nil {
                    let at = batch.int64(time, row) ?? 0
                    if let sinceMicros, at < sinceMicros { continue }
                    if let untilMicros, at >= untilMicros { continue }
                }
                if batch.bool(truncated, row) == true {
                    result.skippedTruncated += 1
                    continue
                }
                if let bytes = batch.bytes(raw, row) {
                    try output.writeLine(bytes)
                } else if let encoded = batch.bytes(rawBase64, row), let bytes = Base64.decode(encoded) {
                    try output.writeLine(bytes)
                } else {
                    continue  // neither form stored: nothing to re-emit
                }
                result.emitted += 1
            }
        }
        try output.flush()
        return result
    }

    private static func day(_ micros: Int64) -> String {
        var out: [UInt8] = []
        Timestamp.appendDate(days: Int(micros.floorDividedBy(86_400_000_000).quotient), to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

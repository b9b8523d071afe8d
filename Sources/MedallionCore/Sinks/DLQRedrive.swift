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
/// Memory: the selection is held and sorted (at most `maxBytes` of raw lines).
package struct DLQRedrive {
    package var reasons: [String]?
    package var stages: [String]?
    package var tenant: String?
    package var sinceMicros: Int64?
    package var untilMicros: Int64?
    /// The most raw bytes a selection may hold: it is sorted in memory.
    package var maxBytes = 1 << 30

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
            scan = try table.scan(columns: ["reason", "stage", "time", "raw", "raw_base64", "raw_truncated",
                                            "source_id", "source_partition", "source_offset"]) { values in
                if let tenant, values["tenant_id"] != tenant { return false }
                if let sinceDay, let day = values["ingest_date"], day < sinceDay { return false }
                if let untilDay, let day = values["ingest_date"], day > untilDay { return false }
                return true
            }
        } catch {
            throw StageError(error)
        }
        var result = Result()
        // The selection is emitted in source-position order: the sinks' exactly-once
        // positions need offsets that only grow per source partition, and the table
        // holds rejects in partition-file order. Lines without a position follow, in
        // table order; a reject stored twice (rejected again after a redrive) keeps
        // its position and is then stored once.
        var selected: [Selected] = []
        var selectedBytes = 0
        var lineScanner = JSONScanner()
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
            let sourceID = batch.columnIndex("source_id")!, sourcePartition = batch.columnIndex("source_partition")!
            let sourceOffset = batch.columnIndex("source_offset")!
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
                let line: [UInt8]
                if let bytes = batch.bytes(raw, row) {
                    line = Array(bytes)
                } else if let encoded = batch.bytes(rawBase64, row), let bytes = Base64.decode(encoded) {
                    line = bytes
                } else {
                    continue  // neither form stored: nothing to re-emit
                }
                selectedBytes += line.count + 64
                guard selectedBytes <= maxBytes else {
                    throw StageError(.data, "the selection holds more than \(maxBytes >> 20) MiB of raw lines, and a redrive sorts what it selects in memory; redrive it in parts (narrow --since/--until, or add --reason, --stage, --tenant) and give each part sink ids of its own: the parts' offsets interleave, so a sink id shared by two parts would skip the second part's records as stored")
                }
                var record = Selected(source: batch.string(sourceID, row), partition: batch.int64(sourcePartition, row),
                                      offset: batch.int64(sourceOffset, row), order: selected.count, line: line)
                if record.offset == nil { record.takePosition(fromLine: &lineScanner) }
                selected.append(record)
            }
        }
        selected.sort()
        for record in selected {
            try output.writeLine(record.line)
            result.emitted += 1
        }
        try output.flush()
        return result
    }

    /// One selected record: its position (if any) and its raw line.
    private struct Selected: Comparable {
        var source: String?
        var partition: Int64?
        var offset: Int64?
        /// Where it was in the table, to keep lines without a position in order.
        var order: Int
        var line: [UInt8]

        static func < (a: Selected, b: Selected) -> Bool {
            switch (a.offset, b.offset) {
            case let (x?, y?):
                return (a.source ?? "", a.partition ?? -1, x, a.order) < (b.source ?? "", b.partition ?? -1, y, b.order)
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil): return a.order < b.order
            }
        }

        static func == (a: Selected, b: Selected) -> Bool { a.order == b.order }

        /// A reject stored without a position (a line the stage could not read
        /// far enough, or a DLQ table from an older build) may still carry its
        /// `_source`: the sinks downstream will read it, so it sorts by it too.
        mutating func takePosition(fromLine scanner: inout JSONScanner) {
            line.withUnsafeBytes { bytes in
                guard (try? scanner.scan(bytes)) == .object else { return }
                let members = Array(scanner.members)
                for m in members where !m.keyEscaped && bytes[m.keyStart..<m.keyEnd].elementsEqual("_source".utf8) {
                    guard m.kind == .object,
                          let position = SourcePosition.parse(bytes, value: m.valueStart..<m.valueEnd, scanner: &scanner) else { return }
                    source = String(decoding: bytes[position.sourceRange], as: UTF8.self)
                    partition = position.partition
                    offset = position.offset
                    return
                }
            }
        }
    }

    private static func day(_ micros: Int64) -> String {
        var out: [UInt8] = []
        Timestamp.appendDate(days: Int(micros.floorDividedBy(86_400_000_000).quotient), to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// `dlq-sink`: stores DLQ records from any number of stages in `dlq/events`.
///
/// Partitioned like Bronze (`tenant_id/event_type/ingest_date`, the date of
/// the reject). A record whose tenant or event type is missing or not a safe
/// id (it may be hostile: `../../etc`) goes to the placeholder partition
/// `_unknown`, which no real tenant can be named (ids start with `[a-z0-9]`);
/// the value as sent is kept in `reported_tenant_id` / `reported_event_type`.
/// A line that is not a DLQ record at all is stored too, wrapped as a
/// `not_a_dlq_record` record with its raw bytes: the DLQ never loses anything.
package final class DLQSink {
    package static let tableSubpath = "dlq/events"
    package static let partitionColumns = ["tenant_id", "event_type", "ingest_date"]
    package static let unknownPartition = "_unknown"
    private static func escapedStage(_ stage: [UInt8]) -> [UInt8] {
        guard stage.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "%") }) else { return stage }
        var out: [UInt8] = []
        for b in stage {
            switch b {
            case UInt8(ascii: "/"): out += Array("%2F".utf8)
            case UInt8(ascii: "%"): out += Array("%25".utf8)
            default: out.append(b)
            }
        }
        return out
    }

    private static let unknownTenantReason = Array(RejectReason.unknownTenant.rawValue.utf8)
    private static let tenantMismatchReason = Array(RejectReason.tenantMismatch.rawValue.utf8)
    private static let unknownEventTypeReason = Array(RejectReason.unknownEventType.rawValue.utf8)
    package static let schema = DeltaSchema([
        DeltaField("tenant_id", .string, nullable: false),
        DeltaField("event_type", .string, nullable: false),
        DeltaField("ingest_date", .date, nullable: false),
        DeltaField("dlq_version", .long),
        DeltaField("stage", .string, nullable: false),
        DeltaField("reason", .string, nullable: false),
        DeltaField("message", .string),
        DeltaField("field", .string),
        DeltaField("reported_tenant_id", .string),
        DeltaField("reported_event_type", .string),
        DeltaField("source", .string),
        DeltaField("source_id", .string),
        DeltaField("source_partition", .long),
        DeltaField("source_offset", .long),
        DeltaField("input", .string),
        DeltaField("line", .long),
        DeltaField("time", .timestamp, nullable: false),
        DeltaField("raw_length", .long),
        DeltaField("raw_truncated", .boolean),
        DeltaField("raw", .string),
        DeltaField("raw_base64", .string),
    ])

    private enum Column: Int {
        case dlqVersion, stage, reason, message, field, reportedTenant, reportedEventType, source
        case sourceID, sourcePartition, sourceOffset, input, line, time, rawLength, rawTruncated, raw, rawBase64
    }

    private let options: SinkOptions
    private let rows: PartitionedBatch
    private var audit: AuditWriter?
    private var scanner = JSONScanner()
    private var sourceScanner = JSONScanner()
    private var forward: [UInt8] = []
    private var batch = BatchCounters()
    private var skipped = 0

    package init(options: SinkOptions) throws(StageError) {
        self.options = options
        let table = try options.openTable(Self.tableSubpath, schema: Self.schema,
                                          partitionColumns: Self.partitionColumns, engine: "dlq-sink")
        rows = PartitionedBatch(table: table, dataFields: Self.schema.fields.filter { !Self.partitionColumns.contains($0.name) },
                                appIDPrefix: options.sinkID)
        if table != nil, options.writeAudit { audit = try AuditWriter(lakeRoot: options.lakeRoot) }
    }

    package func run(_ runtime: StageRuntime) throws(StageError) {
        batch.start()
        if let multi = runtime.multiReader {
            multi.start()
            loop: while true {
                switch try multi.next(timeout: min(options.flushIntervalSeconds, 1)) {
                case .item(let item):
                    item.bytes.withUnsafeBytes { take($0, length: item.length, tooLong: item.tooLong, input: item.input, number: item.number) }
                case .idle:
                    if Signals.stopRequested { break loop }
                case .end:
                    break loop
                }
                try commitIfDue(runtime)
            }
        } else {
            let reader = runtime.reader
            reader.source.idleMillis = Int32(max(50, min(options.flushIntervalSeconds * 1000, 60_000)))
            reader.source.onIdle = { [unowned self, unowned runtime] () throws(StageError) in
                if self.batch.inputRows > 0 || self.batch.marks > 0 { try self.commit(runtime) }
            }
            while let line = try reader.next() {
                take(line.bytes, length: line.length, tooLong: line.tooLong, input: runtime.options.input, number: line.number)
                try commitIfDue(runtime)
            }
        }
        try commit(runtime)
        if skipped > 0 {
            runtime.log(level: "info", event: "dlq_skipped", "skipped \(skipped) record(s) already stored by an earlier run")
        }
    }

    private func commitIfDue(_ runtime: StageRuntime) throws(StageError) {
        if batch.storedRows >= options.batchRows || batch.bytes >= options.batchBytes || batch.age >= options.flushIntervalSeconds {
            try commit(runtime)
        }
    }

    /// Counts and stores one input line; every line is stored or skipped as
    /// already stored, none is rejected.
    private func take(_ line: UnsafeRawBufferPointer, length: Int, tooLong: Bool, input: String, number: Int) {
        // A stage's position mark: its stream is handled up to there. Not a record.
        if !tooLong, line.starts(with: Self.markPrefix), let mark = PositionMark.parse(line), let stage = mark.stage {
            rows.advance(to: mark, key: String(decoding: Self.escapedStage(Array(stage.utf8)), as: UTF8.self) + "/" + mark.source)
            batch.marks += 1
            marksSeen += 1
            forward.append(contentsOf: line)
            forward.append(0x0A)
            return
        }
        batch.inputRows += 1
        runtimeRowsIn += 1
        if !tooLong, let record = parse(line) {
            store(record, line)
        } else {
            // Not a DLQ record: wrap it, keeping its bytes.
            let rejection = Rejection(.notADLQRecord,
                tooLong ? "a line of \(length) bytes reached dlq-sink (over --max-line-bytes); its prefix is kept"
                        : "a line that is not a DLQ record reached dlq-sink; its bytes are kept")
            var w = JSONWriter(capacity: line.count + 512)
            DLQRecord(stage: "dlq-sink", rejection: rejection, raw: line, rawLength: length, rawTruncated: tooLong,
                      input: input, lineNumber: number, timeMicros: wallClockMicros()).encode(into: &w)
            w.bytes.withUnsafeBytes { wrapped in
                if let record = parse(wrapped) { store(record, wrapped) }
            }
        }
        forward.append(contentsOf: line)
        forward.append(0x0A)
    }

    /// Total lines taken, reported to the runtime's counters at commit.
    private var runtimeRowsIn = 0
    private var marksSeen = 0
    private static let markPrefix = Array(#"{"_mark":"#.utf8)

    /// The parts of a DLQ record, as ranges into its line.
    private struct Parsed {
        var members: [String: JSONMember] = [:]
    }

    private func parse(_ line: UnsafeRawBufferPointer) -> Parsed? {
        guard (try? scanner.scan(line)) == .object else { return nil }
        var parsed = Parsed()
        for m in scanner.members where !m.keyEscaped {
            parsed.members[String(decoding: UnsafeRawBufferPointer(rebasing: line[m.keyStart..<m.keyEnd]), as: UTF8.self)] = m
        }
        guard parsed.members["stage"]?.kind == .string, parsed.members["reason"]?.kind == .string,
              parsed.members["raw"]?.kind == .string || parsed.members["raw_base64"]?.kind == .string
        else { return nil }
        return parsed
    }

    private func store(_ record: Parsed, _ line: UnsafeRawBufferPointer) {
        func body(_ m: JSONMember) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: line[(m.valueStart + 1)..<(m.valueEnd - 1)])
        }
        func text(_ key: String) -> [UInt8]? {
            guard let m = record.members[key], m.kind == .string else { return nil }
            if !m.valueEscaped { return Array(body(m)) }
            var out: [UInt8] = []
            JSONString.decode(body(m), into: &out)
            return out
        }
        func int(_ key: String) -> Int64? {
            guard let m = record.members[key], m.kind == .number else { return nil }
            return SourcePosition.parseInt(UnsafeRawBufferPointer(rebasing: line[m.valueStart..<m.valueEnd]))
        }
        // Position: the original record's `_source`, keyed by stage so the
        // streams of different stages advance independently.
        // Several instances of one stage (silver-validate per tenant) keep their own positions.
        let stage = text("stage") ?? []
        let positionKey = text("instance") ?? stage
        var positionIndex = -1
        var position: SourcePosition?
        if let m = record.members["source"], m.kind == .object {
            position = SourcePosition.parse(line, value: m.valueStart..<m.valueEnd, scanner: &sourceScanner)
        }
        if let position {
            // `<stage>/<source>`: '%' and '/' in the stage part are escaped, so a
            // stage "a/b" with source "c" never shares a key with stage "a" and source "b/c".
            let key = Self.escapedStage(positionKey) + [UInt8(ascii: "/")] + Array(UnsafeRawBufferPointer(rebasing: line[position.sourceRange]))
            positionIndex = key.withUnsafeBytes { rows.position(key: $0, partition: position.partition) }
            if rows.isCommitted(positionIndex, offset: position.offset) {
                skipped += 1
                return
            }
        }
        var time = wallClockMicros()
        if let t = text("time"), case .success(let v) = t.withUnsafeBytes({ Timestamp.parseMicros($0) }),
           Timestamp.supportedMicros.contains(v) { time = v }
        let days = Int32(time.floorDividedBy(86_400_000_000).quotient)
        let tenant = text("tenant_id")
        let eventType = text("event_type")
        let unknown = Array(Self.unknownPartition.utf8)
        // A tenant or event type that was rejected as unknown is the sender's
        // word only: partitioning by it would let any sender create DLQ
        // partitions at will, so it goes to the placeholder (the value stays
        // in reported_tenant / reported_event_type and the raw line).
        let reason = text("reason")
        let tenantRejected = reason.map { $0 == Self.unknownTenantReason || $0 == Self.tenantMismatchReason } ?? false
        let eventTypeRejected = reason.map { $0 == Self.unknownEventTypeReason } ?? false
        let safeTenant = tenantRejected ? unknown
            : tenant.flatMap { t in t.withUnsafeBytes { EnvelopePolicy.isSafeID($0) } ? t : nil } ?? unknown
        let safeEventType = eventTypeRejected ? unknown
            : eventType.flatMap { e in e.withUnsafeBytes { EnvelopePolicy.isSafeID($0) } ? e : nil } ?? unknown
        let slot = safeTenant.withUnsafeBytes { t in safeEventType.withUnsafeBytes { e in rows.slot(tenant: t, eventType: e, days: days) } }
        var bytes = 0
        rows.withColumns(slot) { c in
            func put(_ column: Column, _ value: [UInt8]?) {
                if let value {
                    value.withUnsafeBytes { c[column.rawValue].append(string: $0) }
                    bytes += value.count
                } else {
                    c[column.rawValue].appendNull()
                }
            }
            func put(_ column: Column, _ value: Int64?) {
                if let value { c[column.rawValue].append(int64: value) } else { c[column.rawValue].appendNull() }
            }
            put(.dlqVersion, int("dlq_version"))
            put(.stage, stage)
            put(.reason, reason)
            put(.message, text("message"))
            put(.field, text("field"))
            put(.reportedTenant, tenant)
            put(.reportedEventType, eventType)
            put(.source, record.members["source"].flatMap { $0.kind == .null ? nil : Array(UnsafeRawBufferPointer(rebasing: line[$0.valueStart..<$0.valueEnd])) })
            put(.sourceID, position.map { Array(UnsafeRawBufferPointer(rebasing: line[$0.sourceRange])) })
            put(.sourcePartition, position?.partition)
            put(.sourceOffset, position?.offset)
            put(.input, text("input"))
            put(.line, int("line"))
            c[Column.time.rawValue].append(timestampMicros: time)
            put(.rawLength, int("raw_length"))
            if let m = record.members["raw_truncated"], m.kind == .bool {
                c[Column.rawTruncated.rawValue].append(bool: line[m.valueStart] == UInt8(ascii: "t"))
            } else {
                c[Column.rawTruncated.rawValue].appendNull()
            }
            put(.raw, text("raw"))
            put(.rawBase64, text("raw_base64"))
        }
        if positionIndex >= 0, let position { rows.markPending(positionIndex, offset: position.offset) }
        rows.rows += 1
        batch.storedRows += 1
        batch.bytes += bytes + 64
    }

    private func commit(_ runtime: StageRuntime) throws(StageError) {
        defer { batch.start() }
        runtime.countInput(runtimeRowsIn)
        runtimeRowsIn = 0
        for _ in 0..<marksSeen { runtime.countMark() }
        marksSeen = 0
        guard batch.inputRows > 0 || batch.marks > 0 else { return }
        let outcome = try options.auditingFailure(&audit, stage: "dlq-sink", batch: batch) { () throws(StageError) in
            try rows.commit(operation: "STREAMING UPDATE", parameters: [
                "outputMode": "Append", "sink": options.sinkID, "rows": String(batch.storedRows)])
        }
        switch outcome {
        case .alreadyCommitted(_, let message): runtime.log(level: "warn", event: "already_committed", message)
        case .dryRun(let files):
            runtime.log(level: "info", event: "dry_run_batch", "would commit \(batch.storedRows) DLQ record(s) in \(files) partition file(s)")
        case .committed, .nothingToCommit: break
        }
        try forward.withRawBytes { (bytes) throws(StageError) in
            if !bytes.isEmpty { try runtime.output.writeRaw(bytes, lines: batch.inputRows + batch.marks, marks: batch.marks) }
        }
        try runtime.flush()
        forward.removeAll(keepingCapacity: true)
        try options.recordAudit(&audit, stage: "dlq-sink", batch: batch, outcome: outcome)
    }
}

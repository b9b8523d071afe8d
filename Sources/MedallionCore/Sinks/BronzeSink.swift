/// Settings shared by the sinks that write Delta tables.
package struct SinkOptions: Sendable {
    /// The storage root: `bronze/events`, `dlq/events` and `audit/...` live below it.
    package var lakeRoot: String
    /// A stable name for this sink instance; it prefixes every `txn` appId, so
    /// two sinks writing one table from different sources never collide.
    package var sinkID: String
    /// The pipeline name recorded in the audit table.
    package var pipeline = "adhoc"
    /// The pipeline's tenant, recorded in the audit table when known.
    package var tenant: String?
    package var batchRows = 100_000
    package var batchBytes = 64 << 20
    /// Commit a non-empty batch after this long, even on a quiet stream.
    package var flushIntervalSeconds = 5.0
    /// Parse, batch and forward, but write no table.
    package var dryRun = false
    package var writeAudit = true
    package var compressionLevel: Int32 = 1
    /// `dlq.max_reject_ratio`: a committed batch with a larger share of
    /// rejects is recorded as `flagged` in the audit table (nil: never).
    package var maxRejectRatio: Double?

    package init(lakeRoot: String, sinkID: String) {
        self.lakeRoot = lakeRoot
        self.sinkID = sinkID
    }
}

/// `bronze-sink`: stores valid envelopes in `bronze/events`, one Delta commit
/// per batch, and forwards each record only after the commit that stores it.
///
/// Exactly-once: every commit carries a `txn` per (source, partition) whose
/// version is the highest offset stored. On start the sink reads those
/// versions and skips records at or below them (they are forwarded again,
/// since downstream stages deduplicate the same way, but not stored twice).
/// A kill at any moment loses only the uncommitted batch, which the source
/// replays. Records without a usable `_source` cannot be deduplicated and are
/// simply stored.
package final class BronzeSink: EnvelopeSink {
    /// The table's columns: the envelope, payload and attributes as JSON text,
    /// the `_source` position, and other reserved keys as JSON text.
    package static let schema = DeltaSchema([
        DeltaField("tenant_id", .string, nullable: false),
        DeltaField("event_type", .string, nullable: false),
        DeltaField("ingest_date", .date, nullable: false),
        DeltaField("site_id", .string, nullable: false),
        DeltaField("device_id", .string, nullable: false),
        DeltaField("device_type", .string, nullable: false),
        DeltaField("event_id", .string, nullable: false),
        DeltaField("event_time_utc", .timestamp, nullable: false),
        DeltaField("ingest_time_utc", .timestamp, nullable: false),
        DeltaField("schema_version", .string, nullable: false),
        DeltaField("source_system", .string, nullable: false),
        DeltaField("payload", .string, nullable: false),
        DeltaField("attributes", .string),
        DeltaField("_source_id", .string),
        DeltaField("_source_partition", .long),
        DeltaField("_source_offset", .long),
        DeltaField("_reserved", .string),
    ])
    package static let partitionColumns = ["tenant_id", "event_type", "ingest_date"]
    package static let tableSubpath = "bronze/events"

    /// Data column positions in `makeColumnBuffers()` order.
    private enum Column: Int {
        case siteID, deviceID, deviceType, eventID, eventTime, ingestTime, schemaVersion, sourceSystem
        case payload, attributes, sourceID, sourcePartition, sourceOffset, reserved
    }

    let options: SinkOptions
    private let rows: PartitionedBatch
    private var audit: AuditWriter?
    var checker: EnvelopeChecker
    private var sourceScanner = JSONScanner()
    var forward: [UInt8] = []
    private var scratch: [UInt8] = []
    var batch = BatchCounters()
    private var skippedTotal = 0
    private var batchesCommitted = 0

    package init(options: SinkOptions, policy: EnvelopePolicy) throws(StageError) {
        self.options = options
        checker = EnvelopeChecker(policy: policy)
        let table = try options.openTable(Self.tableSubpath, schema: Self.schema,
                                          partitionColumns: Self.partitionColumns, engine: "bronze-sink")
        rows = PartitionedBatch(table: table, dataFields: Self.schema.fields.filter { !Self.partitionColumns.contains($0.name) },
                                appIDPrefix: options.sinkID)
        if table != nil, options.writeAudit { audit = try AuditWriter(lakeRoot: options.lakeRoot) }
        forward.reserveCapacity(1 << 20)
    }

    package func run(_ runtime: StageRuntime) throws(StageError) {
        try runLoop(runtime)
        runtime.log(level: "info", event: "bronze_done",
                    "committed \(batchesCommitted) batch(es); skipped \(skippedTotal) record(s) already stored by an earlier run")
    }

    /// A mark's position is stored like a record's: the next commit's `txn`
    /// says everything of that partition up to the mark is handled.
    func record(_ mark: PositionMark) {
        rows.advance(to: mark)
    }

    /// Stores and forwards a valid envelope (forwarded even when already stored).
    func accept(_ line: Line, _ runtime: StageRuntime) throws(StageError) {
        store(line.bytes)
        forward.append(contentsOf: line.bytes)
        forward.append(0x0A)
    }

    /// Appends one valid envelope to its partition's column buffers, unless
    /// its position shows it is already stored.
    private func store(_ line: UnsafeRawBufferPointer) {
        var position: SourcePosition?
        if let range = checker.sourceRange {
            position = SourcePosition.parse(line, value: range, scanner: &sourceScanner)
        }
        var positionIndex = -1
        if let position {
            positionIndex = rows.position(key: UnsafeRawBufferPointer(rebasing: line[position.sourceRange]), partition: position.partition)
            if rows.isCommitted(positionIndex, offset: position.offset) {
                skippedTotal += 1
                return
            }
        }
        let ingest = micros(.ingestTimeUTC, line)
        let days = Int32(ingest.floorDividedBy(86_400_000_000).quotient)
        // Ids are checked safe ([a-z0-9._-]), so they carry no escapes.
        let tenant = checker.member(.tenantID)!
        let eventType = checker.member(.eventType)!
        let p = rows.slot(tenant: UnsafeRawBufferPointer(rebasing: line[(tenant.valueStart + 1)..<(tenant.valueEnd - 1)]),
                          eventType: UnsafeRawBufferPointer(rebasing: line[(eventType.valueStart + 1)..<(eventType.valueEnd - 1)]),
                          days: days)
        var bytes = 0
        rows.withColumns(p) { cols in
            bytes += appendString(.siteID, line, &cols[Column.siteID.rawValue])
            bytes += appendString(.deviceID, line, &cols[Column.deviceID.rawValue])
            bytes += appendString(.deviceType, line, &cols[Column.deviceType.rawValue])
            bytes += appendString(.eventID, line, &cols[Column.eventID.rawValue])
            cols[Column.eventTime.rawValue].append(timestampMicros: micros(.eventTimeUTC, line))
            cols[Column.ingestTime.rawValue].append(timestampMicros: ingest)
            bytes += appendString(.schemaVersion, line, &cols[Column.schemaVersion.rawValue])
            bytes += appendString(.sourceSystem, line, &cols[Column.sourceSystem.rawValue])
            bytes += appendRaw(.payload, line, &cols[Column.payload.rawValue])
            bytes += appendRaw(.attributes, line, &cols[Column.attributes.rawValue])
            if let position {
                let id = UnsafeRawBufferPointer(rebasing: line[position.sourceRange])
                cols[Column.sourceID.rawValue].append(string: id)
                cols[Column.sourcePartition.rawValue].append(int64: position.partition)
                cols[Column.sourceOffset.rawValue].append(int64: position.offset)
                bytes += id.count
            } else {
                cols[Column.sourceID.rawValue].appendNull()
                cols[Column.sourcePartition.rawValue].appendNull()
                cols[Column.sourceOffset.rawValue].appendNull()
            }
            bytes += appendReserved(line, hasPosition: position != nil, &cols[Column.reserved.rawValue])
        }
        if positionIndex >= 0, let position { rows.markPending(positionIndex, offset: position.offset) }
        rows.rows += 1
        batch.storedRows += 1
        batch.bytes += bytes + 40
    }

    private func micros(_ field: EnvelopeField, _ line: UnsafeRawBufferPointer) -> Int64 {
        let m = checker.member(field)!
        let body = UnsafeRawBufferPointer(rebasing: line[(m.valueStart + 1)..<(m.valueEnd - 1)])
        if !m.valueEscaped, case .success(let v) = Timestamp.parseMicros(body) { return v }
        scratch.removeAll(keepingCapacity: true)
        JSONString.decode(body, into: &scratch)
        return (try? scratch.withUnsafeBytes { Timestamp.parseMicros($0) }.get()) ?? 0
    }

    /// Stores a string field decoded (escapes resolved), as Parquet strings are text.
    private func appendString(_ field: EnvelopeField, _ line: UnsafeRawBufferPointer, _ column: inout ColumnBuffer) -> Int {
        let m = checker.member(field)!
        let body = UnsafeRawBufferPointer(rebasing: line[(m.valueStart + 1)..<(m.valueEnd - 1)])
        if !m.valueEscaped {
            column.append(string: body)
            return body.count
        }
        scratch.removeAll(keepingCapacity: true)
        JSONString.decode(body, into: &scratch)
        scratch.withUnsafeBytes { column.append(string: $0) }
        return scratch.count
    }

    /// Stores an object field as its exact JSON text (null when absent).
    private func appendRaw(_ field: EnvelopeField, _ line: UnsafeRawBufferPointer, _ column: inout ColumnBuffer) -> Int {
        guard let m = checker.member(field) else {
            column.appendNull()
            return 0
        }
        column.append(string: UnsafeRawBufferPointer(rebasing: line[m.valueStart..<m.valueEnd]))
        return m.valueEnd - m.valueStart
    }

    /// Reserved keys other than a usable `_source`, as one JSON object, so
    /// nothing a sender wrote is lost; null when there are none.
    private func appendReserved(_ line: UnsafeRawBufferPointer, hasPosition: Bool, _ column: inout ColumnBuffer) -> Int {
        let count = checker.reservedIndices.count
        if count == 0 || (count == 1 && hasPosition) {
            column.appendNull()
            return 0
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(UInt8(ascii: "{"))
        for index in checker.reservedIndices where !(hasPosition && index == checker.sourceIndex) {
            if scratch.count > 1 { scratch.append(UInt8(ascii: ",")) }
            let m = checker.member(at: index)
            scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[(m.keyStart - 1)..<m.valueEnd]))
        }
        scratch.append(UInt8(ascii: "}"))
        scratch.withUnsafeBytes { column.append(string: $0) }
        return scratch.count
    }

    /// Commits the batch (one Delta commit), then forwards it: what
    /// downstream sees is stored.
    func commit(_ runtime: StageRuntime) throws(StageError) {
        defer { batch.start() }
        guard batch.inputRows > 0 || !forward.isEmpty else { return }
        let outcome = try options.auditingFailure(&audit, stage: "bronze-sink", batch: batch) { () throws(StageError) in
            try rows.commit(operation: "STREAMING UPDATE", parameters: [
                "outputMode": "Append", "sink": options.sinkID, "rows": String(batch.storedRows)])
        }
        switch outcome {
        case .alreadyCommitted(_, let message): runtime.log(level: "warn", event: "already_committed", message)
        case .dryRun(let files):
            runtime.log(level: "info", event: "dry_run_batch", "would commit \(batch.storedRows) row(s) in \(files) partition file(s)")
        case .committed, .nothingToCommit: break
        }
        batchesCommitted += 1
        try forward.withRawBytes { (bytes) throws(StageError) in
            if !bytes.isEmpty { try runtime.output.writeRaw(bytes, lines: batch.inputRows - batch.dlqRows + batch.marks, marks: batch.marks) }
        }
        try runtime.flush()
        forward.removeAll(keepingCapacity: forward.capacity <= 4 * options.batchBytes)
        try options.recordAudit(&audit, stage: "bronze-sink", batch: batch, outcome: outcome)
    }
}

package let medallionCoreVersion = "0.1.0"

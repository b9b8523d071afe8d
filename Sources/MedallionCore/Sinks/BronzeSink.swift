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
    package var compressionLevel: Int32 = 3

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
package final class BronzeSink {
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

    private struct PartitionBatch {
        var tenant: [UInt8]
        var eventType: [UInt8]
        var days: Int32
        var columns: [ColumnBuffer]
    }

    /// Stored and pending positions of one (source, partition).
    private struct Position {
        var source: [UInt8]
        var partition: Int64
        var committed: Int64?
        var pending: Int64?
        var appID: String
    }

    private let options: SinkOptions
    private var table: DeltaTableWriter?
    private var audit: AuditWriter?
    private var checker: EnvelopeChecker
    private var sourceScanner = JSONScanner()
    private var partitions: [PartitionBatch] = []
    private var lastPartition = -1
    private var positions: [Position] = []
    private var lastPosition = -1
    private var forward: [UInt8] = []
    private var scratch: [UInt8] = []
    private var batch = BatchCounters()
    private var skippedTotal = 0
    private var batchesCommitted = 0
    private let emptyColumns: [ColumnBuffer]

    package init(options: SinkOptions, policy: EnvelopePolicy) throws(StageError) {
        self.options = options
        checker = EnvelopeChecker(policy: policy)
        let path = options.lakeRoot + "/" + Self.tableSubpath
        var writeOptions = DeltaWriteOptions()
        writeOptions.parquet.compressionLevel = options.compressionLevel
        writeOptions.engineInfo = "medallion bronze-sink/\(medallionCoreVersion)"
        if options.dryRun {
            table = nil
            emptyColumns = Self.schema.fields.filter { !Self.partitionColumns.contains($0.name) }
                .map { ColumnBuffer(type: $0.type, nullable: $0.nullable) }
        } else {
            do {
                let writer = try DeltaTableWriter.openOrCreate(
                    at: path, schema: Self.schema, partitionColumns: Self.partitionColumns, options: writeOptions)
                table = writer
                emptyColumns = writer.makeColumnBuffers()
            } catch {
                throw StageError(error)
            }
            if options.writeAudit { audit = try AuditWriter(lakeRoot: options.lakeRoot) }
        }
        forward.reserveCapacity(1 << 20)
    }

    package func run(_ runtime: StageRuntime) throws(StageError) {
        let reader = runtime.reader
        reader.source.idleMillis = Int32(max(50, min(options.flushIntervalSeconds * 1000, 60_000)))
        reader.source.onIdle = { [unowned self, unowned runtime] () throws(StageError) in
            if self.batch.inputRows > 0 || !self.forward.isEmpty { try self.commit(runtime) }
        }
        batch.start()
        while let line = try reader.next() {
            batch.inputRows += 1
            if line.tooLong {
                runtime.countInput()
                batch.dlqRows += 1
                try runtime.reject(line, Rejection(.lineTooLong,
                    "line \(line.number) is \(line.length) bytes; the limit is \(reader.maxLineLength) (--max-line-bytes)"))
                continue
            }
            switch checker.check(line.bytes) {
            case .mark:
                batch.inputRows -= 1
                runtime.countMark()
                forward.append(contentsOf: line.bytes)
                forward.append(0x0A)
            case .rejected(let rejection):
                runtime.countInput()
                batch.dlqRows += 1
                let source = checker.sourceRange.map { UnsafeRawBufferPointer(rebasing: line.bytes[$0]) }
                try runtime.reject(line, rejection, source: source,
                                   tenantID: checker.stringValue(.tenantID, in: line.bytes),
                                   eventType: checker.stringValue(.eventType, in: line.bytes))
            case .valid:
                runtime.countInput()
                store(line.bytes)
                forward.append(contentsOf: line.bytes)
                forward.append(0x0A)
            }
            if batch.storedRows >= options.batchRows || batch.bytes >= options.batchBytes
                || (batch.inputRows & 1023 == 0 && batch.age >= options.flushIntervalSeconds) {
                try commit(runtime)
            }
        }
        try commit(runtime)
        runtime.log(level: "info", event: "bronze_done",
                    "committed \(batchesCommitted) batch(es); skipped \(skippedTotal) record(s) already stored by an earlier run")
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
            positionIndex = positionSlot(line, position)
            if let done = positions[positionIndex].committed, position.offset <= done {
                skippedTotal += 1
                batch.skippedRows += 1
                return
            }
        }
        let ingest = micros(.ingestTimeUTC, line)
        let days = Int32(ingest.floorDividedBy(86_400_000_000).quotient)
        let p = partitionSlot(line, days: days)
        var bytes = 0
        partitions[p].columns.withUnsafeMutableBufferPointer { cols in
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
        if positionIndex >= 0, let position {
            positions[positionIndex].pending = max(positions[positionIndex].pending ?? -1, position.offset)
        }
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

    private func partitionSlot(_ line: UnsafeRawBufferPointer, days: Int32) -> Int {
        let tenant = checker.member(.tenantID)!
        let eventType = checker.member(.eventType)!
        // Ids are checked safe ([a-z0-9._-]), so they carry no escapes.
        let t = UnsafeRawBufferPointer(rebasing: line[(tenant.valueStart + 1)..<(tenant.valueEnd - 1)])
        let e = UnsafeRawBufferPointer(rebasing: line[(eventType.valueStart + 1)..<(eventType.valueEnd - 1)])
        @inline(__always) func matches(_ p: PartitionBatch) -> Bool {
            p.days == days && p.tenant.withUnsafeBytes { memcmpEqual($0, t) } && p.eventType.withUnsafeBytes { memcmpEqual($0, e) }
        }
        if lastPartition >= 0, matches(partitions[lastPartition]) { return lastPartition }
        if let found = partitions.firstIndex(where: matches) {
            lastPartition = found
            return found
        }
        partitions.append(PartitionBatch(tenant: Array(t), eventType: Array(e), days: days, columns: emptyColumns))
        lastPartition = partitions.count - 1
        return lastPartition
    }

    private func positionSlot(_ line: UnsafeRawBufferPointer, _ position: SourcePosition) -> Int {
        let id = UnsafeRawBufferPointer(rebasing: line[position.sourceRange])
        @inline(__always) func matches(_ p: Position) -> Bool {
            p.partition == position.partition && p.source.withUnsafeBytes { memcmpEqual($0, id) }
        }
        if lastPosition >= 0, matches(positions[lastPosition]) { return lastPosition }
        if let found = positions.firstIndex(where: matches) {
            lastPosition = found
            return found
        }
        let source = Array(id)
        let appID = "\(options.sinkID)|\(String(decoding: source, as: UTF8.self))|\(position.partition)"
        positions.append(Position(source: source, partition: position.partition,
                                  committed: table?.transactionVersion(for: appID), pending: nil, appID: appID))
        lastPosition = positions.count - 1
        return lastPosition
    }

    /// Writes one Parquet file per partition, commits them with the batch's
    /// `txn` positions in one Delta commit, then forwards the batch.
    private func commit(_ runtime: StageRuntime) throws(StageError) {
        defer { batch.start() }
        guard batch.inputRows > 0 || !forward.isEmpty else { return }
        var version: Int64?
        var status = "committed"
        if batch.storedRows > 0 || positions.contains(where: { $0.pending != nil }) {
            if var writer = table {
                do {
                    var adds: [DeltaAddAction] = []
                    var date: [UInt8] = []
                    for p in partitions where p.columns[0].count > 0 {
                        date.removeAll(keepingCapacity: true)
                        Timestamp.appendDate(days: Int(p.days), to: &date)
                        adds.append(try writer.writeDataFile(
                            partitionValues: [String(decoding: p.tenant, as: UTF8.self),
                                              String(decoding: p.eventType, as: UTF8.self),
                                              String(decoding: date, as: UTF8.self)],
                            columns: p.columns))
                    }
                    let txns = positions.compactMap { p in p.pending.map { DeltaTransaction(appId: p.appID, version: $0) } }
                    let outcome = try writer.commit(adds, transactions: txns, info: DeltaCommitInfo(
                        operation: "STREAMING UPDATE",
                        operationParameters: ["outputMode": "Append", "sink": options.sinkID, "rows": String(batch.storedRows)]))
                    switch outcome {
                    case .committed(let v):
                        version = v
                    case .alreadyCommitted(let appID, let recorded, let tableVersion):
                        status = "already_committed"
                        version = tableVersion
                        runtime.log(level: "warn", event: "already_committed",
                                    "another writer already recorded \(appID) up to offset \(recorded); this batch was not committed again")
                    }
                    table = writer
                } catch {
                    throw StageError(error)
                }
                for i in positions.indices where positions[i].pending != nil {
                    positions[i].committed = max(positions[i].committed ?? -1, positions[i].pending!)
                    positions[i].pending = nil
                }
            } else {
                status = "dry_run"
                runtime.log(level: "info", event: "dry_run_batch",
                            "would commit \(batch.storedRows) row(s) in \(partitions.filter { $0.columns[0].count > 0 }.count) partition file(s)")
                for i in positions.indices { positions[i].pending = nil }
            }
        }
        batchesCommitted += 1
        // Forward only now: what downstream sees is stored.
        try forward.withRawBytes { (bytes) throws(StageError) in
            if !bytes.isEmpty { try runtime.output.writeRaw(bytes, lines: batch.inputRows - batch.dlqRows) }
        }
        try runtime.flush()
        forward.removeAll(keepingCapacity: forward.capacity <= 4 * options.batchBytes)
        partitions.removeAll()
        lastPartition = -1
        if audit != nil {
            let endMicros = wallClockMicros()
            do {
                try audit!.append(AuditRecord(
                    pipeline: options.pipeline, tenant: options.tenant, stage: "bronze-sink",
                    batchID: "\(options.sinkID)@\(version.map(String.init) ?? "none")",
                    startedMicros: batch.startedMicros, endedMicros: endMicros,
                    inputRows: batch.inputRows, outputRows: batch.inputRows - batch.dlqRows, dlqRows: batch.dlqRows,
                    status: status, error: nil, tableVersion: version))
            } catch {
                throw StageError(error)
            }
        }
    }
}

/// Per-batch counters for the audit row and the batching thresholds.
struct BatchCounters {
    var inputRows = 0
    var storedRows = 0
    var skippedRows = 0
    var dlqRows = 0
    var bytes = 0
    var startedMicros: Int64 = 0
    var startedAt = 0.0

    mutating func start() {
        self = BatchCounters()
        startedMicros = wallClockMicros()
        startedAt = monotonicSeconds()
    }

    var age: Double { monotonicSeconds() - startedAt }
}

package let medallionCoreVersion = "0.1.0"

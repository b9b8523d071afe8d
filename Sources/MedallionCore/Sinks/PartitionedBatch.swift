/// One batch of rows bound for a Delta table partitioned by
/// (`tenant_id`, `event_type`, a date), plus the source positions it covers.
///
/// Shared by the sinks: rows are appended to per-partition column buffers
/// (found with a last-hit cache and a short linear scan, no allocation per
/// row), and `commit` writes one Parquet file per partition and records the
/// highest offset per position key in `txn` actions — all in one Delta commit.
package final class PartitionedBatch {
    package struct Partition {
        package var tenant: [UInt8]
        package var eventType: [UInt8]
        package var days: Int32
        package var columns: [ColumnBuffer]
    }

    /// Stored and pending offsets of one position key (sink, source, partition).
    private struct Position {
        var key: [UInt8]
        var partition: Int64
        var committed: Int64?
        var pending: Int64?
        var appID: String
        /// Offsets stored in this batch, ascending while they arrive in order
        /// (the normal case: an append, then a binary search for a repeat)...
        var batchOffsets: [Int64] = []
        /// ... and as a set once one arrived out of order.
        var batchSet: Set<Int64>?
    }

    package enum Outcome {
        case committed(version: Int64)
        case alreadyCommitted(version: Int64, message: String)
        case dryRun(files: Int)
        case nothingToCommit
    }

    private var table: DeltaTableWriter?
    private let emptyColumns: [ColumnBuffer]
    private let appIDPrefix: String
    /// A dry run's view of an existing table's positions (it opens no writer).
    private let knownTransactions: [String: Int64]
    package private(set) var partitions: [Partition] = []
    private var lastPartition = -1
    private var positions: [Position] = []
    private var lastPosition = -1
    package var rows = 0

    /// - Parameters:
    ///   - table: the table to write, or `nil` for a dry run.
    ///   - dataFields: the non-partition columns (for a dry run's buffers).
    package init(table: DeltaTableWriter?, dataFields: [DeltaField], appIDPrefix: String,
                 knownTransactions: [String: Int64] = [:]) {
        self.table = table
        self.knownTransactions = knownTransactions
        emptyColumns = table?.makeColumnBuffers() ?? dataFields.map { ColumnBuffer(type: $0.type, nullable: $0.nullable) }
        self.appIDPrefix = appIDPrefix
    }

    /// The partition slot for these values, created on first use.
    package func slot(tenant t: UnsafeRawBufferPointer, eventType e: UnsafeRawBufferPointer, days: Int32) -> Int {
        @inline(__always) func matches(_ p: Partition) -> Bool {
            p.days == days && p.tenant.withUnsafeBytes { memcmpEqual($0, t) } && p.eventType.withUnsafeBytes { memcmpEqual($0, e) }
        }
        if lastPartition >= 0, matches(partitions[lastPartition]) { return lastPartition }
        if let found = partitions.firstIndex(where: matches) {
            lastPartition = found
            return found
        }
        partitions.append(Partition(tenant: Array(t), eventType: Array(e), days: days, columns: emptyColumns))
        lastPartition = partitions.count - 1
        return lastPartition
    }

    /// Appends to a partition's columns in place.
    @inline(__always)
    package func withColumns<R>(_ slot: Int, _ body: (UnsafeMutableBufferPointer<ColumnBuffer>) -> R) -> R {
        partitions[slot].columns.withUnsafeMutableBufferPointer { body($0) }
    }

    /// The slot of a position key (e.g. source id, or stage + source id) and partition.
    package func position(key: UnsafeRawBufferPointer, partition: Int64) -> Int {
        @inline(__always) func matches(_ p: Position) -> Bool {
            p.partition == partition && p.key.withUnsafeBytes { memcmpEqual($0, key) }
        }
        if lastPosition >= 0, matches(positions[lastPosition]) { return lastPosition }
        if let found = positions.firstIndex(where: matches) {
            lastPosition = found
            return found
        }
        let appID = "\(appIDPrefix)|\(String(decoding: key, as: UTF8.self))|\(partition)"
        positions.append(Position(key: Array(key), partition: partition,
                                  committed: table.map { $0.transactionVersion(for: appID) } ?? knownTransactions[appID],
                                  pending: nil, appID: appID))
        lastPosition = positions.count - 1
        return lastPosition
    }

    /// Whether `offset` at this position is already stored: at or below the
    /// position an earlier commit recorded, or stored earlier in this very
    /// batch (a repeat: a rebalance re-delivery, the same capture piped
    /// twice). A record below the batch's highest offset that the batch does
    /// not hold is new, not a repeat: within a batch nothing is assumed about
    /// order. Across commits a position is one number, so a source must not
    /// go back below what it committed (`dlq-sink --redrive` sorts for that).
    @inline(__always)
    package func isCommitted(_ position: Int, offset: Int64) -> Bool {
        let p = positions[position]
        if let done = p.committed, offset <= done { return true }
        guard let pending = p.pending, offset <= pending else { return false }
        if let set = p.batchSet { return set.contains(offset) }
        return Self.sortedContains(p.batchOffsets, offset)
    }

    private static func sortedContains(_ values: [Int64], _ value: Int64) -> Bool {
        var low = 0, high = values.count
        while low < high {
            let mid = (low + high) / 2
            if values[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < values.count && values[low] == value
    }

    /// Records a position mark as if a record had been stored at its offset.
    package func advance(to mark: PositionMark, key: String? = nil) {
        let bytes = Array((key ?? mark.source).utf8)
        let slot = bytes.withUnsafeBytes { position(key: $0, partition: mark.partition) }
        // A mark is not a record: it moves the position, it is not remembered as stored.
        if !isCommitted(slot, offset: mark.offset) {
            positions[slot].pending = max(positions[slot].pending ?? -1, mark.offset)
        }
    }

    /// Records that the record at `offset` is in this batch.
    @inline(__always)
    package func markPending(_ position: Int, offset: Int64) {
        positions[position].pending = max(positions[position].pending ?? -1, offset)
        if positions[position].batchSet != nil {
            positions[position].batchSet!.insert(offset)
        } else if let last = positions[position].batchOffsets.last, offset <= last {
            var set = Set(positions[position].batchOffsets)
            set.insert(offset)
            positions[position].batchSet = set
            positions[position].batchOffsets = []
        } else {
            positions[position].batchOffsets.append(offset)
        }
    }

    /// Writes one file per non-empty partition and commits them with the
    /// pending positions; then empties the batch (releasing its buffers).
    package func commit(operation: String, parameters: [String: String]) throws(StageError) -> Outcome {
        defer {
            partitions.removeAll()
            lastPartition = -1
            rows = 0
        }
        let hasPending = positions.contains { $0.pending != nil }
        guard rows > 0 || hasPending else { return .nothingToCommit }
        guard var writer = table else {
            for i in positions.indices {
                positions[i].pending = nil
                positions[i].batchOffsets.removeAll(keepingCapacity: true)
                positions[i].batchSet = nil
            }
            return .dryRun(files: partitions.filter { $0.columns[0].count > 0 }.count)
        }
        let outcome: DeltaCommitOutcome
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
            outcome = try writer.commit(adds, transactions: txns, info: DeltaCommitInfo(operation: operation, operationParameters: parameters))
            table = writer
        } catch {
            throw StageError(error)
        }
        for i in positions.indices where positions[i].pending != nil {
            positions[i].committed = max(positions[i].committed ?? -1, positions[i].pending!)
            positions[i].pending = nil
            positions[i].batchOffsets.removeAll(keepingCapacity: true)
            positions[i].batchSet = nil
        }
        switch outcome {
        case .committed(let version):
            return .committed(version: version)
        case .alreadyCommitted(let appID, let recorded, let tableVersion):
            return .alreadyCommitted(version: tableVersion,
                message: "another writer already recorded \(appID) up to offset \(recorded); this batch was not committed again")
        }
    }
}

/// Per-batch counters for the audit row and the batching thresholds.
struct BatchCounters {
    var inputRows = 0
    /// `_mark` lines forwarded in this batch (lines on stdout, not rows).
    var marks = 0
    var storedRows = 0
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

extension SinkOptions {
    /// Opens (or creates) a sink's table, or returns `nil` for a dry run.
    func openTable(_ subpath: String, schema: DeltaSchema, partitionColumns: [String], engine: String) throws(StageError) -> DeltaTableWriter? {
        if dryRun { return nil }
        var writeOptions = DeltaWriteOptions()
        writeOptions.parquet.compressionLevel = compressionLevel
        writeOptions.engineInfo = "medallion \(engine)/\(medallionCoreVersion)"
        do {
            return try DeltaTableWriter.openOrCreate(
                at: lakeRoot + "/" + subpath, schema: schema, partitionColumns: partitionColumns, options: writeOptions)
        } catch {
            throw StageError(error)
        }
    }

    /// Runs a batch's commit; when it fails, records the batch in the audit
    /// table as `failed` with the error (best effort: the audit table may be
    /// what failed), then rethrows, so an operator sees the failed batch
    /// next to the good ones.
    func auditingFailure<T>(_ audit: inout AuditWriter?, stage: String, batch: BatchCounters, batchID: String? = nil,
                            _ body: () throws(StageError) -> T) throws(StageError) -> T {
        do {
            return try body()
        } catch {
            if audit != nil {
                try? audit!.append(AuditRecord(
                    pipeline: pipeline, tenant: tenant, stage: stage,
                    batchID: batchID ?? "\(sinkID)@failed@\(batch.startedMicros)",
                    startedMicros: batch.startedMicros, endedMicros: wallClockMicros(),
                    inputRows: batch.inputRows, outputRows: 0, dlqRows: batch.dlqRows,
                    status: "failed", error: error.message, tableVersion: nil))
            }
            throw error
        }
    }

    /// Records one batch in the audit table (unless disabled or dry-running).
    func recordAudit(_ audit: inout AuditWriter?, stage: String, batch: BatchCounters, outcome: PartitionedBatch.Outcome,
                     batchID: String? = nil) throws(StageError) {
        guard audit != nil else { return }
        var version: Int64?
        var status = "committed"
        switch outcome {
        case .committed(let v): version = v
        case .alreadyCommitted(let v, _): version = v; status = "already_committed"
        case .dryRun: status = "dry_run"
        case .nothingToCommit: status = "nothing_new"
        }
        var note: String?
        if status == "committed", let limit = maxRejectRatio, batch.inputRows > 0 {
            let ratio = Double(batch.dlqRows) / Double(batch.inputRows)
            if ratio > limit {
                status = "flagged"
                note = "\(batch.dlqRows) of \(batch.inputRows) records rejected (\((ratio * 1000).rounded() / 10)%), above dlq.max_reject_ratio \(limit)"
                var w = JSONWriter.diagnostic(level: "warn", stage: stage, event: "reject_ratio_exceeded")
                w.key("msg"); w.string(note! + "; the batch is committed and flagged in the audit table")
                w.endObject()
                writeDiagnostic(w.bytes)
            }
        }
        do {
            try audit!.append(AuditRecord(
                pipeline: pipeline, tenant: tenant, stage: stage,
                batchID: batchID ?? version.map { "\(sinkID)@\($0)" } ?? "\(sinkID)@\(status)@\(batch.startedMicros)",
                startedMicros: batch.startedMicros, endedMicros: wallClockMicros(),
                inputRows: batch.inputRows, outputRows: batch.inputRows - batch.dlqRows, dlqRows: batch.dlqRows,
                status: status, error: note, tableVersion: version))
        } catch {
            throw StageError(error)
        }
    }
}

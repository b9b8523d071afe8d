import Foundation

/// Options for a Delta table writer.
package struct DeltaWriteOptions: Sendable {
    package var parquet = ParquetWriteOptions()
    /// How many lost commit races to ride over before giving up. Each retry costs one
    /// file read per winning commit, so a generous bound is cheap.
    package var maxCommitAttempts = 1000
    package var engineInfo = "medallion-lake/0.1"

    package init() {}
}

/// What happened to a commit.
package enum DeltaCommitOutcome: Sendable, Equatable {
    /// The actions are in the table as `version`.
    case committed(version: Int64)
    /// The table already records this batch: a commit holds a `txn` for `appId` at
    /// `recordedVersion` >= the batch's version. Nothing was written; the data files of
    /// this attempt are orphans (invisible; vacuum removes them).
    case alreadyCommitted(appId: String, recordedVersion: Int64, tableVersion: Int64)
}

/// Appends Parquet files to one Delta table with optimistic, race-safe commits.
///
/// Typical streaming use (bronze-sink, dlq-sink, audit):
/// ```
/// var table = try DeltaTableWriter.openOrCreate(at: path, schema: s, partitionColumns: ["tenant_id"])
/// if let done = table.transactionVersion(for: appId), done >= batch { skip }
/// var buffers = table.makeColumnBuffers(); ... append rows ...
/// let add = try table.writeDataFile(partitionValues: ["acme"], columns: buffers)
/// let outcome = try table.commit([add], transactions: [DeltaTransaction(appId: appId, version: batch)])
/// ```
/// The writer is a value: it holds the table path, the schema it writes, and a
/// snapshot of version / metadata / txns (no file list, so memory stays flat over
/// millions of commits). Separate processes or threads use separate writers;
/// the log's put-if-absent commits serialize them.
package struct DeltaTableWriter: Sendable {
    package let tablePath: String
    /// The schema this writer writes (data files hold its non-partition columns).
    package private(set) var schema: DeltaSchema
    package let partitionColumns: [String]
    /// Non-partition columns in schema order: one `ColumnBuffer` each, in this order.
    package private(set) var dataFields: [DeltaField]
    package private(set) var snapshot: DeltaSnapshot
    package let options: DeltaWriteOptions

    /// Opens the table at `tablePath`, creating it (version 0: protocol + metaData) if missing.
    ///
    /// - Parameters:
    ///   - createEagerly: commit version 0 right away (readers can open an empty table
    ///     immediately). With `false`, version 0 is written by the first ``commit(_:transactions:info:newSchema:)``
    ///     together with its files.
    /// - Throws: `.schemaMismatch` if an existing table's schema or partitioning differs
    ///   in a way this writer's files would violate.
    package static func openOrCreate(
        at tablePath: String, schema: DeltaSchema, partitionColumns: [String] = [],
        options: DeltaWriteOptions = DeltaWriteOptions(), createEagerly: Bool = true
    ) throws(LakeError) -> DeltaTableWriter {
        try schema.validate(tablePath: tablePath)
        for column in partitionColumns {
            guard let field = schema.field(named: column) else {
                throw LakeError(.invalidArgument, "Partition column '\(column)' is not in the schema; add it to the schema.", path: tablePath)
            }
            guard PartitionPath.isValidPartitionColumnName(column) else {
                throw LakeError(
                    .invalidArgument,
                    "Partition column '\(column)' must use only [A-Za-z0-9._-] and not start with '_' or '.', so its directory name is stable and visible to readers.",
                    path: tablePath)
            }
            if field.type == .binary {
                throw LakeError(.invalidArgument, "Partition column '\(column)' is binary; partition by a string instead.", path: tablePath)
            }
        }
        if Set(partitionColumns).count != partitionColumns.count {
            throw LakeError(.invalidArgument, "A partition column is listed twice.", path: tablePath)
        }
        let snapshot = try DeltaSnapshot.load(tablePath: tablePath, trackFiles: false)
        var writer = DeltaTableWriter(
            tablePath: tablePath, schema: schema, partitionColumns: partitionColumns,
            dataFields: schema.fields.filter { !partitionColumns.contains($0.name) },
            snapshot: snapshot, options: options)
        if snapshot.exists {
            try writer.checkCompatible()
        } else {
            try FileIO.makeDirectories(DeltaLog.directory(tablePath))
            if createEagerly {
                _ = try writer.commit([], info: DeltaCommitInfo(operation: "CREATE TABLE", operationParameters: [:]))
            }
        }
        return writer
    }

    private init(
        tablePath: String, schema: DeltaSchema, partitionColumns: [String], dataFields: [DeltaField],
        snapshot: DeltaSnapshot, options: DeltaWriteOptions
    ) {
        self.tablePath = tablePath
        self.schema = schema
        self.partitionColumns = partitionColumns
        self.dataFields = dataFields
        self.snapshot = snapshot
        self.options = options
    }

    /// Latest committed table version known to this writer (-1 before creation).
    package var version: Int64 { snapshot.version }

    /// Latest `txn.version` recorded for `appId` (as of the last open/commit/refresh).
    package func transactionVersion(for appId: String) -> Int64? { snapshot.transactionVersion(for: appId) }

    /// Catches up with commits made by other writers.
    package mutating func refresh() throws(LakeError) {
        try snapshot.update()
        if snapshot.exists { try checkCompatible() }
    }

    /// Empty buffers for the data columns, in the order ``writeDataFile(partitionValues:columns:)`` expects.
    package func makeColumnBuffers() -> [ColumnBuffer] {
        dataFields.map { ColumnBuffer(type: $0.type, nullable: $0.nullable) }
    }

    // MARK: data files

    /// Writes one Parquet file for one partition and returns its (uncommitted) add action.
    ///
    /// - Parameters:
    ///   - partitionValues: one canonical string per partition column, in order
    ///     (date `YYYY-MM-DD`, numbers in decimal); nil or "" means null.
    ///   - columns: one buffer per ``dataFields`` entry.
    package func writeDataFile(partitionValues: [String?], columns: [ColumnBuffer]) throws(LakeError) -> DeltaAddAction {
        let file = try openDataFile(partitionValues: partitionValues)
        try file.write(columns)
        return try file.finish()
    }

    /// Starts a Parquet file for one partition that can take several row groups, so a
    /// large partition streams through bounded buffers.
    package func openDataFile(partitionValues: [String?]) throws(LakeError) -> DeltaDataFileWriter {
        guard partitionValues.count == partitionColumns.count else {
            throw LakeError(
                .invalidArgument,
                "Got \(partitionValues.count) partition values for partition columns [\(partitionColumns.joined(separator: ", "))]; pass one value (or nil) per column.",
                path: tablePath)
        }
        for (column, value) in zip(partitionColumns, partitionValues) {
            guard let value = PartitionPath.normalize(value), let type = schema.field(named: column)?.type else { continue }
            if let problem = PartitionPath.formatProblem(value, type: type) {
                throw LakeError(
                    .invalidArgument,
                    "Partition column '\(column)' is \(type.deltaName) but \(problem); readers would reject the table.",
                    path: tablePath)
            }
        }
        let directory = PartitionPath.directory(columns: partitionColumns, values: partitionValues)
        let name = "part-00000-" + UUID().uuidString.lowercased() + ".c000.zstd.parquet"
        let relative = directory.isEmpty ? name : directory + "/" + name
        if !directory.isEmpty { try FileIO.makeDirectories(tablePath + "/" + directory) }
        let parquet = try ParquetFileWriter(path: tablePath + "/" + relative, fields: dataFields, options: options.parquet)
        return DeltaDataFileWriter(
            parquet: parquet, logPath: PartitionPath.uriEncode(relative),
            partitionValues: zip(partitionColumns, partitionValues).map { PartitionValue($0, PartitionPath.normalize($1)) })
    }

    // MARK: commits

    /// Atomically commits `adds` and `transactions` as the next table version.
    ///
    /// Losing a race is normal: the writer reads the winning commit(s) and retries at
    /// the next version. Blind appends never fail that way. If a winner recorded one of
    /// `transactions` at the same or a higher version, nothing is written and
    /// `.alreadyCommitted` is returned. If two writers create the table at once, the
    /// loser checks the winner's schema and partitioning, then appends after it.
    ///
    /// - Parameters:
    ///   - newSchema: schema evolution; may only add nullable columns. It is written as a
    ///     new `metaData` (same table id) and becomes this writer's schema.
    /// - Throws: `.commitConflict` when a concurrent metadata change makes the append
    ///   unsafe, `.schemaMismatch`, `.io`.
    package mutating func commit(
        _ adds: [DeltaAddAction], transactions: [DeltaTransaction] = [], info: DeltaCommitInfo = DeltaCommitInfo(),
        newSchema: DeltaSchema? = nil, removes: [DeltaAddAction] = []
    ) throws(LakeError) -> DeltaCommitOutcome {
        var seenApps: Set<String> = []
        for txn in transactions where !seenApps.insert(txn.appId).inserted {
            throw LakeError(.invalidArgument, "Two txn actions for appId '\(txn.appId)' in one commit; pass at most one per appId.", path: tablePath)
        }
        if let newSchema {
            try newSchema.validate(tablePath: tablePath)
            if let problem = (snapshot.schema ?? schema).evolutionProblem(to: newSchema) {
                throw LakeError(.schemaMismatch, "Cannot evolve the schema: \(problem).", path: tablePath)
            }
        }
        if let duplicate = alreadyRecorded(transactions, in: snapshot.transactions) { return duplicate }
        // A commit that would only create the table is satisfied by whoever creates it first.
        let onlyCreates = !snapshot.exists && adds.isEmpty && transactions.isEmpty

        var attempt = snapshot.version + 1
        for _ in 0..<options.maxCommitAttempts {
            let creating = !snapshot.exists
            var lines: [String] = []
            let now = FileIO.nowMillis()
            let metadata = try metadataToWrite(creating: creating, newSchema: newSchema, now: now)
            lines.append(info.jsonLine(
                timestamp: now, engineInfo: options.engineInfo, isBlindAppend: metadata == nil && !creating && removes.isEmpty))
            if creating { lines.append(DeltaProtocolVersions.medallion.jsonLine) }
            if let metadata { lines.append(metadata.jsonLine) }
            for txn in transactions {
                var stamped = txn
                if stamped.lastUpdated == nil { stamped.lastUpdated = now }
                lines.append(stamped.jsonLine)
            }
            for remove in removes { lines.append(remove.removeJSONLine(deletionTimestamp: now)) }
            for add in adds { lines.append(add.jsonLine) }
            let contents = lines.joined(separator: "\n") + "\n"

            if try DeltaLog.putIfAbsent(tablePath: tablePath, version: attempt, contents: contents) {
                var own: [DeltaLogAction] = []
                if creating { own.append(.protocolVersions(.medallion)) }
                if let metadata { own.append(.metadata(metadata)) }
                own += transactions.map { .txn($0) }
                own += removes.map { .remove(path: $0.path) }
                own += adds.map { .add($0) }
                try snapshot.apply(own, version: attempt)
                if let newSchema {
                    schema = newSchema
                    dataFields = newSchema.fields.filter { !partitionColumns.contains($0.name) }
                }
                return .committed(version: attempt)
            }
            // Lost the race for `attempt`: replay every commit that landed since, re-validate.
            while let winner = try DeltaLog.readCommit(tablePath: tablePath, version: snapshot.version + 1) {
                try snapshot.apply(winner, version: snapshot.version + 1)
                if winner.contains(where: { if case .metadata = $0 { return true } else { return false } })
                    || winner.contains(where: { if case .protocolVersions = $0 { return true } else { return false } })
                {
                    try checkCompatible()
                    if let newSchema, let current = snapshot.schema, current != newSchema,
                        let problem = current.evolutionProblem(to: newSchema)
                    {
                        throw LakeError(
                            .commitConflict,
                            "Another writer changed the table schema concurrently, and our schema change no longer applies: \(problem). Re-open the table and retry.",
                            path: tablePath)
                    }
                }
                // Our removes must still be live: a winner that removed one of them (a
                // concurrent rewrite) would leave both rewrites' files live, rows twice.
                if !removes.isEmpty {
                    let ours = Set(removes.map(\.path))
                    if winner.contains(where: { if case .remove(let path) = $0 { return ours.contains(path) } else { return false } }) {
                        throw LakeError(
                            .commitConflict,
                            "Another writer removed files this commit removes (a concurrent rewrite); re-read the table and retry.",
                            path: tablePath)
                    }
                }
                if let duplicate = alreadyRecorded(transactions, in: snapshot.transactions) { return duplicate }
            }
            if onlyCreates && newSchema == nil { return .committed(version: snapshot.version) }
            attempt = snapshot.version + 1
        }
        throw LakeError(
            .commitConflict,
            "Gave up after losing \(options.maxCommitAttempts) commit races in a row; too many concurrent writers on one table.",
            path: tablePath)
    }

    /// The metaData line this commit must carry: the full one when creating the table,
    /// an updated one for schema evolution, none for a plain append.
    private func metadataToWrite(creating: Bool, newSchema: DeltaSchema?, now: Int64) throws(LakeError) -> DeltaMetadata? {
        if creating {
            return DeltaMetadata(
                id: UUID().uuidString.lowercased(), schema: newSchema ?? schema, partitionColumns: partitionColumns,
                configuration: [:], createdTime: now)
        }
        guard let newSchema, var current = snapshot.metadata else { return nil }
        if current.schema == newSchema { return nil }  // someone else already applied it
        current.schema = newSchema
        current.rawSchemaString = nil
        return current
    }

    private func alreadyRecorded(_ transactions: [DeltaTransaction], in recorded: [String: Int64]) -> DeltaCommitOutcome? {
        for txn in transactions {
            if let done = recorded[txn.appId], done >= txn.version {
                return .alreadyCommitted(appId: txn.appId, recordedVersion: done, tableVersion: snapshot.version)
            }
        }
        return nil
    }

    /// Checks that files written with this writer's schema and partitioning are valid
    /// in the table as it is now.
    private func checkCompatible() throws(LakeError) {
        guard let metadata = snapshot.metadata else { return }
        if metadata.partitionColumns != partitionColumns {
            throw LakeError(
                .schemaMismatch,
                "The table is partitioned by [\(metadata.partitionColumns.joined(separator: ", "))] but this writer partitions by [\(partitionColumns.joined(separator: ", "))]; use the table's partitioning or another table path.",
                path: tablePath)
        }
        if let problem = schema.incompatibility(writingInto: metadata.schema) {
            throw LakeError(.schemaMismatch, "The writer's schema does not fit the table: \(problem).", path: tablePath)
        }
        if let p = snapshot.protocolVersions, !p.writerSupported {
            throw LakeError(
                .unsupported,
                "The table needs writer protocol \(p.minWriterVersion); this writer implements version 2 only. Do not enable table features on medallion tables.",
                path: tablePath)
        }
    }
}

/// A data file being written for one partition; ``finish()`` publishes it and returns
/// the add action to pass to ``DeltaTableWriter/commit(_:transactions:info:newSchema:)``.
///
/// A class (a deliberate owner of an open file), not a `~Copyable` struct, so a sink
/// can keep one per partition in a dictionary. Dropping it unfinished deletes the
/// temp file; it is not thread-safe (one sink thread owns it).
package final class DeltaDataFileWriter {
    private var parquet: ParquetFileWriter?
    /// Path as it will appear in the log.
    package let logPath: String
    package let partitionValues: [PartitionValue]
    package let fields: [DeltaField]

    init(parquet: consuming ParquetFileWriter, logPath: String, partitionValues: [PartitionValue]) {
        self.fields = parquet.fields
        self.parquet = consume parquet
        self.logPath = logPath
        self.partitionValues = partitionValues
    }

    /// Writes one batch of rows (one or more row groups). See ``ParquetFileWriter/write(_:)``.
    package func write(_ columns: [ColumnBuffer]) throws(LakeError) {
        guard parquet != nil else {
            throw LakeError(.invalidArgument, "write() after finish(); open a new data file.", path: logPath)
        }
        try parquet!.write(columns)
    }

    /// Finishes the Parquet file and builds its add action with exact size and stats.
    package func finish() throws(LakeError) -> DeltaAddAction {
        guard let file = parquet.take() else {
            throw LakeError(.invalidArgument, "finish() called twice; each data file is finished once.", path: logPath)
        }
        let summary = try file.finish()
        return DeltaAddAction(
            path: logPath, partitionValues: partitionValues, size: summary.sizeBytes,
            modificationTime: FileIO.nowMillis(), dataChange: true,
            stats: DeltaStats.json(numRecords: summary.numRows, fields: fields, statistics: summary.columnStatistics),
            numRecords: summary.numRows)
    }
}

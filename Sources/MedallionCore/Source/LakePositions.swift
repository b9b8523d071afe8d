import Foundation

/// The positions a sink has durably stored for one source, read back from the
/// `txn` actions of its Delta table.
///
/// Sinks record, in the same commit as the rows, one `txn` per position key
/// with appId `<sink-id>|<source>|<partition>` and version = the highest
/// offset stored (see `PartitionedBatch`). A source restarted with
/// `--resume-from-lake` starts each partition right after that offset: the
/// records lost in a pipe when the pipeline died are read again, the ones
/// already stored are not.
package struct LakePositions: Sendable, Equatable {
    /// Highest stored offset per partition.
    package var offsets: [Int64: Int64]

    package init(offsets: [Int64: Int64] = [:]) { self.offsets = offsets }

    /// The table a lake root's Bronze sink writes.
    package static func bronzeTable(lakeRoot: String) -> String { "\(lakeRoot)/\(BronzeSink.tableSubpath)" }

    /// Reads the positions of `source` from a table's `txn` actions.
    ///
    /// - Parameters:
    ///   - sinkID: only this sink's txns; `nil` takes every sink that wrote the
    ///     table and keeps the highest offset per partition (rows are in the
    ///     table whichever sink stored them).
    /// - Returns: empty offsets when the table does not exist yet.
    /// - Throws: `StageError` naming the table when its log cannot be read.
    package static func load(table: String, source: String, sinkID: String?) throws(StageError) -> LakePositions {
        LakePositions(transactions: try transactions(of: table), source: source, sinkID: sinkID)
    }

    /// A table's latest `txn` version per appId (empty when the table does not exist yet).
    static func transactions(of table: String) throws(StageError) -> [String: Int64] {
        do {
            return try DeltaSnapshot.load(tablePath: table, trackFiles: false).transactions
        } catch {
            throw StageError(.config, "--resume-from-lake: cannot read the positions in '\(table)': \(error.description)")
        }
    }

    /// Picks `<sink>|<source>|<partition>` appIds out of a table's txn versions.
    package init(transactions: [String: Int64], source: String, sinkID: String?) {
        offsets = [:]
        let suffixMark = "|\(source)|"
        for (appID, version) in transactions {
            guard let bar = appID.lastIndex(of: "|"), let partition = Int64(appID[appID.index(after: bar)...]) else { continue }
            let head = appID[...bar]  // "<sink>|<source>|"
            guard head.hasSuffix(suffixMark) else { continue }
            let sink = head.dropLast(suffixMark.count)
            if let sinkID, sink != sinkID { continue }
            offsets[partition] = max(offsets[partition] ?? -1, version)
        }
    }

    /// The lowest stored offset per partition across several tables (a
    /// partition missing from one table is missing from the result: that
    /// table has stored nothing of it, so it starts from the configured start).
    package static func lowest(_ all: [LakePositions]) -> LakePositions {
        guard var result = all.first else { return LakePositions() }
        for other in all.dropFirst() {
            var merged: [Int64: Int64] = [:]
            for (partition, offset) in result.offsets {
                if let theirs = other.offsets[partition] { merged[partition] = min(offset, theirs) }
            }
            result.offsets = merged
        }
        return result
    }

    /// The start of a pipeline's sinks: a sink that holds any position of the
    /// source is active; for every partition an active sink knows, the lowest
    /// position among the active sinks, where an active sink without one for
    /// that partition counts as `-1` (it may have lost that partition's
    /// records in a pipe: read it from the beginning). Sinks that hold nothing
    /// of the source (a DLQ stream that never opened) do not count.
    ///
    /// Position marks give every active sink a position for every partition the
    /// source emitted, so in practice the result is the slowest sink's.
    package static func lowestOfActive(_ all: [LakePositions]) -> LakePositions {
        let active = all.filter { !$0.offsets.isEmpty }
        var partitions: Set<Int64> = []
        for positions in active { partitions.formUnion(positions.offsets.keys) }
        var result: [Int64: Int64] = [:]
        for partition in partitions {
            result[partition] = active.map { $0.offsets[partition] ?? -1 }.min()
        }
        return LakePositions(offsets: result)
    }

    /// The Delta tables under a lake root whose sinks record positions of
    /// source records: `bronze/events` and every `silver/<event_type>` (the
    /// DLQ table, keyed per stage, is read by `pipeline`).
    package static func pipelineTables(lakeRoot: String) -> [String] {
        var tables = [bronzeTable(lakeRoot: lakeRoot)]
        let silver = lakeRoot + "/silver"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: silver)) ?? []).sorted()
        where FileManager.default.fileExists(atPath: "\(silver)/\(name)/_delta_log") {
            tables.append("\(silver)/\(name)")
        }
        return tables
    }

    /// Where a pipeline writing under `lakeRoot` has stored `source` up to:
    /// per partition, the lowest position among its sinks (Bronze, each
    /// Silver table, each stage's DLQ stream; see `lowestOfActive`), so that
    /// records a downstream stage lost in a pipe are read again. `sinkID`
    /// filters Bronze's txns only; the other tables count whichever sink wrote them.
    package static func pipeline(lakeRoot: String, source: String, sinkID: String?) throws(StageError) -> LakePositions {
        var all: [LakePositions] = []
        for (i, table) in pipelineTables(lakeRoot: lakeRoot).enumerated() {
            if i == 0, let sinkID {
                all.append(try load(table: table, source: source, sinkID: sinkID))
                continue
            }
            // Each sink of a table is a sink of its own (per-tenant Silver instances share tables).
            all += Array(perSink(transactions: try transactions(of: table), source: source).values)
        }
        let dlq = "\(lakeRoot)/\(DLQSink.tableSubpath)"
        if FileManager.default.fileExists(atPath: "\(dlq)/_delta_log") {
            all += Array(perStage(transactions: try transactions(of: dlq), source: source).values)
        }
        return lowestOfActive(all)
    }

    /// A table's positions of `source`, one set per sink id (appId `<sink>|<source>|<partition>`).
    package static func perSink(transactions: [String: Int64], source: String) -> [String: LakePositions] {
        var result: [String: LakePositions] = [:]
        let suffixMark = "|\(source)|"
        for (appID, version) in transactions {
            guard let bar = appID.lastIndex(of: "|"), let partition = Int64(appID[appID.index(after: bar)...]) else { continue }
            let head = appID[...bar]
            guard head.hasSuffix(suffixMark) else { continue }
            let sink = String(head.dropLast(suffixMark.count))
            result[sink, default: LakePositions()].offsets[partition] = max(result[sink]?.offsets[partition] ?? -1, version)
        }
        return result
    }

    /// The DLQ table's positions of `source`, one set per stage whose stream
    /// dlq-sink stored (appId `<sink>|<stage>/<source>|<partition>`): each
    /// stage's DLQ stream is a sink of its own, advanced by its rejects and
    /// by the position marks the stage copies into it.
    package static func perStage(transactions: [String: Int64], source: String) -> [String: LakePositions] {
        var result: [String: LakePositions] = [:]
        let suffix = "/\(source)"
        for (appID, version) in transactions {
            guard let first = appID.firstIndex(of: "|"), let last = appID.lastIndex(of: "|"), first < last,
                  let partition = Int64(appID[appID.index(after: last)...]) else { continue }
            let key = appID[appID.index(after: first)..<last]  // "<stage>/<source>"
            guard key.hasSuffix(suffix) else { continue }
            let stage = String(key.dropLast(suffix.count))
            guard !stage.isEmpty, !stage.contains("/") else { continue }
            result[stage, default: LakePositions()].offsets[partition] = max(result[stage]?.offsets[partition] ?? -1, version)
        }
        return result
    }
}

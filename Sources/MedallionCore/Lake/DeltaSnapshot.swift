/// The state of a Delta table at one version, rebuilt by replaying its JSON commits.
///
/// Replay follows the protocol: versions in order and contiguous from 0; the latest
/// `protocol` and `metaData` win (so a later schema-evolution commit is picked up);
/// per path the latest add/remove wins; per appId the latest `txn` wins.
/// Checkpoints are not read: medallion does not write them and keeps all JSON, so
/// a log that no longer starts at version 0 is reported as unsupported.
package struct DeltaSnapshot: Sendable {
    package let tablePath: String
    /// -1 when the table has no commits yet.
    package private(set) var version: Int64 = -1
    package private(set) var protocolVersions: DeltaProtocolVersions?
    package private(set) var metadata: DeltaMetadata?
    /// Latest `txn.version` per appId.
    package private(set) var transactions: [String: Int64] = [:]
    /// Live files keyed by their log path; empty when loaded with `trackFiles: false`.
    package private(set) var files: [String: DeltaAddAction] = [:]
    /// Long-running writers skip file tracking: they only need version, schema and txns.
    package let tracksFiles: Bool

    package init(emptyAt tablePath: String, trackFiles: Bool = true) {
        self.tablePath = tablePath
        self.tracksFiles = trackFiles
    }

    package var exists: Bool { version >= 0 }
    package var schema: DeltaSchema? { metadata?.schema }
    package var partitionColumns: [String] { metadata?.partitionColumns ?? [] }

    /// Live data files sorted by path, for deterministic iteration.
    package var liveFiles: [DeltaAddAction] { files.values.sorted { $0.path < $1.path } }

    /// Total rows over live files, when every file carries `numRecords`.
    package var numRecords: Int64? {
        var total: Int64 = 0
        for file in files.values {
            guard let n = file.numRecords else { return nil }
            total += n
        }
        return total
    }

    /// Latest committed `txn.version` for `appId`, or nil if it never committed.
    package func transactionVersion(for appId: String) -> Int64? { transactions[appId] }

    /// Loads the latest snapshot of the table at `tablePath`.
    ///
    /// - Returns: a snapshot with `version == -1` if the table does not exist yet.
    /// - Throws: `.corruptLog` for gaps or bad JSON, `.unsupported` for checkpoint-only logs.
    package static func load(tablePath: String, trackFiles: Bool = true) throws(LakeError) -> DeltaSnapshot {
        var snapshot = DeltaSnapshot(emptyAt: tablePath, trackFiles: trackFiles)
        guard let versions = try DeltaLog.listVersions(tablePath: tablePath), !versions.isEmpty else {
            return snapshot
        }
        if versions[0] != 0 {
            throw LakeError(
                .unsupported,
                "The log starts at version \(versions[0]); older commits were removed behind a checkpoint, which this reader cannot read. Keep all JSON commits for tables medallion writes.",
                path: DeltaLog.directory(tablePath))
        }
        for (expected, version) in versions.enumerated() where Int64(expected) != version {
            throw LakeError(
                .corruptLog, "Commit \(expected) is missing (found \(version) after it); the log has a gap and cannot be replayed.",
                path: DeltaLog.directory(tablePath))
        }
        for version in versions {
            guard let actions = try DeltaLog.readCommit(tablePath: tablePath, version: version) else {
                throw LakeError(.corruptLog, "Commit \(version) vanished while reading the log.", path: DeltaLog.commitPath(tablePath, version))
            }
            try snapshot.apply(actions, version: version)
        }
        return snapshot
    }

    /// Advances this snapshot by one commit (which must be the next version).
    mutating func apply(_ actions: [DeltaLogAction], version newVersion: Int64) throws(LakeError) {
        precondition(newVersion == version + 1, "commits must be applied in order")
        var sawProtocol = false, sawMetadata = false
        for action in actions {
            switch action {
            case .protocolVersions(let p):
                protocolVersions = p
                sawProtocol = true
            case .metadata(let m):
                metadata = m
                sawMetadata = true
            case .add(let add):
                if tracksFiles { files[add.path] = add }
            case .remove(let path):
                if tracksFiles { files[path] = nil }
            case .txn(let txn):
                transactions[txn.appId] = txn.version
            case .ignored:
                break
            }
        }
        if newVersion == 0 && (!sawProtocol || !sawMetadata) {
            throw LakeError(
                .corruptLog, "Version 0 must contain both protocol and metaData; this directory is not a valid Delta table.",
                path: DeltaLog.commitPath(tablePath, 0))
        }
        version = newVersion
    }

    /// Re-reads commits newer than `version` (cheap: one open per new commit).
    package mutating func update() throws(LakeError) {
        while let actions = try DeltaLog.readCommit(tablePath: tablePath, version: version + 1) {
            try apply(actions, version: version + 1)
        }
    }
}

import Foundation
import Glibc

/// The `_delta_log` directory: naming, atomic put-if-absent commits, and parsing.
///
/// A commit is claimed with `link(tmp, "%020d.json")`: `link` fails with EEXIST
/// instead of overwriting, and the linked file is already complete and fsynced,
/// so a reader never sees a partial commit and two writers never share a version
/// (spec §1.7; `rename` would overwrite, `O_EXCL`+write would expose a partial file).
enum DeltaLog {
    static func directory(_ tablePath: String) -> String { tablePath + "/_delta_log" }

    static func commitFileName(_ version: Int64) -> String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".json"
    }

    static func commitPath(_ tablePath: String, _ version: Int64) -> String {
        directory(tablePath) + "/" + commitFileName(version)
    }

    /// The version of a commit file name (`00000000000000000012.json`), else nil.
    static func version(ofCommitFile name: String) -> Int64? {
        let utf8 = name.utf8
        guard utf8.count == 25, name.hasSuffix(".json") else { return nil }
        let digits = utf8.prefix(20)
        guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(String(decoding: digits, as: UTF8.self))
    }

    /// Tries to publish `contents` as `version`. Returns false if another writer already
    /// holds that version (the caller must catch up and retry); throws on I/O failure.
    static func putIfAbsent(tablePath: String, version: Int64, contents: String) throws(LakeError) -> Bool {
        let logDir = directory(tablePath)
        let temp = logDir + "/_commit_" + UUID().uuidString.lowercased() + ".json.tmp"
        try FileIO.writeNewFile(temp, Array(contents.utf8))
        let target = commitPath(tablePath, version)
        let linked = link(temp, target)
        let linkErrno = errno
        unlink(temp)
        if linked != 0 {
            if linkErrno == EEXIST { return false }
            throw LakeError(
                .io, "Could not publish commit \(version); the _delta_log directory must be on a local file system that supports hard links.",
                path: target, cause: FileIO.errnoText(linkErrno))
        }
        try FileIO.syncDirectory(logDir)
        return true
    }

    /// Sorted commit versions present in `_delta_log`, or nil if there is no log directory.
    static func listVersions(tablePath: String) throws(LakeError) -> [Int64]? {
        guard let names = try FileIO.listDirectory(directory(tablePath)) else { return nil }
        return names.compactMap(version(ofCommitFile:)).sorted()
    }

    /// Reads and parses one commit, or returns nil if that version does not exist (yet).
    static func readCommit(tablePath: String, version: Int64) throws(LakeError) -> [DeltaLogAction]? {
        let path = commitPath(tablePath, version)
        guard let bytes = try FileIO.readFileIfExists(path) else { return nil }
        return try parseCommit(bytes, path: path)
    }

    struct JSONParseFailure: Error { var text: String }

    /// The only call into `JSONSerialization` in the Lake: commits are small and read
    /// rarely (on open and after losing a race), so Foundation's parser is fine here and
    /// isolated so it can be swapped for the core's own JSON scanner later.
    static func parseJSON(_ bytes: some Collection<UInt8>) -> Result<Any, JSONParseFailure> {
        do {
            return .success(try JSONSerialization.jsonObject(with: Data(bytes), options: []))
        } catch {
            return .failure(JSONParseFailure(text: "\(error)"))
        }
    }

    /// Parses an NDJSON commit into actions.
    static func parseCommit(_ bytes: [UInt8], path: String) throws(LakeError) -> [DeltaLogAction] {
        var actions: [DeltaLogAction] = []
        var lineNumber = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            let object: Any
            switch parseJSON(line) {
            case .success(let value): object = value
            case .failure(let reason):
                throw LakeError(.corruptLog, "Commit line \(lineNumber) is not valid JSON; the log was written by a broken writer or edited by hand.", path: path, cause: reason.text)
            }
            guard let dict = object as? [String: Any], dict.count == 1, let (kind, body) = dict.first else {
                throw LakeError(.corruptLog, "Commit line \(lineNumber) must be a JSON object with exactly one key.", path: path)
            }
            actions.append(try parseAction(kind: kind, body: body, path: path, line: lineNumber))
        }
        return actions
    }

    private static func parseAction(kind: String, body: Any, path: String, line: Int) throws(LakeError) -> DeltaLogAction {
        func bad(_ what: String) -> LakeError {
            LakeError(.corruptLog, "Commit line \(line): \(kind) \(what).", path: path)
        }
        guard let fields = body as? [String: Any] else {
            if kind == "commitInfo" { return .ignored }
            throw bad("is not an object")
        }
        switch kind {
        case "protocol":
            guard let r = int64(fields["minReaderVersion"]), let w = int64(fields["minWriterVersion"]) else {
                throw bad("lacks minReaderVersion/minWriterVersion")
            }
            return .protocolVersions(DeltaProtocolVersions(minReaderVersion: Int(r), minWriterVersion: Int(w)))
        case "metaData":
            guard let id = fields["id"] as? String, let schemaString = fields["schemaString"] as? String else {
                throw bad("lacks id or schemaString")
            }
            let partitionColumns = fields["partitionColumns"] as? [String] ?? []
            let configuration = (fields["configuration"] as? [String: Any])?.compactMapValues { $0 as? String } ?? [:]
            var metadata = DeltaMetadata(
                id: id, schema: try parseSchema(schemaString, path: path), partitionColumns: partitionColumns,
                configuration: configuration, createdTime: int64(fields["createdTime"]))
            metadata.rawSchemaString = schemaString
            return .metadata(metadata)
        case "add":
            guard let p = fields["path"] as? String, let size = int64(fields["size"]) else {
                throw bad("lacks path or size")
            }
            let values = (fields["partitionValues"] as? [String: Any] ?? [:])
                .map { PartitionValue($0.key, $0.value as? String) }
                .sorted { $0.column < $1.column }
            let stats = fields["stats"] as? String
            return .add(DeltaAddAction(
                path: p, partitionValues: values, size: size,
                modificationTime: int64(fields["modificationTime"]) ?? 0,
                dataChange: fields["dataChange"] as? Bool ?? true, stats: stats,
                numRecords: stats.flatMap(numRecords(inStats:))))
        case "remove":
            guard let p = fields["path"] as? String else { throw bad("lacks path") }
            return .remove(path: p)
        case "txn":
            guard let appId = fields["appId"] as? String, let version = int64(fields["version"]) else {
                throw bad("lacks appId or version")
            }
            return .txn(DeltaTransaction(appId: appId, version: version, lastUpdated: int64(fields["lastUpdated"])))
        default:
            return .ignored
        }
    }

    private static func int64(_ value: Any?) -> Int64? {
        if let n = value as? NSNumber { return n.int64Value }
        return nil
    }

    private static func numRecords(inStats stats: String) -> Int64? {
        guard case .success(let value) = parseJSON(stats.utf8), let object = value as? [String: Any] else {
            return nil
        }
        return int64(object["numRecords"])
    }

    /// Parses a Spark StructType schemaString with flat primitive fields.
    static func parseSchema(_ text: String, path: String) throws(LakeError) -> DeltaSchema {
        guard case .success(let value) = parseJSON(text.utf8), let object = value as? [String: Any],
            let rawFields = object["fields"] as? [[String: Any]]
        else {
            throw LakeError(.corruptLog, "metaData.schemaString is not a StructType JSON object.", path: path)
        }
        var fields: [DeltaField] = []
        for raw in rawFields {
            guard let name = raw["name"] as? String else {
                throw LakeError(.corruptLog, "A schema field has no name.", path: path)
            }
            guard let typeName = raw["type"] as? String, let type = DeltaType(rawValue: typeName) else {
                throw LakeError(
                    .unsupported,
                    "Column '\(name)' has type \(raw["type"].map { "\($0)" } ?? "?"), which the Lake writer does not support (only flat string/integer/long/double/boolean/date/timestamp/binary).",
                    path: path)
            }
            fields.append(DeltaField(name, type, nullable: raw["nullable"] as? Bool ?? true))
        }
        return DeltaSchema(fields)
    }
}

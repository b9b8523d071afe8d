/// The `_delta_log` actions medallion writes and reads, with their exact JSON form.
///
/// Each `jsonLine` is one NDJSON line with exactly one top-level key. The shapes
/// follow spec §1.2–1.6; the required keys readers insist on are always present.

/// `protocol`: medallion writes (1, 2), which needs no table features.
package struct DeltaProtocolVersions: Sendable, Equatable {
    package var minReaderVersion: Int
    package var minWriterVersion: Int

    package static let medallion = DeltaProtocolVersions(minReaderVersion: 1, minWriterVersion: 2)

    package init(minReaderVersion: Int, minWriterVersion: Int) {
        self.minReaderVersion = minReaderVersion
        self.minWriterVersion = minWriterVersion
    }

    /// Whether this writer may append to a table with this protocol. Writer v2 only
    /// obliges us to honour `delta.appendOnly` (we only append) and invariants (none).
    package var writerSupported: Bool { minWriterVersion <= 2 }

    var jsonLine: String {
        "{\"protocol\":{\"minReaderVersion\":\(minReaderVersion),\"minWriterVersion\":\(minWriterVersion)}}"
    }
}

/// `metaData`: the table's identity, schema and partitioning.
package struct DeltaMetadata: Sendable, Equatable {
    package var id: String
    package var schema: DeltaSchema
    package var partitionColumns: [String]
    package var configuration: [String: String]
    package var createdTime: Int64?
    /// The schemaString as read from the log (kept so a rewrite is byte-identical); nil for new metadata.
    package var rawSchemaString: String?

    package init(
        id: String, schema: DeltaSchema, partitionColumns: [String], configuration: [String: String] = [:],
        createdTime: Int64? = nil
    ) {
        self.id = id
        self.schema = schema
        self.partitionColumns = partitionColumns
        self.configuration = configuration
        self.createdTime = createdTime
        self.rawSchemaString = nil
    }

    var jsonLine: String {
        var json = JSONText()
        json.beginObject()
        json.key("metaData")
        json.beginObject()
        json.key("id")
        json.string(id)
        json.key("format")
        json.raw("{\"provider\":\"parquet\",\"options\":{}}")
        json.key("schemaString")
        json.string(schema.schemaString)
        json.key("partitionColumns")
        json.beginArray()
        for column in partitionColumns { json.string(column) }
        json.endArray()
        json.key("configuration")
        json.beginObject()
        for (key, value) in configuration.sorted(by: { $0.key < $1.key }) {
            json.key(key)
            json.string(value)
        }
        json.endObject()
        if let createdTime {
            json.key("createdTime")
            json.int(createdTime)
        }
        json.endObject()
        json.endObject()
        return json.text
    }
}

/// One partition column's value for a data file; nil means null.
package struct PartitionValue: Sendable, Equatable {
    package var column: String
    package var value: String?

    package init(_ column: String, _ value: String?) {
        self.column = column
        self.value = value
    }
}

/// `add`: one data file that becomes part of the table when its commit lands.
package struct DeltaAddAction: Sendable, Equatable {
    /// The relative path exactly as written in the log (URI-encoded once more than the
    /// directory). A later `remove` must repeat these bytes exactly.
    package var path: String
    /// One entry per partition column, in partition column order. Empty strings are null.
    package var partitionValues: [PartitionValue]
    /// Exact file size in bytes.
    package var size: Int64
    package var modificationTime: Int64
    package var dataChange: Bool
    /// The stats JSON *text* (it is embedded as a JSON string), or nil for none.
    package var stats: String?
    /// Rows in the file when known (always for files we write).
    package var numRecords: Int64?

    package init(
        path: String, partitionValues: [PartitionValue], size: Int64, modificationTime: Int64,
        dataChange: Bool = true, stats: String? = nil, numRecords: Int64? = nil
    ) {
        self.path = path
        self.partitionValues = partitionValues
        self.size = size
        self.modificationTime = modificationTime
        self.dataChange = dataChange
        self.stats = stats
        self.numRecords = numRecords
    }

    var jsonLine: String {
        var json = JSONText()
        json.beginObject()
        json.key("add")
        json.beginObject()
        json.key("path")
        json.string(path)
        writePartitionValues(to: &json)
        json.key("size")
        json.int(size)
        json.key("modificationTime")
        json.int(modificationTime)
        json.key("dataChange")
        json.bool(dataChange)
        if let stats {
            json.key("stats")
            json.string(stats)
        }
        json.endObject()
        json.endObject()
        return json.text
    }
}

extension DeltaAddAction {
    /// `"partitionValues":{...}`, as `add` and `remove` both carry it.
    func writePartitionValues(to json: inout JSONText) {
        json.key("partitionValues")
        json.beginObject()
        for pv in partitionValues {
            json.key(pv.column)
            json.stringOrNull(PartitionPath.normalize(pv.value))
        }
        json.endObject()
    }

    /// The `remove` of this file: the add's path byte for byte (readers match the raw
    /// string), with its partition values and size (`extendedFileMetadata`).
    func removeJSONLine(deletionTimestamp: Int64) -> String {
        var json = JSONText()
        json.beginObject()
        json.key("remove")
        json.beginObject()
        json.key("path")
        json.string(path)
        json.key("deletionTimestamp")
        json.int(deletionTimestamp)
        json.key("dataChange")
        json.bool(false)
        json.key("extendedFileMetadata")
        json.bool(true)
        writePartitionValues(to: &json)
        json.key("size")
        json.int(size)
        json.endObject()
        json.endObject()
        return json.text
    }
}

/// `txn`: the application's progress marker, committed atomically with its data.
package struct DeltaTransaction: Sendable, Equatable {
    /// A stable id for the writer (e.g. "bronze-sink/tenant-a/partition-3").
    package var appId: String
    /// The application's batch/offset number; replay keeps the latest per appId.
    package var version: Int64
    package var lastUpdated: Int64?

    package init(appId: String, version: Int64, lastUpdated: Int64? = nil) {
        self.appId = appId
        self.version = version
        self.lastUpdated = lastUpdated
    }

    var jsonLine: String {
        var json = JSONText()
        json.beginObject()
        json.key("txn")
        json.beginObject()
        json.key("appId")
        json.string(appId)
        json.key("version")
        json.int(version)
        if let lastUpdated {
            json.key("lastUpdated")
            json.int(lastUpdated)
        }
        json.endObject()
        json.endObject()
        return json.text
    }
}

/// Caller-supplied parts of `commitInfo` (written as the first line of the commit).
package struct DeltaCommitInfo: Sendable, Equatable {
    /// "WRITE", "STREAMING UPDATE", "CREATE TABLE", ...
    package var operation: String
    /// Spark writes these values as strings; so do we.
    package var operationParameters: [String: String]
    /// Extra string fields, e.g. ["pipeline": "bronze", "batchId": "42"].
    package var extra: [String: String]

    package init(
        operation: String = "WRITE", operationParameters: [String: String] = ["mode": "Append"],
        extra: [String: String] = [:]
    ) {
        self.operation = operation
        self.operationParameters = operationParameters
        self.extra = extra
    }

    func jsonLine(timestamp: Int64, engineInfo: String, isBlindAppend: Bool) -> String {
        var json = JSONText()
        json.beginObject()
        json.key("commitInfo")
        json.beginObject()
        json.key("timestamp")
        json.int(timestamp)
        json.key("operation")
        json.string(operation)
        json.key("operationParameters")
        json.beginObject()
        for (key, value) in operationParameters.sorted(by: { $0.key < $1.key }) {
            json.key(key)
            json.string(value)
        }
        json.endObject()
        json.key("engineInfo")
        json.string(engineInfo)
        json.key("isBlindAppend")
        json.bool(isBlindAppend)
        for (key, value) in extra.sorted(by: { $0.key < $1.key })
        where !["timestamp", "operation", "operationParameters", "engineInfo", "isBlindAppend"].contains(key) {
            json.key(key)
            json.string(value)
        }
        json.endObject()
        json.endObject()
        return json.text
    }
}

/// An action as replayed from the log (only what snapshots and conflict checks need).
enum DeltaLogAction: Sendable {
    case protocolVersions(DeltaProtocolVersions)
    case metadata(DeltaMetadata)
    case add(DeltaAddAction)
    case remove(path: String)
    case txn(DeltaTransaction)
    /// commitInfo, cdc, domainMetadata, ...: irrelevant to an append-only writer.
    case ignored
}

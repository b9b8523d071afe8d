/// One row of `audit/audit_pipeline_batches`: what one stage did with one batch.
///
/// `input_rows = output_rows + dlq_rows` for every row with status
/// `committed`, so the conservation law can be checked from data
/// (`SELECT * FROM audit WHERE input_rows != output_rows + dlq_rows`).
package struct AuditRecord: Sendable {
    package var pipeline: String
    package var tenant: String?
    package var stage: String
    package var batchID: String
    package var startedMicros: Int64
    package var endedMicros: Int64
    package var inputRows: Int
    package var outputRows: Int
    package var dlqRows: Int
    package var status: String
    package var error: String?
    package var tableVersion: Int64?

    package init(pipeline: String, tenant: String?, stage: String, batchID: String, startedMicros: Int64, endedMicros: Int64,
                 inputRows: Int, outputRows: Int, dlqRows: Int, status: String, error: String?, tableVersion: Int64?) {
        self.pipeline = pipeline
        self.tenant = tenant
        self.stage = stage
        self.batchID = batchID
        self.startedMicros = startedMicros
        self.endedMicros = endedMicros
        self.inputRows = inputRows
        self.outputRows = outputRows
        self.dlqRows = dlqRows
        self.status = status
        self.error = error
        self.tableVersion = tableVersion
    }
}

/// Appends audit rows to `<lake>/audit/audit_pipeline_batches`, one small
/// commit per batch. Every writing stage shares the table; the Delta log's
/// put-if-absent commits keep concurrent stages from losing each other's rows.
package struct AuditWriter {
    package static let tableSubpath = "audit/audit_pipeline_batches"
    package static let schema = DeltaSchema([
        DeltaField("pipeline", .string, nullable: false),
        DeltaField("tenant_id", .string),
        DeltaField("stage", .string, nullable: false),
        DeltaField("batch_id", .string, nullable: false),
        DeltaField("started_at", .timestamp, nullable: false),
        DeltaField("ended_at", .timestamp, nullable: false),
        DeltaField("input_rows", .long, nullable: false),
        DeltaField("output_rows", .long, nullable: false),
        DeltaField("dlq_rows", .long, nullable: false),
        DeltaField("latency_ms", .long, nullable: false),
        DeltaField("status", .string, nullable: false),
        DeltaField("error", .string),
        DeltaField("table_version", .long),
    ])

    private var table: DeltaTableWriter

    package init(lakeRoot: String) throws(StageError) {
        table = try DeltaTableWriter.openAuditTable(lakeRoot: lakeRoot, subpath: Self.tableSubpath, schema: Self.schema)
    }

    package mutating func append(_ record: AuditRecord) throws(LakeError) {
        var c = table.makeColumnBuffers()
        c[0].append(string: record.pipeline)
        if let tenant = record.tenant { c[1].append(string: tenant) } else { c[1].appendNull() }
        c[2].append(string: record.stage)
        c[3].append(string: record.batchID)
        c[4].append(timestampMicros: record.startedMicros)
        c[5].append(timestampMicros: record.endedMicros)
        c[6].append(int64: Int64(record.inputRows))
        c[7].append(int64: Int64(record.outputRows))
        c[8].append(int64: Int64(record.dlqRows))
        c[9].append(int64: (record.endedMicros - record.startedMicros) / 1000)
        c[10].append(string: record.status)
        if let error = record.error { c[11].append(string: error) } else { c[11].appendNull() }
        if let v = record.tableVersion { c[12].append(int64: v) } else { c[12].appendNull() }
        try table.appendFile(c)
    }
}

extension DeltaTableWriter {
    /// Opens (or creates) a small unpartitioned table under the storage root
    /// (`audit/audit_pipeline_batches`, `audit/quality_rule_counts`).
    static func openAuditTable(lakeRoot: String, subpath: String, schema: DeltaSchema) throws(StageError) -> DeltaTableWriter {
        do {
            return try DeltaTableWriter.openOrCreate(at: lakeRoot + "/" + subpath, schema: schema)
        } catch {
            throw StageError(error)
        }
    }

    /// Writes `columns` as one file of an unpartitioned table and commits it as a blind append.
    mutating func appendFile(_ columns: [ColumnBuffer]) throws(LakeError) {
        let add = try writeDataFile(partitionValues: [], columns: columns)
        _ = try commit([add], info: DeltaCommitInfo(operation: "WRITE", operationParameters: ["mode": "Append"]))
    }
}

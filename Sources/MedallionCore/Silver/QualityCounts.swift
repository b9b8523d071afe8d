/// `audit/quality_rule_counts`: one row per rule per event type per batch,
/// appended (never overwritten), so the quality history of every rule can
/// be queried like any table: pass and fail counts, the action taken, and
/// the Silver table version the batch produced.
package struct QualityCountsWriter {
    package static let tableSubpath = "audit/quality_rule_counts"
    package static let schema = DeltaSchema([
        DeltaField("pipeline", .string, nullable: false),
        DeltaField("tenant_id", .string),
        DeltaField("stage", .string, nullable: false),
        DeltaField("batch_id", .string, nullable: false),
        DeltaField("event_type", .string, nullable: false),
        DeltaField("rule", .string, nullable: false),
        DeltaField("kind", .string, nullable: false),
        DeltaField("action", .string, nullable: false),
        DeltaField("field", .string, nullable: false),
        DeltaField("passed", .long, nullable: false),
        DeltaField("failed", .long, nullable: false),
        DeltaField("batch_started_at", .timestamp, nullable: false),
        DeltaField("committed_at", .timestamp, nullable: false),
        DeltaField("table_version", .long),
    ])

    package struct Row {
        package var eventType: String
        package var rule: QualityRule
        package var passed: Int
        package var failed: Int
        package var tableVersion: Int64?
    }

    private var table: DeltaTableWriter

    package init(lakeRoot: String) throws(StageError) {
        table = try DeltaTableWriter.openAuditTable(lakeRoot: lakeRoot, subpath: Self.tableSubpath, schema: Self.schema)
    }

    /// Appends one batch's counts in one commit.
    package mutating func append(_ rows: [Row], pipeline: String, tenant: String?, batchID: String, startedMicros: Int64) throws(StageError) {
        guard !rows.isEmpty else { return }
        var c = table.makeColumnBuffers()
        let now = wallClockMicros()
        for row in rows {
            c[0].append(string: pipeline)
            if let tenant { c[1].append(string: tenant) } else { c[1].appendNull() }
            c[2].append(string: "silver-validate")
            c[3].append(string: batchID)
            c[4].append(string: row.eventType)
            c[5].append(string: row.rule.name)
            c[6].append(string: row.rule.kind)
            c[7].append(string: row.rule.action.rawValue)
            c[8].append(string: row.rule.field)
            c[9].append(int64: Int64(row.passed))
            c[10].append(int64: Int64(row.failed))
            c[11].append(timestampMicros: startedMicros)
            c[12].append(timestampMicros: now)
            if let v = row.tableVersion { c[13].append(int64: v) } else { c[13].appendNull() }
        }
        do {
            try table.appendFile(c)
        } catch {
            throw StageError(error)
        }
    }
}

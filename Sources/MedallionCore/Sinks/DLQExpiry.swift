/// DLQ retention (`dlq.retention_days`): removes from `dlq/events` the files
/// of partitions whose `ingest_date` is older than the retention, in one Delta
/// commit of `remove` actions.
///
/// Why partitions, not rows: the DLQ is partitioned by date, so whole files
/// age out together and nothing is rewritten. The removed files stay on disk
/// until a `VACUUM` (Spark, Databricks or delta-rs) deletes them, as Delta's
/// time travel expects; readers stop seeing them at once. Optionally per
/// tenant, for a tenant whose retention differs.
package struct DLQExpiry: Sendable {
    package var retentionDays: Int
    /// Only this tenant's partitions (nil: every tenant's).
    package var tenant: String?
    package var dryRun = false

    package struct Result: Sendable {
        package var cutoffDate: String
        package var files = 0
        package var rows: Int64 = 0
        package var tableVersion: Int64?
    }

    package init(retentionDays: Int, tenant: String? = nil) {
        self.retentionDays = retentionDays
        self.tenant = tenant
    }

    /// - Parameter nowMicros: the current time (a parameter so tests can fix it).
    package func run(lakeRoot: String, nowMicros: Int64, engine: String) throws(StageError) -> Result {
        let today = nowMicros.floorDividedBy(86_400_000_000).quotient
        var cutoff: [UInt8] = []
        Timestamp.appendDate(days: Int(today) - retentionDays, to: &cutoff)
        var result = Result(cutoffDate: String(decoding: cutoff, as: UTF8.self))
        let tablePath = lakeRoot + "/" + DLQSink.tableSubpath
        var isDirectory = false
        guard FileIO.exists(tablePath + "/_delta_log", isDirectory: &isDirectory), isDirectory else { return result }
        do {
            let reader = try DeltaTableReader.open(tablePath: tablePath)
            // ISO dates compare as text; a partition value that is not a date is never expired.
            let old = try reader.files { values in
                guard let date = values["ingest_date"], date.utf8.count == 10, date < result.cutoffDate else { return false }
                return tenant == nil || values["tenant_id"] == tenant
            }
            result.files = old.count
            result.rows = old.reduce(0) { $0 + ($1.numRecords ?? 0) }
            guard !old.isEmpty, !dryRun else { return result }
            var writeOptions = DeltaWriteOptions()
            writeOptions.engineInfo = "medallion \(engine)/\(medallionCoreVersion)"
            var writer = try DeltaTableWriter.openOrCreate(
                at: tablePath, schema: DLQSink.schema, partitionColumns: DLQSink.partitionColumns, options: writeOptions)
            var predicate = "ingest_date < '\(result.cutoffDate)'"
            if let tenant { predicate += " AND tenant_id = '\(tenant)'" }
            let outcome = try writer.commit([], info: DeltaCommitInfo(operation: "DELETE", operationParameters: ["predicate": predicate]),
                                            removes: old.map(\.add))
            if case .committed(let version) = outcome { result.tableVersion = version }
        } catch {
            throw StageError(error)
        }
        return result
    }
}

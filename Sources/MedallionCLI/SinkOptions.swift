import ArgumentParser
import MedallionCore

/// Flags shared by the sinks that write Delta tables.
package struct SinkFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Storage root; tables go to <lake>/bronze/events, <lake>/dlq/events, <lake>/audit/audit_pipeline_batches.", valueName: "dir"))
    var lake: String?

    @Option(name: .long, help: "A stable name for this sink; it prefixes the txn appIds that make restarts exactly-once.")
    var sinkId: String?

    @Option(name: .long, help: "Pipeline name recorded in the audit table.")
    var pipeline: String = "adhoc"

    @Option(name: .long, help: "Commit a batch after this many rows.")
    var batchRows: Int = 100_000

    @Option(name: .long, help: ArgumentHelp("Commit a batch after this many bytes of row data.", valueName: "bytes"))
    var batchBytes: Int = 64 << 20

    @Option(name: .long, help: ArgumentHelp("Commit a non-empty batch after this many seconds, even on a quiet stream.", valueName: "seconds"))
    var flushInterval: Double = 5

    @Option(name: .long, help: "zstd level for Parquet pages (1-19; 1 is both faster and, on event data, smaller than 3).")
    var compressionLevel: Int32 = 1

    @Flag(name: .long, help: "Parse, batch and forward, but write no table.")
    var dryRun = false

    @Flag(name: .long, help: "Do not write rows to the audit table.")
    var noAudit = false

    package init() {}

    package func validate() throws {
        if !dryRun, lake == nil {
            throw ValidationError("give the storage root with --lake DIR (or use --dry-run)")
        }
        guard batchRows >= 1 else { throw ValidationError("--batch-rows must be at least 1") }
        guard batchBytes >= 1024 else { throw ValidationError("--batch-bytes must be at least 1024") }
        guard flushInterval > 0 else { throw ValidationError("--flush-interval must be positive") }
        guard (1...19).contains(compressionLevel) else { throw ValidationError("--compression-level must be 1 to 19") }
    }

    package func sinkOptions(defaultSinkID: String, tenant: String?) -> SinkOptions {
        var o = SinkOptions(lakeRoot: lake ?? ".", sinkID: sinkId ?? defaultSinkID)
        o.pipeline = pipeline
        o.tenant = tenant
        o.batchRows = batchRows
        o.batchBytes = batchBytes
        o.flushIntervalSeconds = flushInterval
        o.dryRun = dryRun
        o.writeAudit = !noAudit
        o.compressionLevel = compressionLevel
        return o
    }
}

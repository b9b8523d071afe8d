import ArgumentParser
import MedallionCore

/// Flags shared by the sinks that write Delta tables.
package struct SinkFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Storage root; tables go below it (bronze/events, silver/<event_type>, dlq/events, audit/...). Default with --config: the tenant's storage.root.", valueName: "dir"))
    var lake: String?

    @Option(name: .long, help: "A stable name for this sink; it prefixes the txn appIds that make restarts exactly-once (default: the stage's name; silver-validate: silver-validate.<tenant>).")
    var sinkId: String?

    @Option(name: .long, help: "Pipeline name recorded in the audit table.")
    var pipeline: String = "adhoc"

    // Optional so that a value from the configuration tree (--config) is
    // used unless the flag is given; the defaults below apply to neither.
    @Option(name: .long, help: "Commit a batch after this many rows (default 100000).")
    var batchRows: Int?

    @Option(name: .long, help: ArgumentHelp("Commit a batch after this many bytes of row data (default 64 MiB).", valueName: "bytes"))
    var batchBytes: Int?

    @Option(name: .long, help: ArgumentHelp("Commit a non-empty batch after this many seconds, even on a quiet stream (default 5).", valueName: "seconds"))
    var flushInterval: Double?

    @Option(name: .long, help: "zstd level for Parquet pages (1-19, default 1; 1 is both faster and, on event data, smaller than 3).")
    var compressionLevel: Int32?

    @Option(name: .long, help: ArgumentHelp("Flag a committed batch in the audit table (status flagged) when more than this fraction of its records were rejects (default: dlq.max_reject_ratio with --config, else never).", valueName: "fraction"))
    var maxRejectRatio: Double?

    @Flag(name: .long, help: "Parse, batch and forward, but write no table.")
    var dryRun = false

    @Flag(name: .long, help: "Do not write rows to the audit table.")
    var noAudit = false

    package init() {}

    package func validate() throws {
        if let batchRows, batchRows < 1 { throw ValidationError("--batch-rows must be at least 1") }
        if let batchBytes, batchBytes < 1024 { throw ValidationError("--batch-bytes must be at least 1024") }
        if let flushInterval, flushInterval <= 0 { throw ValidationError("--flush-interval must be positive") }
        if let maxRejectRatio, !(0...1).contains(maxRejectRatio) {
            throw ValidationError("--max-reject-ratio must be between 0 and 1")
        }
        if let compressionLevel, !(1...19).contains(compressionLevel) {
            throw ValidationError("--compression-level must be 1 to 19")
        }
    }

    /// The storage root must come from somewhere: --lake, or the tree's
    /// `storage.root` when the command also takes --config.
    package func requireLake() throws {
        if !dryRun, lake == nil {
            throw ValidationError("give the storage root with --lake DIR, or --config DIR --tenant T (or use --dry-run)")
        }
    }

    /// Flags first, then the tenant's settings from the tree, then defaults.
    /// A storage root that is a URL (`abfss://...`, the production form) is
    /// refused with exit 78: this build writes local paths only, and taking
    /// the URL as a directory name would quietly write beside the lake.
    package func sinkOptions(stage: String, input: String, defaultSinkID: String, tenant: String?,
                             settings: TenantSettings? = nil, configRoot: String? = nil) throws(ExitCode) -> SinkOptions {
        let root = lake ?? settings?.storageRoot ?? "."
        if let scheme = LakeRoot.urlScheme(root) {
            let origin: String
            if lake != nil {
                origin = "--lake \(root)"
            } else if let at = settings?.storageRootOrigin {
                origin = "\(ConfigPath.join(configRoot ?? ".", at.file)):\(at.line): storage.root \(root)"
            } else {
                origin = "storage.root \(root)"
            }
            throw failConfiguration(stage: stage, input: input, [
                "\(origin): this build writes tables to local paths only, not to \(scheme):// URLs (fix: mount the container "
                + "(e.g. blobfuse2 or an ADLS mount) and set storage.root to the mount path in this environment's overlay, or pass --lake DIR)"])
        }
        var o = SinkOptions(lakeRoot: root, sinkID: sinkId ?? defaultSinkID)
        o.pipeline = pipeline
        o.tenant = tenant
        o.batchRows = batchRows ?? settings?.batching.rows ?? 100_000
        o.batchBytes = batchBytes ?? settings?.batching.bytes ?? 64 << 20
        o.flushIntervalSeconds = flushInterval ?? settings?.batching.flushIntervalSeconds ?? 5
        o.dryRun = dryRun
        o.writeAudit = !noAudit
        o.compressionLevel = compressionLevel ?? settings.map { Int32($0.compressionLevel) } ?? 1
        o.maxRejectRatio = maxRejectRatio ?? settings?.dlqMaxRejectRatio
        return o
    }
}

import ArgumentParser
import MedallionCore

package struct DLQSinkCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "dlq-sink",
        abstract: "Store DLQ records from any stage in the DLQ Delta table.",
        discussion: """
        Reads DLQ records (docs/dlq.md) from one or more inputs at once — give one --input per \
        stage's DLQ file or FIFO — and writes <lake>/dlq/events, partitioned \
        tenant_id/event_type/ingest_date. A record with a missing or unsafe tenant or event type goes \
        to the partition _unknown (the value as sent is kept in reported_tenant_id / \
        reported_event_type). A line that is not a DLQ record is stored wrapped as not_a_dlq_record. \
        Stored records are forwarded on stdout after each commit.

        With --redrive it reads the DLQ table instead and writes the original raw lines of the \
        records that match --reason, --stage, --tenant, --since and --until to stdout, byte for byte, \
        so they can be fed through the pipeline again. Records kept only as a prefix (line_too_long) \
        are counted, never emitted.

        With --expire it applies the retention (--retention-days, or the tree's dlq.retention_days): \
        the files of partitions whose ingest_date is older are removed from the table in one Delta \
        commit (a VACUUM deletes them from disk later); with --tenant, only that tenant's. --dry-run \
        says what would be removed.

        With --config DIR --tenant T [--env E], the storage root and batching come from the \
        configuration tree (flags given by hand override them); with --redrive, --tenant also \
        selects that tenant's records.

        Examples:
          dlq-sink --lake ./lake --input envelope-check.dlq.ndjson --input bronze.dlq.fifo
          dlq-sink --config . --tenant acme --env dev --input envelope-check.dlq.ndjson
          dlq-sink --lake ./lake --redrive --reason bad_timestamp --since 2026-03-01T00:00:00Z | envelope-check --tenant acme
          dlq-sink --config . --tenant acme --env prod --expire
        """,
        version: medallionVersion)

    @Flag(help: "Re-emit stored DLQ records as their original lines instead of storing input.")
    var redrive = false

    @Option(help: ArgumentHelp("Redrive only these reason codes (comma-separated).", valueName: "list"))
    var reason: String?

    @Option(help: ArgumentHelp("Redrive only records rejected by these stages (comma-separated).", valueName: "list"))
    var stage: String?

    @Option(help: "The tenant: with --config, whose storage root and batching to use; with --redrive, whose records to re-emit.")
    var tenant: String?

    @Option(help: ArgumentHelp("Redrive records rejected at or after this time (RFC 3339 UTC).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Redrive records rejected before this time (RFC 3339 UTC).", valueName: "time"))
    var until: String?

    @Flag(help: "Remove partitions older than the retention from the DLQ table instead of storing input.")
    var expire = false

    @Option(help: ArgumentHelp("With --expire: keep this many days (default: dlq.retention_days with --config).", valueName: "days"))
    var retentionDays: Int?

    @OptionGroup var sink: SinkFlags
    @OptionGroup var location: ConfigLocation
    @OptionGroup var standard: StandardOptions

    package init() {}

    package func validate() throws {
        try location.requireConfigForEnv()
        if expire {
            guard !redrive else { throw ValidationError("--expire and --redrive are separate runs; give one") }
            guard standard.input.isEmpty else { throw ValidationError("--expire reads no input; it works on the table") }
            guard retentionDays != nil || location.config != nil else {
                throw ValidationError("--expire needs --retention-days N, or --config DIR --tenant T for dlq.retention_days")
            }
            if let retentionDays, !(1...3650).contains(retentionDays) {
                throw ValidationError("--retention-days must be 1 to 3650, got \(retentionDays)")
            }
            if location.config == nil, sink.lake == nil {
                throw ValidationError("--expire works on the DLQ table: give the storage root with --lake DIR, or --config DIR --tenant T")
            }
            return
        }
        if retentionDays != nil { throw ValidationError("--retention-days goes with --expire") }
        if location.config == nil {
            if !redrive { try sink.requireLake() }
            if !redrive, reason != nil || stage != nil || tenant != nil || since != nil || until != nil {
                throw ValidationError("--reason, --stage, --tenant, --since and --until select records to redrive; add --redrive")
            }
            if redrive, sink.lake == nil {
                throw ValidationError("--redrive reads the DLQ table: give the storage root with --lake DIR, or --config DIR --tenant T")
            }
        } else if !redrive, reason != nil || stage != nil || since != nil || until != nil {
            throw ValidationError("--reason, --stage, --since and --until select records to redrive; add --redrive")
        }
        for (flag, value) in [("--since", since), ("--until", until)] {
            if let value, Self.micros(value) == nil {
                throw ValidationError("\(flag) '\(value)' is not an RFC 3339 UTC timestamp like 2026-03-01T00:00:00Z")
            }
        }
    }

    /// A redrive bound. Any RFC 3339 UTC time is a valid bound, even one
    /// outside the years a table may hold (it then selects everything or
    /// nothing on that side: times compare as microseconds). Digits beyond microseconds round up, so a bound
    /// never lets in a record from before it.
    static func micros(_ text: String) -> Int64? {
        var text = text
        let parsed = text.withUTF8 { Timestamp.parseMicros(UnsafeRawBufferPointer($0)) }
        switch parsed {
        case .success(let v):
            if let dot = text.firstIndex(of: "."),
               case let digits = text[text.index(after: dot)...].prefix(while: { $0.isNumber }), digits.count > 6,
               digits.dropFirst(6).contains(where: { $0 != "0" }) {
                return v + 1
            }
            return v
        case .failure:
            return nil
        }
    }

    package func run() throws {
        let settings = try location.settings(stage: "dlq-sink", tenant: tenant)
        let options = try sink.sinkOptions(stage: "dlq-sink", input: standard.input.joined(separator: ","), defaultSinkID: "dlq-sink",
                                           tenant: tenant, settings: settings, configRoot: location.config)
        if redrive { return try runRedrive(lakeRoot: options.lakeRoot) }
        if expire {
            return try runExpire(lakeRoot: options.lakeRoot, days: retentionDays ?? settings?.dlqRetentionDays ?? 30)
        }
        try runFilter(stage: "dlq-sink", options: standard) { (runtime) throws(StageError) in
            let sink = try DLQSink(options: options)
            try sink.run(runtime)
        }
    }

    private func runExpire(lakeRoot: String, days: Int) throws {
        var plan = DLQExpiry(retentionDays: days, tenant: tenant)
        plan.dryRun = sink.dryRun
        let started = monotonicSeconds()
        do throws(StageError) {
            let result = try plan.run(lakeRoot: lakeRoot, nowMicros: wallClockMicros(), engine: "dlq-sink")
            var w = JSONWriter.diagnostic(level: "info", stage: "dlq-sink", event: "summary")
            w.key("mode"); w.string("expire")
            w.key("status"); w.string(sink.dryRun ? "dry_run" : "ok")
            w.key("retention_days"); w.int(days)
            w.key("removed_before"); w.string(result.cutoffDate)
            w.key("files_removed"); w.int(result.files)
            w.key("rows_removed"); w.int(Int(result.rows))
            if let version = result.tableVersion { w.key("table_version"); w.int(Int(version)) }
            w.key("seconds"); w.double(((monotonicSeconds() - started) * 1000).rounded() / 1000)
            w.endObject()
            writeDiagnostic(w.bytes)
        } catch {
            reportError(stage: "dlq-sink", error)
            throw ExitCode(error.exitStatus.rawValue)
        }
    }

    private func runRedrive(lakeRoot: String) throws {
        Signals.install()
        var plan = DLQRedrive()
        plan.reasons = commaList(reason)
        plan.stages = commaList(stage)
        plan.tenant = tenant
        plan.sinceMicros = since.flatMap(Self.micros)
        plan.untilMicros = until.flatMap(Self.micros)
        let output = OutputWriter(fd: 1, name: "stdout", lineBuffered: standard.lineBuffered)
        let started = monotonicSeconds()
        do {
            let result = try plan.run(lakeRoot: lakeRoot, output: output) { message in
                reportError(stage: "dlq-sink", StageError(.data, message))
            }
            var w = JSONWriter.diagnostic(level: result.filesFailed == 0 ? "info" : "error", stage: "dlq-sink", event: "summary")
            w.key("mode"); w.string("redrive")
            w.key("status"); w.string(result.filesFailed == 0 ? "ok" : "failed")
            // rows_in: the stored records the selection matched; each is
            // either re-emitted or skipped because its raw line was truncated.
            w.key("rows_in"); w.int(result.emitted + result.skippedTruncated)
            w.key("rows_out"); w.int(result.emitted)
            w.key("rows_dlq"); w.int(0)
            w.key("skipped_truncated"); w.int(result.skippedTruncated)
            w.key("files_failed"); w.int(result.filesFailed)
            w.key("seconds"); w.double(((monotonicSeconds() - started) * 1000).rounded() / 1000)
            w.endObject()
            writeDiagnostic(w.bytes)
            if result.filesFailed > 0 { throw ExitCode(ExitStatus.dataError.rawValue) }
        } catch let error as StageError {
            reportError(stage: "dlq-sink", error)
            throw ExitCode(error.exitStatus.rawValue)
        }
    }
}

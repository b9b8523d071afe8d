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

        With --config DIR --tenant T [--env E], the storage root and batching come from the \
        configuration tree (flags given by hand override them); with --redrive, --tenant also \
        selects that tenant's records.

        Examples:
          dlq-sink --lake ./lake --input envelope-check.dlq.ndjson --input bronze.dlq.fifo
          dlq-sink --config . --tenant acme --env dev --input envelope-check.dlq.ndjson
          dlq-sink --lake ./lake --redrive --reason bad_timestamp --since 2026-03-01T00:00:00Z | envelope-check --tenant acme
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

    @OptionGroup var sink: SinkFlags
    @OptionGroup var location: ConfigLocation
    @OptionGroup var standard: StandardOptions

    package init() {}

    package func validate() throws {
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

    static func micros(_ text: String) -> Int64? {
        var text = text
        let parsed = text.withUTF8 { Timestamp.parseMicros(UnsafeRawBufferPointer($0)) }
        if case .success(let v) = parsed { return v }
        return nil
    }

    package func run() throws {
        let settings = try location.settings(stage: "dlq-sink", tenant: tenant)
        if redrive { return try runRedrive(lakeRoot: sink.lake ?? settings?.storageRoot ?? ".") }
        let options = sink.sinkOptions(defaultSinkID: "dlq-sink", tenant: tenant, settings: settings)
        try runFilter(stage: "dlq-sink", options: standard) { (runtime) throws(StageError) in
            let sink = try DLQSink(options: options)
            try sink.run(runtime)
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
            w.key("rows_out"); w.int(result.emitted)
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

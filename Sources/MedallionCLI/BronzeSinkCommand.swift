import ArgumentParser
import MedallionCore

package struct BronzeSinkCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bronze-sink",
        abstract: "Store envelopes in the Bronze Delta table; forward each record once it is committed.",
        discussion: """
        Writes <lake>/bronze/events, partitioned tenant_id/event_type/ingest_date, one Delta commit per \
        batch (--batch-rows, --batch-bytes, --flush-interval). Each commit records, in txn actions, the \
        highest _source offset stored per source partition; a restart skips what is already stored. \
        Lines that fail the envelope check go to the DLQ, as in envelope-check. Records are written to \
        stdout only after the commit that stores them. One audit row per batch goes to \
        <lake>/audit/audit_pipeline_batches.

        Example:
          envelope-check --tenant acme < events.ndjson | bronze-sink --lake ./lake --tenant acme > committed.ndjson

        With --config DIR --tenant T [--env E], the storage root, batching, compression level and \
        enabled event types come from the configuration tree; flags given by hand override them.
        """,
        version: medallionVersion)

    @Option(name: .long, help: "The pipeline's tenant: a record of any other tenant is a tenant_mismatch reject.")
    var tenant: String?

    @Option(name: .long, help: ArgumentHelp("Tenants a shared stream may carry (comma-separated).", valueName: "list"))
    var tenants: String?

    @Option(name: .long, help: ArgumentHelp("Enabled event types (comma-separated); default: any safe name.", valueName: "list"))
    var eventTypes: String?

    @OptionGroup var sink: SinkFlags
    @OptionGroup var location: ConfigLocation
    @OptionGroup var standard: StandardOptions

    package init() {}

    package func validate() throws {
        try standard.requireSingleInput("bronze-sink")
        if location.config == nil { try sink.requireLake() }
        for name in [tenant].compactMap({ $0 }) + (commaList(tenants) ?? []) + (commaList(eventTypes) ?? [])
        where !EnvelopePolicy.isSafeID(name) {
            throw ValidationError("'\(name)' is not a valid tenant or event type name; use [a-z0-9][a-z0-9._-]{0,63}")
        }
    }

    package func run() throws {
        let settings = try location.settings(stage: "bronze-sink", tenant: tenant)
        let policy = EnvelopePolicy(pipelineTenant: tenant, allowedTenants: commaList(tenants),
                                    allowedEventTypes: commaList(eventTypes) ?? settings?.eventTypes)
        let options = sink.sinkOptions(defaultSinkID: "bronze-sink", tenant: tenant, settings: settings)
        try runFilter(stage: "bronze-sink", options: standard) { (runtime) throws(StageError) in
            let sink = try BronzeSink(options: options, policy: policy)
            try sink.run(runtime)
        }
    }
}

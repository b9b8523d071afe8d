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

    @OptionGroup var policyFlags: PolicyFlags

    @OptionGroup var sink: SinkFlags
    @OptionGroup var location: ConfigLocation
    @OptionGroup var standard: StandardOptions

    package init() {}

    package func validate() throws {
        try location.requireConfigForEnv()
        try standard.requireSingleInput("bronze-sink")
        if location.config == nil { try sink.requireLake() }
    }

    package func run() throws {
        let settings = try location.settings(stage: "bronze-sink", tenant: policyFlags.tenant)
        let policy = policyFlags.policy(settings: settings)
        let options = try sink.sinkOptions(stage: "bronze-sink", input: standard.input.first ?? "-", defaultSinkID: "bronze-sink",
                                           tenant: policyFlags.tenant, settings: settings, configRoot: location.config)
        try runFilter(stage: "bronze-sink", options: standard) { (runtime) throws(StageError) in
            let sink = try BronzeSink(options: options, policy: policy)
            try sink.run(runtime)
        }
    }
}

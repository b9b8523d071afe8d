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

        Example:
          dlq-sink --lake ./lake --input envelope-check.dlq.ndjson --input bronze.dlq.fifo
        """,
        version: medallionVersion)

    @OptionGroup var sink: SinkFlags
    @OptionGroup var standard: StandardOptions

    package init() {}

    package func run() throws {
        let options = sink.sinkOptions(defaultSinkID: "dlq-sink", tenant: nil)
        try runFilter(stage: "dlq-sink", options: standard) { (runtime) throws(StageError) in
            let sink = try DLQSink(options: options)
            try sink.run(runtime)
        }
    }
}

import ArgumentParser
import MedallionCore

package struct EnvelopeCheckCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "envelope-check",
        abstract: "Check NDJSON envelopes; pass valid lines through unchanged, send the rest to the DLQ.",
        discussion: """
        Reads one JSON object per line and checks the twelve envelope fields (docs/envelope.md). \
        Valid lines are written to stdout byte for byte; each rejected line becomes one DLQ record \
        with a reason code (docs/dlq.md). Position marks ({"_mark":...}) are forwarded. \
        A one-line JSON summary (rows_in = rows_out + rows_dlq) goes to stderr at exit.

        With --config DIR the tenant's enabled event types come from the configuration tree \
        (configs/tenants/<tenant>/tenant.yaml merged with the --env overlay); --event-types and \
        --tenants still override it. A configuration problem exits 78 naming file, line and fix.

        Examples:
          zstdcat capture.ndjson.zst | envelope-check --tenant acme --dlq rejects.ndjson > valid.ndjson
          envelope-check --config . --tenant acme --env prod < events.ndjson > valid.ndjson
        """,
        version: medallionVersion)

    @Option(name: .long, help: "The pipeline's tenant: a record of any other tenant is a tenant_mismatch reject.")
    var tenant: String?

    @Option(name: .long, help: ArgumentHelp("Tenants a shared stream may carry (comma-separated): any other is an unknown_tenant reject.", valueName: "list"))
    var tenants: String?

    @Option(name: .long, help: ArgumentHelp("Enabled event types (comma-separated); default: any safe name.", valueName: "list"))
    var eventTypes: String?

    @Flag(name: .long, help: "Print every DLQ reason code with its meaning, then exit.")
    var listReasons = false

    @OptionGroup var location: ConfigLocation
    @OptionGroup var standard: StandardOptions

    package init() {}

    package func validate() throws {
        try standard.requireSingleInput("envelope-check")
        if listReasons { return }
        guard tenant != nil || tenants != nil else {
            throw ValidationError("give the pipeline's tenant with --tenant T, or the tenants a shared stream may carry with --tenants a,b")
        }
        for name in [tenant].compactMap({ $0 }) + (commaList(tenants) ?? []) + (commaList(eventTypes) ?? [])
        where !EnvelopePolicy.isSafeID(name) {
            throw ValidationError("'\(name)' is not a valid tenant or event type name; use [a-z0-9][a-z0-9._-]{0,63}")
        }
    }

    package func run() throws {
        if listReasons {
            for reason in RejectReason.allCases { print("\(reason.rawValue)\t\(reason.summary)") }
            return
        }
        // Flags win over the tree: a flag given by hand is the more specific intent.
        let settings = try location.settings(stage: "envelope-check", tenant: tenant)
        let policy = EnvelopePolicy(pipelineTenant: tenant, allowedTenants: commaList(tenants),
                                    allowedEventTypes: commaList(eventTypes) ?? settings?.eventTypes)
        try runFilter(stage: "envelope-check", options: standard) { (runtime) throws(StageError) in
            try EnvelopeCheckStage.run(runtime, policy: policy)
        }
    }
}

package let medallionVersion = "0.1.0"

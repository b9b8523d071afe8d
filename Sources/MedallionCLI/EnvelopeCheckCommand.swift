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

    @OptionGroup var policyFlags: PolicyFlags

    @Flag(name: .long, help: "Print every DLQ reason code with its meaning, then exit.")
    var listReasons = false

    @Option(name: .long, help: ArgumentHelp("Threads that check lines (default: one per core, at most 4); output order never changes.", valueName: "n"))
    var threads: Int = EnvelopeCheckStage.defaultThreads

    @OptionGroup var location: ConfigLocation
    @OptionGroup var standard: StandardOptions

    package init() {}

    package func validate() throws {
        try location.requireConfigForEnv()
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1 to 64, got \(threads)") }
        try standard.requireSingleInput("envelope-check")
        if listReasons { return }
        guard policyFlags.tenant != nil || policyFlags.tenants != nil else {
            throw ValidationError("give the pipeline's tenant with --tenant T, or the tenants a shared stream may carry with --tenants a,b")
        }
    }

    package func run() throws {
        if listReasons {
            for reason in RejectReason.allCases { print("\(reason.rawValue)\t\(reason.summary)") }
            return
        }
        // Flags win over the tree: a flag given by hand is the more specific intent.
        let settings = try location.settings(stage: "envelope-check", tenant: policyFlags.tenant)
        let policy = policyFlags.policy(settings: settings)
        try runFilter(stage: "envelope-check", options: standard) { (runtime) throws(StageError) in
            try EnvelopeCheckStage.run(runtime, policy: policy, threads: threads)
        }
    }
}

package let medallionVersion = "0.1.0"

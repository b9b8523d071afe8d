import ArgumentParser
import MedallionCore

package struct SilverValidateCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "silver-validate",
        abstract: "Validate, clean and enrich Bronze records into typed Silver Delta tables; forward the committed rows.",
        discussion: """
        For each record: the payload is validated against schemas/event_types/<e>/v<schema_version>.json \
        (an unknown version is a DLQ record), standardised, enriched with the tenant's site data, and \
        checked by the rules of rules/event_types/<e>.yaml (warn: keep and count; drop: to the DLQ naming \
        the rule; fail: commit nothing of the batch and exit 65 naming the rule and the record). Kept rows \
        go to <lake>/silver/<event_type> (typed columns, partitioned tenant_id/event_type/ingest_date; \
        fields no schema declares in _rescued_data), per-rule counts to <lake>/audit/quality_rule_counts, \
        then the rows are written to stdout as NDJSON. --dry-run writes no table and logs the per-rule \
        counts (event rule_counts on stderr).

        Example:
          bronze-sink --config . --tenant acme < events.ndjson | silver-validate --config . --tenant acme > silver.ndjson
        """,
        version: medallionVersion)

    @Option(name: .long, help: ArgumentHelp("Root of the configuration tree (schemas/, rules/, configs/).", valueName: "dir"))
    var config: String = "."

    @Option(name: .long, help: "The pipeline's tenant: its settings, sites and enabled event types; a record of another tenant is a tenant_mismatch reject.")
    var tenant: String

    @Option(name: .long, help: ArgumentHelp("Environment overlay: dev, stage or prod.", valueName: "env"))
    var env: String = "dev"

    @Option(name: .long, help: ArgumentHelp("Only these of the tenant's event types (comma-separated).", valueName: "list"))
    var eventTypes: String?

    @OptionGroup var sink: SinkFlags
    @OptionGroup var standard: StandardOptions

    package init() {}

    package func validate() throws {
        try standard.requireSingleInput("silver-validate")
        guard EnvelopePolicy.isSafeID(tenant) else {
            throw ValidationError("'\(tenant)' is not a valid tenant name; use [a-z0-9][a-z0-9._-]{0,63}")
        }
        guard ConfigSchemas.environments.contains(env) else {
            throw ValidationError("--env '\(env)' is not an environment; use one of \(ConfigSchemas.environments.joined(separator: ", "))")
        }
    }

    private var inputLabel: String { standard.input.first ?? "-" }

    package func run() throws {
        let stage = SilverValidate.stage
        let only = eventTypes.map { $0.split(separator: ",").map { String($0) } }
        let settings: TenantSettings
        let programs: [SilverProgram]
        do {
            (settings, programs) = try ConfigTree.silverPrograms(root: config, tenant: tenant, env: env, only: only)
        } catch {
            throw failConfiguration(stage: stage, input: inputLabel, error.problems.map { $0.formatted(root: config) })
        }
        if let only, let unknown = only.first(where: { !settings.eventTypes.contains($0) }) {
            throw failConfiguration(stage: stage, input: inputLabel, ["--event-types: '\(unknown)' is not enabled for tenant \(tenant) (enabled: \(settings.eventTypes.joined(separator: ", ")))"])
        }
        let policy = EnvelopePolicy(pipelineTenant: tenant, allowedEventTypes: programs.map(\.eventType))
        // Per tenant: instances for several tenants may read one shared stream into the same tables.
        let options = try sink.sinkOptions(stage: stage, input: inputLabel, defaultSinkID: "\(stage).\(tenant)", tenant: tenant, settings: settings, configRoot: config)
        try runFilter(stage: stage, options: standard, dlqInstance: options.sinkID) { (runtime) throws(StageError) in
            let silver = try SilverValidate(options: options, policy: policy, programs: programs)
            try silver.run(runtime)
        }
    }
}

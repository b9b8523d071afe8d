import ArgumentParser
import MedallionCore

#if canImport(Glibc)
import Glibc
#endif

package struct GenerateCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write deterministic sample events (NDJSON), optionally with every kind of bad line.",
        discussion: """
        Three tenants (acme, globex, initech) with their sites and devices, and three event types of \
        different shapes (thermostat.telemetry 1.0/1.1, door.access, energy.meter). The same seed always \
        gives the same bytes: no wall clock is read. Each line carries a _source position \
        {"source":"gen:<seed>","partition":P,"offset":N}. With --bad-rate, that fraction of lines is \
        bad, each with exactly one fault, drawn from --bad-kinds: \
        \(BadLineKind.allCases.map(\.rawValue).joined(separator: ", ")).

        Example:
          medallion generate --count 100000 --seed 7 --bad-rate 0.02 --output events.ndjson
        """)

    @Option(help: "Number of lines.") var count: Int = 1_000_000
    @Option(help: "Seed: the same seed gives byte-identical output.") var seed: UInt64 = 42
    @Option(help: "Fraction of bad lines (0 to 1).") var badRate: Double = 0
    @Option(help: ArgumentHelp("Bad kinds to draw from (comma-separated, or 'all').", valueName: "list"))
    var badKinds: String = "all"
    @Option(help: "Source partitions (devices are spread over them by a hash of their id).") var partitions: Int = 4
    @Option(help: ArgumentHelp("Event time of the first event (RFC 3339 UTC).", valueName: "time"))
    var baseTime: String = "2026-03-01T12:00:00.000Z"
    @Option(help: "Devices per site.") var devicesPerSite: Int = 6
    @Option(help: "Size of an oversized line in bytes (must exceed the filters' --max-line-bytes to be one).")
    var oversizedBytes: Int = 2 << 20
    @Option(help: "Nesting depth of a deep-nesting line.") var deepNesting: Int = 10_000
    @Option(help: ArgumentHelp("At most this many oversized and deep lines each ('none' for no cap).", valueName: "n"))
    var maxHeavy: String = "16"
    @Option(help: "Fraction of events that arrive out of order.") var outOfOrderRate: Double = 0.01
    @Option(help: ArgumentHelp("Where to write: a file, or '-' for stdout.", valueName: "path")) var output: String = "-"
    @Flag(help: "Print the count of each line kind as JSON on stderr at the end.") var summary = false
    @OptionGroup var fleet: FleetFlags

    package init() {}

    func makeConfig() throws -> GeneratorConfig {
        var config = GeneratorConfig(seed: seed, count: count, badRate: badRate)
        guard let kinds = BadLineKind.parseList(badKinds) else {
            throw ValidationError("--bad-kinds: unknown kind in '\(badKinds)'; known: all, \(BadLineKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        config.badKinds = kinds
        config.partitions = partitions
        guard let base = UTCTimestamp.parseMillis(baseTime) else {
            throw ValidationError("--base-time '\(baseTime)' is not an RFC 3339 UTC timestamp like 2026-03-01T12:00:00.000Z")
        }
        config.baseTimeMillis = base
        config.devicesPerSite = devicesPerSite
        config.oversizedLineBytes = oversizedBytes
        config.deepNestingDepth = deepNesting
        if maxHeavy == "none" {
            config.maxHeavyLinesPerKind = nil
        } else if let n = Int(maxHeavy) {
            config.maxHeavyLinesPerKind = n
        } else {
            throw ValidationError("--max-heavy takes a number or 'none', got '\(maxHeavy)'")
        }
        config.outOfOrderRate = outOfOrderRate
        return config
    }

    package func validate() throws {
        do {
            _ = try SampleGenerator(try makeConfig())
        } catch let error as GeneratorConfigError {
            throw ValidationError(error.description)
        }
    }

    package func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var config = try makeConfig()
        try fleet.apply(to: &config, stage: "medallion generate")
        var generator = try SampleGenerator(config)
        do {
            if output == "-" {
                try generator.write(to: 1)
            } else {
                try generator.write(toPath: output)
            }
        } catch {
            reportError(stage: "medallion generate", StageError(.io, error.description))
            throw ExitCode(ExitStatus.ioError.rawValue)
        }
        if summary { writeDiagnostic(Array(generator.statistics.summaryJSON.utf8)) }
    }
}

/// `--config DIR [--tenant T] [--env E]` for the generators: the fleet (tenants, their site ids
/// and enabled event types) comes from the configuration tree instead of the built-in three.
package struct FleetFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Generate for the tenants of this configuration tree (their sites and event types).", valueName: "dir"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("With --config: only this tenant.", valueName: "name"))
    var tenant: String?

    @Option(name: .long, help: ArgumentHelp("With --config: the environment overlay (dev, stage, prod).", valueName: "env"))
    var env: String = "dev"

    package init() {}

    package func validate() throws {
        if config == nil, tenant != nil { throw ValidationError("--tenant needs --config DIR: the tenant's sites and event types come from the tree") }
        if let tenant, !EnvelopePolicy.isSafeID(tenant) { throw ValidationError("'\(tenant)' is not a valid tenant name") }
    }

    /// Replaces the config's tenants with the tree's fleet; a problem is reported as `file:line: error` (exit 78).
    func apply(to config: inout GeneratorConfig, stage: String) throws(ExitCode) {
        guard let root = self.config else { return }
        do {
            config.tenants = try GeneratorTenant.fromConfiguration(root: root, tenant: tenant, env: env)
            config.eventTypes = SampleEventType.allCases.filter { t in config.tenants.contains { $0.eventTypes?.contains(t) ?? true } }
        } catch {
            for problem in error.problems { reportError(stage: stage, StageError(.config, problem.formatted(root: root))) }
            throw ExitCode(ExitStatus.config.rawValue)
        }
    }
}

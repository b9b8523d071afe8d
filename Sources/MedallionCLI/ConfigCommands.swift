import ArgumentParser
import MedallionCore

#if canImport(Glibc)
import Glibc
#endif

/// `--config DIR` and `--env E`, shared by `check`, `config show` and the filters.
package struct ConfigLocation: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Root of the configuration tree (configs/, schemas/, rules/, pipelines/).", valueName: "dir"))
    package var config: String?

    @Option(name: .long, help: ArgumentHelp("Environment overlay to apply: dev, stage or prod.", valueName: "env"))
    package var env: String?

    package init() {}

    package func validate() throws {
        if let env, !ConfigSchemas.environments.contains(env) {
            throw ValidationError("--env '\(env)' is not an environment; use one of \(ConfigSchemas.environments.joined(separator: ", "))")
        }
    }

    /// `--env` selects an overlay of the tree: without `--config` it would
    /// silently do nothing, so the filters refuse it.
    package func requireConfigForEnv() throws {
        if env != nil, config == nil {
            throw ValidationError("--env \(env!) selects an overlay of the configuration tree; add --config DIR (or drop --env)")
        }
    }

    /// The settings of `tenant` when `--config` was given, nil otherwise.
    /// A configuration problem is reported (one JSON line per problem, each
    /// `file:line: error: key: message (fix: ...)`) and exits 78.
    package func settings(stage: String, tenant: String?, input: String = "-") throws(ExitCode) -> TenantSettings? {
        guard let config else { return nil }
        guard let tenant else {
            throw failConfiguration(stage: stage, input: input, ["--config needs --tenant T: the settings are per tenant"])
        }
        let tree = ConfigTree.load(root: config, tenant: tenant)
        do {
            return try tree.settings(tenant: tenant, env: env ?? "dev")
        } catch {
            throw failConfiguration(stage: stage, input: input, error.problems.map { $0.formatted(root: config) })
        }
    }
}

/// Prints problems in compiler format on stderr.
func printProblems(_ problems: [ConfigProblem], root: String) {
    for p in problems { writeStderr(p.formatted(root: root) + "\n") }
}

func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { buf in _ = write(2, buf.baseAddress, buf.count) }
}

package struct CheckCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the whole configuration tree offline; list every problem.",
        discussion: """
        Reads configs/, schemas/, rules/ and pipelines/ under --config (default: the current \
        directory), checks every file's format and every reference between files, and merges each \
        tenant's settings (global → tenant → environment). Each problem is one line on stderr: \
        file:line: error: key.path: message (fix: ...). Exit 0 when the tree is clean, 78 otherwise.

        Examples:
          medallion check
          medallion check --config ./deploy --env prod
        """)

    @OptionGroup var location: ConfigLocation

    package init() {}

    package func run() throws {
        let root = location.config ?? "."
        let (tree, problems) = ConfigTree.checkAll(root: root, envs: location.env.map { [$0] })
        if !problems.isEmpty {
            printProblems(problems, root: root)
            writeStderr("\(problems.count) problem\(problems.count == 1 ? "" : "s") in \(root)\n")
            throw ExitCode(ExitStatus.config.rawValue)
        }
        print("ok: \(tree.tenantNames.count) tenants, \(tree.schemas.count) event types, \(tree.pipelines.count) pipelines in \(root)")
    }
}

package struct ConfigCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect the configuration tree.",
        subcommands: [ConfigShowCommand.self])

    package init() {}
}

package struct ConfigShowCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a tenant's merged settings (global → tenant → environment), secrets redacted.",
        discussion: """
        Secrets are never in the tree, only the names of the environment variables that hold them; \
        the output shows each such name and whether the variable is set here, never its value.

        Example:
          medallion config show --tenant acme --env prod --format json
        """)

    @Option(help: "The tenant.") var tenant: String
    @OptionGroup var location: ConfigLocation
    @Option(help: ArgumentHelp("yaml or json.", valueName: "format")) var format: String = "yaml"

    package init() {}

    package func validate() throws {
        guard ["yaml", "json"].contains(format) else { throw ValidationError("--format must be yaml or json") }
    }

    package func run() throws {
        let root = location.config ?? "."
        let env = location.env ?? "dev"
        let tree = ConfigTree.load(root: root, tenant: tenant)
        let settings: TenantSettings
        do {
            settings = try tree.settings(tenant: tenant, env: env)
        } catch {
            printProblems(error.problems, root: root)
            throw ExitCode(ExitStatus.config.rawValue)
        }
        guard var value = tree.mergedValue(tenant: tenant, env: env).value else { throw ExitCode(ExitStatus.software.rawValue) }
        let variable = settings.eventHubs.connectionStringEnv
        let isSet = getenv(variable) != nil
        value = Self.redacted(value, variable: variable, isSet: isSet, env: env)
        print(format == "json" ? value.renderJSON() : value.renderYAML(), terminator: format == "json" ? "\n" : "")
    }

    /// Adds `env` and, under `eventhubs`, `connection_string` as
    /// `<redacted: $NAME is set>` (or `is not set`).
    static func redacted(_ value: ConfigValue, variable: String, isSet: Bool, env: String) -> ConfigValue {
        let origin = value.origin
        // Who and where first, then the settings in the order they were written.
        let head = ["tenant", "display_name"]
        var entries = head.compactMap { value.entry($0) }
        entries.append(ConfigEntry(key: "env", keyOrigin: origin, value: ConfigValue(.string(env), origin: origin)))
        entries += value.entries.filter { !head.contains($0.key) }
        if let i = entries.firstIndex(where: { $0.key == "eventhubs" }) {
            var eh = entries[i].value.entries
            let note = "<redacted: $\(variable) is \(isSet ? "set" : "not set")>"
            eh.append(ConfigEntry(key: "connection_string", keyOrigin: origin, value: ConfigValue(.string(note), origin: origin)))
            entries[i].value = ConfigValue(.map(eh), origin: entries[i].value.origin)
        }
        return ConfigValue(.map(entries), origin: origin)
    }
}

package struct OnboardCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "onboard",
        abstract: "Scaffold the configuration of a new tenant or event type (files only, no code).",
        subcommands: [OnboardTenantCommand.self, OnboardEventTypeCommand.self])

    package init() {}
}

/// Writes a scaffold, prints what was written and the next steps.
func writeScaffold(_ make: () throws(Scaffold.Refusal) -> Scaffold, root: String) throws {
    do {
        let scaffold = try make()
        let written = try ConfigTree.write(scaffold, root: root)
        for path in written { print("created \(ConfigPath.join(root, path))") }
        print("next steps (\(scaffold.guide), from step 2):")
        for (i, step) in scaffold.nextSteps.enumerated() { print("  \(i + 2). \(step)") }
    } catch {
        writeStderr("error: \(error.description)\n")
        switch error {
        case .unsafeName: throw ExitCode(ExitStatus.usage.rawValue)
        case .exists, .writeFailed: throw ExitCode(ExitStatus.cantCreate.rawValue)
        case .noEventTypes: throw ExitCode(ExitStatus.config.rawValue)
        }
    }
}

package struct OnboardTenantCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Create configs/tenants/NAME/{tenant,dev}.yaml and pipelines/NAME.yaml.",
        discussion: """
        The tenant gets every event type the tree has; edit its files, then run `medallion check`. \
        Existing files are never overwritten. See docs/onboarding-tenant.md.
        """)

    @Argument(help: "Tenant id: [a-z0-9][a-z0-9._-]{0,63}.") var name: String
    @Option(name: .long, help: ArgumentHelp("Root of the configuration tree.", valueName: "dir")) var config: String = "."

    package init() {}

    package func run() throws {
        let tree = ConfigTree.load(root: config)
        try writeScaffold({ () throws(Scaffold.Refusal) in
            try Scaffold.tenant(name, eventTypes: tree.schemas.keys.sorted())
        }, root: config)
    }
}

package struct OnboardEventTypeCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "event-type",
        abstract: "Create schemas/event_types/NAME/v1.0.json and rules/event_types/NAME.yaml.",
        discussion: """
        Existing files are never overwritten. Then describe the payload, write the rules and enable \
        the event type for a tenant. See docs/onboarding-event-type.md.
        """)

    @Argument(help: "Event type: [a-z0-9][a-z0-9._-]{0,63}, e.g. pump.pressure.") var name: String
    @Option(name: .long, help: ArgumentHelp("Root of the configuration tree.", valueName: "dir")) var config: String = "."

    package init() {}

    package func run() throws {
        try writeScaffold({ () throws(Scaffold.Refusal) in try Scaffold.eventType(name) }, root: config)
    }
}

package struct TestCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the Silver configuration's unit tests (rules/event_types/<e>.tests.yaml) offline.",
        discussion: """
        Each test feeds one event (or a list, for unique rules) through the same schema validation, \
        standardisation, enrichment and rules as silver-validate, and compares the outcome (kept, dropped \
        by a rule, failed) and the row's values with what the test expects. Nothing is read from or \
        written to a lake. A failing test prints what differed; the exit status is 1 when any test \
        fails, 78 when a tests file or the configuration has a problem.

        Example:
          medallion test --config .
          medallion test --config . --event-type thermostat.telemetry
        """)

    @OptionGroup var location: ConfigLocation

    @Option(name: .long, help: ArgumentHelp("Only this event type's tests (repeatable).", valueName: "name"))
    var eventType: [String] = []

    package init() {}

    package func run() throws {
        let root = location.config ?? "."
        let results: [RuleTests.FileResult]
        do {
            results = try RuleTests.run(root: root, env: location.env ?? "dev", eventTypes: eventType.isEmpty ? nil : eventType)
        } catch {
            printProblems(error.problems, root: root)
            throw ExitCode(ExitStatus.config.rawValue)
        }
        if results.isEmpty {
            writeStderr("no tests: add rules/event_types/<event_type>.tests.yaml under \(root) (see docs/silver.md)\n")
            throw ExitCode(ExitStatus.config.rawValue)
        }
        var total = 0, failed = 0
        for file in results {
            print("\(file.file): \(file.cases.count) test(s), \(file.failures) failed")
            for c in file.cases {
                total += 1
                if c.passed {
                    print("  ok    \(c.name)")
                } else {
                    failed += 1
                    print("  FAIL  \(c.name)  (\(file.file):\(c.line))")
                    for d in c.differences { print("        \(d)") }
                }
            }
        }
        print("\(total - failed) of \(total) test(s) passed")
        if failed > 0 { throw ExitCode(1) }
    }
}

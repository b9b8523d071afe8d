/// The files `medallion onboard` writes: a starting point that passes
/// `medallion check` as written, with comments that say what to change.
/// Onboarding is configuration only; nothing here is tenant- or
/// event-type-specific code.
package struct Scaffold: Sendable {
    package struct File: Sendable {
        package var path: String
        package var contents: String
    }

    package var files: [File]
    /// The onboarding guide whose steps `nextSteps` are (from its step 2 on:
    /// step 1 is the scaffold itself). A test keeps the two in step.
    package var guide: String
    package var nextSteps: [String]

    /// Why a scaffold cannot be written.
    package enum Refusal: Error, Sendable, CustomStringConvertible {
        case unsafeName(String)
        case exists([String])
        case noEventTypes
        case writeFailed(String)

        package var description: String {
            switch self {
            case .unsafeName(let n):
                "'\(n)' is not a valid name; use lower-case letters, digits and . _ - ([a-z0-9][a-z0-9._-]{0,63})"
            case .exists(let paths):
                "refusing to overwrite existing files: \(paths.joined(separator: ", ")); remove them first or pick another name"
            case .noEventTypes:
                "the tree has no event types yet: run `medallion onboard event-type NAME` first"
            case .writeFailed(let why):
                "could not write the scaffold: \(why)"
            }
        }
    }

    /// `ACME_EVENTHUBS_CONNECTION` for `acme`: a name, never a secret.
    package static func connectionVariable(for tenant: String) -> String {
        let upper = String(tenant.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        return (upper.first?.isLetter == true ? "" : "T_") + upper + "_EVENTHUBS_CONNECTION"
    }

    package static func tenant(_ name: String, eventTypes: [String]) throws(Refusal) -> Scaffold {
        guard EnvelopePolicy.isSafeID(name) else { throw .unsafeName(name) }
        guard !eventTypes.isEmpty else { throw .noEventTypes }
        let variable = connectionVariable(for: name)
        let tenantYAML = """
            # Tenant \(name). Keys left out here come from configs/global/platform.yaml;
            # dev.yaml, stage.yaml and prod.yaml override this file per environment.
            version: 1
            tenant: \(name)
            display_name: \(name)
            eventhubs:
              namespace: \(name)-ehns              # the Event Hubs namespace (without .servicebus.windows.net)
              hub: telemetry
              consumer_group: medallion
              connection_string_env: \(variable)   # export \(variable)=... ; never write the secret here
            # The event types this tenant may send; others are rejected as unknown_event_type.
            event_types: [\(eventTypes.joined(separator: ", "))]
            # Reference data for enrichment: one entry per site id the devices send.
            sites:
              \(name)-s01: {region: eu-west, timezone: UTC}

            """
        let devYAML = """
            # Overrides for the dev environment (maps merge key by key, lists replace).
            version: 1
            storage:
              root: ./lake

            """
        let pipelineYAML = """
            version: 1
            tenant: \(name)
            env: dev
            stages:
              - {name: source, run: eh-source, dlq: dlq}
              - {name: check, run: envelope-check, input: source, dlq: dlq}
              - {name: bronze, run: bronze-sink, input: check, dlq: dlq}
              - {name: silver, run: silver-validate, input: bronze, dlq: dlq}
              - {name: gold, run: gold-aggregate, input: silver, dlq: dlq}
              - {name: dlq, run: dlq-sink}

            """
        return Scaffold(
            files: [
                File(path: "configs/tenants/\(name)/tenant.yaml", contents: tenantYAML),
                File(path: "configs/tenants/\(name)/dev.yaml", contents: devYAML),
                File(path: "pipelines/\(name).yaml", contents: pipelineYAML),
            ],
            guide: "docs/onboarding-tenant.md",
            nextSteps: [
                "Describe the tenant: edit configs/tenants/\(name)/tenant.yaml (Event Hubs namespace, hub and consumer_group, event_types, one entry per site); add stage.yaml / prod.yaml with what differs; export \(variable) (the connection string) where the pipeline runs",
                "Check and look at the result: medallion check; medallion config show --tenant \(name) --env dev",
                "Try it on sample events: medallion generate --count 500 --config . --tenant \(name) --output sample.ndjson; envelope-check --config . --tenant \(name) --input sample.ndjson > valid.ndjson",
            ])
    }

    package static func eventType(_ name: String) throws(Refusal) -> Scaffold {
        guard EnvelopePolicy.isSafeID(name) else { throw .unsafeName(name) }
        let schema = """
            {
              "$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": "medallion:\(name):1.0",
              "title": "\(name) 1.0",
              "type": "object",
              "properties": {
                "value": {"type": "number"},
                "unit": {"type": "string"}
              },
              "required": ["value"],
              "additionalProperties": true
            }

            """
        let rules = """
            # Data-quality rules, standardisation, enrichment and Gold tables for \(name).
            # Every field named here must be a property of a schema version (or an envelope field).
            version: 1
            event_type: \(name)
            rules:
              - name: value_present
                kind: not_null
                field: value
                action: drop
            standardize: []
            enrich:
              - lookup: sites
                key: site_id
                fields: [region, timezone]
            gold:
              - name: \(name.replacingDots())_hourly
                window: 1h
                group_by: [site_id]
                measures:
                  - {name: events, fn: count}
                  - {name: avg_value, fn: avg, field: value}

            """
        return Scaffold(
            files: [
                File(path: "schemas/event_types/\(name)/v1.0.json", contents: schema),
                File(path: "rules/event_types/\(name).yaml", contents: rules),
            ],
            guide: "docs/onboarding-event-type.md",
            nextSteps: [
                "Describe the payload: schemas/event_types/\(name)/v1.0.json (the properties of the JSON object senders put in `payload`)",
                "Write the rules: rules/event_types/\(name).yaml (quality rules, standardisation, enrichment, Gold aggregates)",
                "Enable it for a tenant: add \(name) to event_types in configs/tenants/<tenant>/tenant.yaml; medallion check",
                "Test the rules offline: write rules/event_types/\(name).tests.yaml; medallion test --event-type \(name)",
                "Send one: an envelope with \"event_type\":\"\(name)\" through envelope-check --config . --tenant <tenant>, then silver-validate",
            ])
    }
}

extension String {
    fileprivate func replacingDots() -> String { String(map { $0 == "." || $0 == "-" ? "_" : $0 }) }
}

extension ConfigTree {
    /// Writes a scaffold below `root`: refuses if any of its files exists, so
    /// onboarding never overwrites a tenant's or event type's settings.
    package static func write(_ scaffold: Scaffold, root: String) throws(Scaffold.Refusal) -> [String] {
        let existing = scaffold.files.map(\.path).filter { path in
            var dir = false
            return FileIO.exists(ConfigPath.join(root, path), isDirectory: &dir)
        }
        if !existing.isEmpty { throw .exists(existing) }
        var written: [String] = []
        for file in scaffold.files {
            let full = ConfigPath.join(root, file.path)
            do {
                try FileIO.makeDirectories(FileIO.parentDirectory(of: full))
                try FileIO.writeNewFile(full, Array(file.contents.utf8))
            } catch {
                throw .writeFailed(error.description)
            }
            written.append(file.path)
        }
        return written
    }
}

/// The settings one tenant runs with in one environment: platform defaults,
/// then the tenant's file, then its environment overlay, merged and checked.
/// What the filters read (`envelope-check` its event types, the sinks their
/// storage root and batching).
package struct TenantSettings: Sendable, Equatable {
    package struct Batching: Sendable, Equatable {
        package var rows: Int
        package var bytes: Int
        package var flushIntervalSeconds: Double
    }

    package struct EventHubs: Sendable, Equatable {
        package var namespace: String
        package var hub: String
        package var consumerGroup: String
        /// The NAME of the environment variable holding the connection
        /// string; the secret itself never passes through configuration.
        package var connectionStringEnv: String
    }

    /// Reference data for enrichment: where a site is and its local time.
    package struct Site: Sendable, Equatable {
        package var id: String
        package var region: String
        package var timezone: String
        package var name: String?
    }

    package var tenant: String
    package var displayName: String?
    package var env: String
    package var storageRoot: String
    /// The file and line that set `storage.root` (after the merge), for
    /// errors about the root itself.
    package var storageRootOrigin: ConfigOrigin?
    package var batching: Batching
    package var compressionLevel: Int
    package var allowedLatenessSeconds: Int
    package var dlqRetentionDays: Int
    package var dlqMaxRejectRatio: Double
    package var eventHubs: EventHubs
    package var eventTypes: [String]
    package var sites: [Site]

    /// Reads a merged value that `ShapeChecker` found complete; missing
    /// pieces fall back to harmless values only to keep this total.
    init(merged v: ConfigValue, env: String) {
        tenant = v["tenant"]?.string ?? ""
        displayName = v["display_name"]?.string
        self.env = env
        storageRoot = v["storage"]?["root"]?.string ?? "."
        storageRootOrigin = v["storage"]?["root"]?.origin
        batching = Batching(rows: v["batching"]?["rows"]?.int ?? 100_000,
                            bytes: v["batching"]?["bytes"]?.int ?? 64 << 20,
                            flushIntervalSeconds: v["batching"]?["flush_interval_seconds"]?.double ?? 5)
        compressionLevel = v["compression"]?["level"]?.int ?? 1
        allowedLatenessSeconds = v["watermark"]?["allowed_lateness_seconds"]?.int ?? 0
        dlqRetentionDays = v["dlq"]?["retention_days"]?.int ?? 30
        dlqMaxRejectRatio = v["dlq"]?["max_reject_ratio"]?.double ?? 1
        let eh = v["eventhubs"]
        eventHubs = EventHubs(namespace: eh?["namespace"]?.string ?? "", hub: eh?["hub"]?.string ?? "",
                              consumerGroup: eh?["consumer_group"]?.string ?? "",
                              connectionStringEnv: eh?["connection_string_env"]?.string ?? "")
        eventTypes = v["event_types"]?.strings ?? []
        sites = (v["sites"]?.entries ?? []).map { e in
            Site(id: e.key, region: e.value["region"]?.string ?? "", timezone: e.value["timezone"]?.string ?? "UTC",
                 name: e.value["name"]?.string)
        }
    }
}

/// One payload schema: `schemas/event_types/<e>/v<MAJOR>.<MINOR>.json`.
package struct PayloadSchema: Sendable, Equatable {
    package var eventType: String
    /// `MAJOR.MINOR`, as in the envelope's `schema_version`.
    package var version: String
    package var file: String
    /// Every property path the schema declares (`temperature`, `location.floor`).
    package var fields: Set<String>
    /// The compiled schema, for `silver-validate`; nil when the file has a
    /// problem (which `problems` then holds).
    package var validator: JSONSchema?
}

/// A data-quality rule (`rules/event_types/<e>.yaml`). Parsed and checked
/// here; `silver-validate` executes them (see `SilverProgram`).
package struct QualityRule: Sendable, Equatable {
    package enum Action: String, Sendable { case warn, drop, fail }
    package var name: String
    package var kind: String
    package var field: String
    package var action: Action
    package var min: Double?
    package var max: Double?
    package var pattern: String?
    /// `allowed_values`, as JSON scalars (`"heat"`, `3`, `true`).
    package var values: [JSONValue] = []
    package var maxAgeSeconds: Int?
    package var op: String?
    package var otherField: String?
    /// `unique`: how long an event id is remembered (default one day).
    package var windowSeconds: Int = 86_400
    package var file: String = ""
    package var line: Int = 0
}

/// A `ConfigValue` scalar as the JSON value a payload would carry.
extension ConfigValue {
    package var jsonScalar: JSONValue {
        switch kind {
        case .bool(let b): .bool(b)
        case .int(let i): .number(String(i))
        case .double(let d): .number(String(d))
        case .string(let s): .string(s)
        case .null, .list, .map: .null
        }
    }
}

/// What Silver and Gold do with one event type.
package struct EventTypeRules: Sendable, Equatable {
    package struct Standardize: Sendable, Equatable {
        package var field: String
        package var op: String
        package var unitField: String?
        /// `map`: from value (as text) to the new value.
        package var mapping: [(from: String, to: JSONValue)] = []
        /// Where the entry is, for problems found when compiling it.
        package var line = 1

        package static func == (a: Standardize, b: Standardize) -> Bool {
            a.field == b.field && a.op == b.op && a.unitField == b.unitField
                && a.mapping.map(\.from) == b.mapping.map(\.from) && a.mapping.map(\.to) == b.mapping.map(\.to)
        }
    }

    package struct Enrich: Sendable, Equatable {
        package var lookup: String
        package var key: String
        package var fields: [String]
    }

    /// A derived column: `local_date`/`local_hour` of a timestamp in the site's time zone.
    package struct Derive: Sendable, Equatable {
        package var name: String
        package var function: String
        package var field: String
        package var line = 1
    }

    package struct Measure: Sendable, Equatable {
        package var name: String
        package var function: String
        package var field: String?
    }

    package struct GoldAggregate: Sendable, Equatable {
        package var name: String
        package var windowSeconds: Int
        package var groupBy: [String]
        package var measures: [Measure]
    }

    package var eventType: String
    /// The rules file, relative to the tree's root (for messages).
    package var file: String
    package var rules: [QualityRule]
    package var standardize: [Standardize]
    package var enrich: [Enrich]
    package var derive: [Derive]
    package var gold: [GoldAggregate]

    init(_ v: ConfigValue, eventType: String) {
        self.eventType = eventType
        file = v.origin.file
        rules = (v["rules"]?.items ?? []).map { r in
            QualityRule(name: r["name"]?.string ?? "", kind: r["kind"]?.string ?? "", field: r["field"]?.string ?? "",
                        action: QualityRule.Action(rawValue: r["action"]?.string ?? "") ?? .warn,
                        min: r["min"]?.double, max: r["max"]?.double, pattern: r["pattern"]?.string,
                        values: (r["values"]?.items ?? []).map(\.jsonScalar),
                        maxAgeSeconds: r["max_age_seconds"]?.int, op: r["op"]?.string, otherField: r["other_field"]?.string,
                        windowSeconds: r["window"]?.string.flatMap(ShapeChecker.durationSeconds) ?? 86_400,
                        file: r.origin.file, line: r.origin.line)
        }
        standardize = (v["standardize"]?.items ?? []).map { s in
            Standardize(field: s["field"]?.string ?? "", op: s["op"]?.string ?? "", unitField: s["unit_field"]?.string,
                        mapping: (s["values"]?.entries ?? []).map { (from: $0.key, to: $0.value.jsonScalar) }, line: s.origin.line)
        }
        derive = (v["derive"]?.items ?? []).map { d in
            Derive(name: d["name"]?.string ?? "", function: d["fn"]?.string ?? "", field: d["field"]?.string ?? "", line: d.origin.line)
        }
        enrich = (v["enrich"]?.items ?? []).map { e in
            Enrich(lookup: e["lookup"]?.string ?? "", key: e["key"]?.string ?? "", fields: e["fields"]?.strings ?? [])
        }
        gold = (v["gold"]?.items ?? []).map { g in
            GoldAggregate(
                name: g["name"]?.string ?? "", windowSeconds: ShapeChecker.durationSeconds(g["window"]?.string ?? "") ?? 0,
                groupBy: g["group_by"]?.strings ?? [],
                measures: (g["measures"]?.items ?? []).map {
                    Measure(name: $0["name"]?.string ?? "", function: $0["fn"]?.string ?? "", field: $0["field"]?.string)
                })
        }
    }
}

/// `pipelines/<t>.yaml`: the stages of one tenant's pipeline and how they
/// are wired (each stage reads its `input`'s output; rejects go to `dlq`).
package struct PipelineSpec: Sendable, Equatable {
    package struct Stage: Sendable, Equatable {
        package var name: String
        package var run: String
        package var input: String?
        package var dlq: String?
    }

    package var tenant: String
    package var env: String
    package var stages: [Stage]

    init(_ v: ConfigValue) {
        tenant = v["tenant"]?.string ?? ""
        env = v["env"]?.string ?? "dev"
        stages = (v["stages"]?.items ?? []).map { s in
            Stage(name: s["name"]?.string ?? "", run: s["run"]?.string ?? "", input: s["input"]?.string, dlq: s["dlq"]?.string)
        }
    }
}

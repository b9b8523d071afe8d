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
/// here; `silver-validate` executes them.
package struct QualityRule: Sendable, Equatable {
    package enum Action: String, Sendable { case warn, drop, fail }
    package var name: String
    package var kind: String
    package var field: String
    package var action: Action
}

/// What Silver and Gold do with one event type.
package struct EventTypeRules: Sendable, Equatable {
    package struct Standardize: Sendable, Equatable {
        package var field: String
        package var op: String
        package var unitField: String?
    }

    package struct Enrich: Sendable, Equatable {
        package var lookup: String
        package var key: String
        package var fields: [String]
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
    package var rules: [QualityRule]
    package var standardize: [Standardize]
    package var enrich: [Enrich]
    package var gold: [GoldAggregate]

    init(_ v: ConfigValue, eventType: String) {
        self.eventType = eventType
        rules = (v["rules"]?.items ?? []).map { r in
            QualityRule(name: r["name"]?.string ?? "", kind: r["kind"]?.string ?? "", field: r["field"]?.string ?? "",
                        action: QualityRule.Action(rawValue: r["action"]?.string ?? "") ?? .warn)
        }
        standardize = (v["standardize"]?.items ?? []).map { s in
            Standardize(field: s["field"]?.string ?? "", op: s["op"]?.string ?? "", unitField: s["unit_field"]?.string)
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

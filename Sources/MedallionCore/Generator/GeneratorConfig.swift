/// One tenant of the simulated fleet.
package struct GeneratorTenant: Sendable, Hashable {
    /// The `tenant_id`; must match `[a-z0-9][a-z0-9._-]{0,63}` (checked by
    /// `SampleGenerator.init`) because it becomes a partition path segment.
    package var id: String
    /// Number of sites; site ids are `<tenant>-s01`, `<tenant>-s02`, ...
    package var sites: Int
    /// Written as the `region_hint` attribute. A region of `us` also makes
    /// that tenant's thermostats report Fahrenheit, so Silver's unit
    /// standardization has something to do.
    package var region: String

    /// Site ids to use instead of `<tenant>-s01`...; taken from a tenant's
    /// configured `sites` so that enrichment finds them.
    package var siteIDs: [String]?
    /// Event types this tenant's devices emit (default: the config's `eventTypes`).
    package var eventTypes: [SampleEventType]?

    package init(id: String, sites: Int, region: String, siteIDs: [String]? = nil, eventTypes: [SampleEventType]? = nil) {
        self.id = id
        self.sites = siteIDs?.count ?? sites
        self.region = region
        self.siteIDs = siteIDs
        self.eventTypes = eventTypes
    }
}

extension GeneratorTenant {
    /// The fleet of a configuration tree: each tenant (or only `tenant`)
    /// with its configured site ids and enabled event types. The region hint
    /// is the prefix of its first site's region (`us-east` → `us`; a `us`
    /// tenant's thermostats report Fahrenheit).
    /// - Throws: `ConfigError` for a broken tree, an unknown tenant, or an
    ///   enabled event type the generator has no payload for.
    package static func fromConfiguration(root: String, tenant only: String?, env: String) throws(ConfigError) -> [GeneratorTenant] {
        let tree = ConfigTree.load(root: root, tenant: only)
        let names = only.map { [$0] } ?? tree.tenantNames
        var fleet: [GeneratorTenant] = []
        var problems: [ConfigProblem] = []
        for name in names {
            let settings: TenantSettings
            do {
                settings = try tree.settings(tenant: name, env: env)
            } catch {
                problems += error.problems
                continue
            }
            var types: [SampleEventType] = []
            for e in settings.eventTypes {
                guard let t = SampleEventType(rawValue: e) else {
                    problems.append(ConfigProblem(
                        file: "configs/tenants/\(name)/tenant.yaml", line: 1, keyPath: "event_types",
                        message: "the generator has no sample payload for event type '\(e)' (it knows \(SampleEventType.allCases.map(\.rawValue).joined(separator: ", ")))",
                        fix: "generate for another tenant, or replay captured events of \(e) with --replay"))
                    continue
                }
                types.append(t)
            }
            guard !settings.sites.isEmpty, !types.isEmpty else {
                problems.append(ConfigProblem(file: "configs/tenants/\(name)/tenant.yaml", line: 1, keyPath: settings.sites.isEmpty ? "sites" : "event_types",
                    message: "tenant '\(name)' has no \(settings.sites.isEmpty ? "sites" : "event types") to generate events for",
                    fix: "list at least one under `\(settings.sites.isEmpty ? "sites" : "event_types")`"))
                continue
            }
            let region = settings.sites[0].region.split(separator: "-").first.map(String.init) ?? "eu"
            fleet.append(GeneratorTenant(id: name, sites: settings.sites.count, region: region,
                                         siteIDs: settings.sites.map(\.id).sorted(), eventTypes: types))
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return fleet
    }
}

/// The event types the generator knows how to fill with a realistic payload.
///
/// Each device has exactly one type, so `device_type` and `event_type` are
/// always consistent on good lines (Silver may rely on that).
package enum SampleEventType: String, CaseIterable, Sendable, Hashable {
    /// `{"temperature","unit","humidity","setpoint","mode","battery_pct"}`;
    /// schema 1.1 adds `co2_ppm`. Devices on firmware 2.x send 1.1.
    case thermostatTelemetry = "thermostat.telemetry"
    /// `{"door_id","direction","badge_id","granted","reason"}`, schema 1.0.
    case doorAccess = "door.access"
    /// `{"meter_id","kwh","voltage","current_a","power_factor","phase","readings"}`,
    /// schema 1.0; `kwh` is a per-meter counter that only grows.
    case energyMeter = "energy.meter"

    /// The `device_type` of devices that emit this event type.
    package var deviceType: String {
        switch self {
        case .thermostatTelemetry: "thermostat"
        case .doorAccess: "door_controller"
        case .energyMeter: "energy_meter"
        }
    }

    /// Two-letter code used inside device ids (`acme-s01-th01`).
    var deviceCode: String {
        switch self {
        case .thermostatTelemetry: "th"
        case .doorAccess: "dr"
        case .energyMeter: "em"
        }
    }
}

/// Everything that determines the generator's output. Two generators built
/// from equal configs write byte-identical streams; nothing is read from the
/// clock, the environment or the machine.
package struct GeneratorConfig: Sendable {
    /// Seeds both random streams and names the source (`"gen:<seed>"`).
    package var seed: UInt64 = 42
    /// Lines `SampleGenerator.write(to:)` emits when no count is passed.
    /// Bad lines count: a run of `count` lines has exactly `count` lines.
    package var count: Int = 1_000_000
    /// Number of source partitions; a device's partition is a hash of its
    /// `device_id` (stable across seeds), like an Event Hubs partition key.
    package var partitions: Int = 4
    /// Event time of the first line, in milliseconds since the Unix epoch.
    /// Default 2026-03-01T12:00:00.000Z. There is deliberately no "now":
    /// a wall-clock default would make every run different.
    package var baseTimeMillis: Int64 = 1_772_366_400_000
    /// The clock advances by a uniform 0...2*meanStepMillis per line, so the
    /// default (100 ms) spreads 1M events over about 28 hours: enough to
    /// cross a UTC midnight and give Bronze two `ingest_date` partitions.
    package var meanStepMillis: Int = 100
    /// Fraction of good lines whose event time lies in the past (a device
    /// that buffered while offline): between 1 s and `maxLatenessMillis`
    /// behind the clock. Their ingest time is still "now", so their lag is
    /// large. This is what a watermark in Gold has to cope with.
    package var outOfOrderRate: Double = 0.01
    /// Upper bound of how far an out-of-order event lags (default 5 min).
    package var maxLatenessMillis: Int = 300_000
    /// `ingest_time_utc = event_time_utc + lag`, lag uniform in this range.
    package var ingestLagMillis: ClosedRange<Int> = 20...1_500
    /// The fleet. Default: acme (4 sites, eu), globex (3 sites, us),
    /// initech (2 sites, apac).
    package var tenants: [GeneratorTenant] = GeneratorConfig.defaultTenants
    /// Devices per site; device types are assigned round-robin over
    /// `eventTypes`, so every site has every type when this >= its count.
    package var devicesPerSite: Int = 6
    /// Which event types the fleet emits.
    package var eventTypes: [SampleEventType] = SampleEventType.allCases
    /// Fraction of lines (0...1) that are bad, decided per line.
    package var badRate: Double = 0
    /// The kinds bad lines are drawn from, uniformly. Pass one kind to get
    /// only that kind.
    package var badKinds: [BadLineKind] = BadLineKind.allCases
    /// Size of an `oversized_line`, excluding the newline. Must be larger
    /// than the line limit of the stage under test (default 2 MiB).
    package var oversizedLineBytes: Int = 2 * 1024 * 1024
    /// Nesting depth of a `deep_nesting` payload.
    package var deepNestingDepth: Int = 10_000
    /// Cap on lines of each heavy kind (`oversized_line`, `deep_nesting`)
    /// per generator; nil means no cap. Without it 1M lines at a 10% bad rate
    /// would hold ~6,000 oversized lines, 13 GB of them. Once a heavy kind
    /// hits the cap, its draws are re-drawn among the other selected kinds;
    /// the cap does not apply when only heavy kinds are selected, since then
    /// the caller asked for exactly those.
    package var maxHeavyLinesPerKind: Int? = 16

    package init() {}

    /// Convenience for the common knobs.
    package init(seed: UInt64, count: Int = 1_000_000, badRate: Double = 0) {
        self.seed = seed
        self.count = count
        self.badRate = badRate
    }

    package static let defaultTenants: [GeneratorTenant] = [
        GeneratorTenant(id: "acme", sites: 4, region: "eu"),
        GeneratorTenant(id: "globex", sites: 3, region: "us"),
        GeneratorTenant(id: "initech", sites: 2, region: "apac"),
    ]
}

/// Why a config was refused. Each case names the field and the fix, so a CLI
/// can print it as a configuration/usage error.
package enum GeneratorConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(field: String, message: String)

    package var description: String {
        switch self {
        case let .invalid(field, message): "generator config: \(field): \(message)"
        }
    }
}

/// The kinds of bad line the generator can plant. Each is one realistic
/// failure; the raw value is the stable name used by flags and in summaries.
///
/// Every kind is built from the good event it replaces (same device,
/// partition and `_source` offset), except the three that are not JSON
/// objects at all (`not_an_object`, `binary_garbage`, `empty_line`), which
/// carry no `_source` but still use up an offset in their partition, as a
/// broker would.
///
/// Intended verdict of `envelope-check` for each kind: reject. The lines are
/// designed so that exactly one thing is wrong, so a reject reason can be
/// asserted per kind.
package enum BadLineKind: String, CaseIterable, Sendable, Hashable, Comparable {
    /// Truncated mid-object, a stray or doubled comma, or a missing colon.
    case malformedJSON = "malformed_json"
    /// Invalid UTF-8 (stray continuation byte, overlong form, surrogate,
    /// truncated sequence, 0xFF) inside a string value.
    case invalidUTF8 = "invalid_utf8"
    /// Valid JSON that is not an object: `[1,2]`, `42`, `"acme"`, `null`, ...
    case notAnObject = "not_an_object"
    /// One of the twelve envelope fields left out.
    case missingField = "missing_field"
    /// An envelope field of the wrong JSON type: `"payload":"{...}"`,
    /// `"event_id":7`, a non-string attribute value, ...
    case wrongType = "wrong_type"
    /// Month 13, 2026-02-30, hour 25, a `+02:00` offset, a space instead of
    /// `T` with no zone, or words.
    case badTimestamp = "bad_timestamp"
    /// A `tenant_id` that is not a safe path segment: `../../etc`, `ACME`,
    /// `a/b`, `..`, a NUL byte, 65 characters, a Cyrillic look-alike, ...
    case hostileTenant = "hostile_tenant"
    /// A well-formed `tenant_id` that is not in the configured fleet.
    case unknownTenant = "unknown_tenant"
    /// A well-formed `event_type` the platform does not know.
    case unknownEventType = "unknown_event_type"
    /// An envelope key twice with different values (`tenant_id` naming a
    /// second configured tenant: the smuggling case).
    case duplicateKey = "duplicate_key"
    /// `schema_version` not `MAJOR.MINOR`: `v1`, `1`, `1.0.0`, ...
    case badSchemaVersion = "bad_schema_version"
    /// An id field (`tenant_id`, `site_id`, `device_id`, `event_type`,
    /// `event_id`) that is the empty string.
    case emptyID = "empty_id"
    /// A top-level key the envelope does not have: a typo (`tenantId`) or a
    /// field a sender added (`device_name`).
    case unknownField = "unknown_field"
    /// An id or text field (`site_id`, `device_id`, `device_type`,
    /// `event_id`, `source_system`) longer than 256 bytes.
    case longID = "long_id"
    /// `payload` nested `deepNestingDepth` levels deep (objects or arrays).
    case deepNesting = "deep_nesting"
    /// An otherwise valid envelope padded to `oversizedLineBytes`.
    case oversizedLine = "oversized_line"
    /// Random bytes (NUL and all, but never `\n`).
    case binaryGarbage = "binary_garbage"
    /// An empty line, or one of only spaces and tabs.
    ///
    /// Generated on purpose: the contract is one JSON object per line, a
    /// blank line is not one, and blank lines do occur (files concatenated
    /// with `echo >>`, editors adding a final newline). The recommended
    /// verdict is a counted reject rather than a silent skip, so that
    /// `input_rows = output_rows + dlq_rows` holds per line. Leave this kind
    /// out of `badKinds` to never generate blank lines.
    case emptyLine = "empty_line"

    /// Kinds whose lines are large enough to need `maxHeavyLinesPerKind`.
    package var isHeavy: Bool { self == .oversizedLine || self == .deepNesting }

    /// Parses a comma-separated list of raw values (`"wrong_type,empty_line"`);
    /// `"all"` means every kind. Returns nil when a name is unknown.
    package static func parseList(_ text: String) -> [BadLineKind]? {
        if text == "all" { return allCases }
        var kinds: [BadLineKind] = []
        for name in text.split(separator: ",") {
            guard let kind = BadLineKind(rawValue: String(name)) else { return nil }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return kinds.isEmpty ? nil : kinds
    }

    package static func < (a: BadLineKind, b: BadLineKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

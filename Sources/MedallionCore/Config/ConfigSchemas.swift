/// The format of every file of the tree, as shapes. docs/configuration.md
/// documents each key named here (a test checks that it does).
package enum ConfigSchemas {
    /// The one format version this build reads. Every YAML file carries
    /// `version: 1`, so a future format can be told apart and refused
    /// with a clear message instead of being half understood.
    package static let formatVersion = 1

    /// The environments an overlay can be written for.
    package static let environments = ["dev", "stage", "prod"]

    /// The executables a pipeline can wire, in pipeline order.
    package static let stageKinds = ["eh-source", "envelope-check", "bronze-sink", "silver-validate", "gold-aggregate", "dlq-sink"]

    static let version = Field("version", .integer(Int.min...Int.max), required: true)

    // MARK: Settings shared by platform, tenant and environment files

    static let storage = Field("storage", .record([Field("root", .text(.any), required: true)]), required: true)
    static let batching = Field("batching", .record([
        Field("rows", .integer(1...10_000_000), required: true),
        Field("bytes", .integer(1024...(1 << 34)), required: true),
        Field("flush_interval_seconds", .number(min: 0.001), required: true),
    ]), required: true)
    static let compression = Field("compression", .record([Field("level", .integer(1...19), required: true)]), required: true)
    static let watermark = Field("watermark", .record([
        Field("allowed_lateness_seconds", .integer(0...604_800), required: true),
    ]), required: true)
    static let dlq = Field("dlq", .record([
        Field("retention_days", .integer(1...3650), required: true),
        Field("max_reject_ratio", .number(min: 0, max: 1), required: true),
    ]), required: true)
    static let eventhubs = Field("eventhubs", .record([
        Field("namespace", .text(.any), required: true),
        Field("hub", .text(.any), required: true),
        Field("consumer_group", .text(.any), required: true),
        Field("connection_string_env", .text(.envVarName), required: true),
    ]), required: true)
    static let eventTypes = Field("event_types", .list(.text(.safeID), nonEmpty: true), required: true)
    static let sites = Field("sites", .dictionary(key: .safeID, value: .record([
        Field("region", .text(.any), required: true),
        Field("timezone", .text(.timezone), required: true),
        Field("name", .text(.any)),
    ])))

    static let platformSections = [storage, batching, compression, watermark, dlq]
    static let tenantSections = [eventhubs, eventTypes, sites]

    /// `configs/global/platform.yaml`: every platform setting is required here,
    /// so a tenant that sets nothing still gets a complete configuration.
    package static let platform = Shape.record([version] + platformSections)

    /// `configs/tenants/<t>/tenant.yaml`. Nothing but `tenant` is required
    /// in the file itself; what must be present is checked after merging.
    package static let tenant = Shape.record([
        version,
        Field("tenant", .text(.safeID), required: true),
        Field("display_name", .text(.any)),
    ] + platformSections + tenantSections)

    /// `configs/tenants/<t>/<env>.yaml`: the same settings, all optional.
    package static let overlay = Shape.record([version] + platformSections + tenantSections)

    /// The merged settings of one tenant in one environment.
    package static let merged = Shape.record([
        Field("tenant", .text(.safeID), required: true),
        Field("display_name", .text(.any)),
    ] + platformSections + tenantSections)

    // MARK: Rules

    package static let ruleKinds = ["not_null", "range", "regex", "allowed_values", "unique", "freshness", "cross_field"]
    package static let ruleActions = ["warn", "drop", "fail"]
    package static let standardizeOps = ["to_celsius", "lowercase", "uppercase", "trim", "map", "to_utc"]
    package static let deriveFunctions = ["local_date", "local_hour"]
    package static let lookups = ["sites"]
    package static let measureFunctions = ["count", "sum", "avg", "min", "max"]
    package static let comparisons = ["lt", "le", "gt", "ge", "eq", "ne"]

    /// `rules/event_types/<e>.yaml`.
    package static let rules = Shape.record([
        version,
        Field("event_type", .text(.safeID), required: true),
        Field("rules", .list(.record([
            Field("name", .text(.safeID), required: true),
            Field("kind", .choice(ruleKinds), required: true),
            Field("field", .text(.fieldPath), required: true),
            Field("action", .choice(ruleActions), required: true),
            Field("description", .text(.any)),
            Field("min", .number(min: -.greatestFiniteMagnitude)),
            Field("max", .number(min: -.greatestFiniteMagnitude)),
            Field("pattern", .text(.any)),
            Field("values", .list(.scalar, nonEmpty: true)),
            Field("max_age_seconds", .integer(1...31_536_000)),
            Field("op", .choice(comparisons)),
            Field("other_field", .text(.fieldPath)),
            Field("window", .text(.duration)),
        ]), nonEmpty: false)),
        Field("standardize", .list(.record([
            Field("field", .text(.fieldPath), required: true),
            Field("op", .choice(standardizeOps), required: true),
            Field("unit_field", .text(.fieldPath)),
            Field("values", .dictionary(key: .any, value: .scalar)),
        ]), nonEmpty: false)),
        Field("derive", .list(.record([
            Field("name", .text(.safeID), required: true),
            Field("fn", .choice(deriveFunctions), required: true),
            Field("field", .text(.fieldPath), required: true),
        ]), nonEmpty: false)),
        Field("enrich", .list(.record([
            Field("lookup", .choice(lookups), required: true),
            Field("key", .text(.fieldPath), required: true),
            Field("fields", .list(.text(.fieldPath), nonEmpty: true), required: true),
        ]), nonEmpty: false)),
        Field("gold", .list(.record([
            Field("name", .text(.safeID), required: true),
            Field("window", .text(.duration), required: true),
            Field("group_by", .list(.text(.fieldPath), nonEmpty: false)),
            Field("measures", .list(.record([
                Field("name", .text(.fieldPath), required: true),
                Field("fn", .choice(measureFunctions), required: true),
                Field("field", .text(.fieldPath)),
            ]), nonEmpty: true), required: true),
        ]), nonEmpty: false)),
    ])

    /// The columns a `sites` lookup can add.
    package static let siteColumns = ["region", "timezone", "name"]

    // MARK: Pipelines

    /// `pipelines/<t>.yaml`.
    package static let pipeline = Shape.record([
        version,
        Field("tenant", .text(.safeID), required: true),
        Field("env", .choice(environments), required: true),
        Field("description", .text(.any)),
        Field("stages", .list(.record([
            Field("name", .text(.safeID), required: true),
            Field("run", .choice(stageKinds), required: true),
            Field("input", .text(.safeID)),
            Field("dlq", .text(.safeID)),
        ]), nonEmpty: true), required: true),
    ])

    /// Every key name of every file, for the documentation test.
    package static var allKeyNames: Set<String> {
        var names: Set<String> = []
        func walk(_ shape: Shape) {
            switch shape {
            case .record(let fields):
                for f in fields {
                    names.insert(f.name)
                    walk(f.shape)
                }
            case .list(let s, _): walk(s)
            case .dictionary(_, let s): walk(s)
            default: break
            }
        }
        for s in [platform, tenant, overlay, rules, pipeline] { walk(s) }
        return names
    }
}

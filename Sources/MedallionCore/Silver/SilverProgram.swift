import Foundation

/// One typed column of a Silver table and where its value comes from.
package struct SilverColumn: Sendable, Equatable {
    package enum Origin: Sendable, Equatable {
        case envelope(EnvelopeField)
        /// A payload leaf, by its path (`["location", "floor"]`).
        case payload([String])
        /// A column of the tenant's site reference data (`region`, `timezone`, `name`).
        case site(String)
        /// A derived value (`local_date`, `local_hour`) of the column at `source`.
        case derived(function: String, source: Int)
        case attributes
        case rescued
        case warnings
        case sourceID, sourcePartition, sourceOffset
    }

    package var name: String
    package var type: DeltaType
    package var origin: Origin
    /// Dotted name rules use for payload fields (`location.floor`); the column name otherwise.
    package var fieldPath: String
}

/// Everything `silver-validate` needs for one event type, compiled once from
/// the configuration tree: the Silver table's columns (union of every
/// schema version, so a minor version only adds nullable columns), the
/// schema validators by version, and the rules, standardisation,
/// enrichment and derivations of `rules/event_types/<e>.yaml`.
package struct SilverProgram: Sendable {
    package var eventType: String
    package var columns: [SilverColumn]
    package var versions: [String: JSONSchema]
    /// Per version: the declared property tree (for `_rescued_data`).
    package var declared: [String: DeclaredFields]
    /// Per version, per column: whether that version declares the column's payload leaf
    /// (computed once; the row is filled per record).
    package var declaredColumns: [String: [Bool]] = [:]
    package var rules: [CompiledRule]
    package var standardize: [EventTypeRules.Standardize]
    /// Column index by field path (rules, standardisation and derivations name fields by path).
    package var columnByPath: [String: Int]
    /// The index of the site's `timezone` for local derivations, if looked up.
    package var sites: [String: TenantSettings.Site]

    package static let partitionColumns = ["tenant_id", "event_type", "ingest_date"]
    static let envelopeColumns: [(EnvelopeField?, String, DeltaType)] = [
        (.tenantID, "tenant_id", .string), (.eventType, "event_type", .string), (nil, "ingest_date", .date),
        (.eventID, "event_id", .string), (.siteID, "site_id", .string), (.deviceID, "device_id", .string),
        (.deviceType, "device_type", .string), (.eventTimeUTC, "event_time_utc", .timestamp),
        (.ingestTimeUTC, "ingest_time_utc", .timestamp), (.schemaVersion, "schema_version", .string),
        (.sourceSystem, "source_system", .string),
    ]

    /// The Delta schema the program writes (all columns nullable but the
    /// partition and envelope columns every record has).
    package var deltaSchema: DeltaSchema {
        DeltaSchema(columns.map { c in
            let required: Bool
            if case .envelope = c.origin { required = true } else { required = c.name == "ingest_date" }
            return DeltaField(c.name, c.type, nullable: !required)
        })
    }

    /// Builds the program of `eventType`.
    /// - Throws: every problem found, each naming the file, line and fix (a
    ///   type conflict between versions, a column name used twice, a rule on
    ///   a field of the wrong type, a bad regex). A conflict in the schemas
    ///   stops at once (the columns are unknown); each standardisation,
    ///   derivation and rule is then checked on its own.
    package init(eventType: String, schemas: [PayloadSchema], rules: EventTypeRules?, sites: [TenantSettings.Site]) throws(ConfigError) {
        do throws(ConfigProblem) {
            try self.init(compiling: eventType, schemas: schemas, rules: rules, sites: sites)
        } catch {
            throw ConfigError([error])
        }
        if !problems.isEmpty { throw ConfigError(problems) }
    }

    /// Problems found after the columns are known; collected, not thrown.
    private var problems: [ConfigProblem] = []

    private init(compiling eventType: String, schemas: [PayloadSchema], rules: EventTypeRules?, sites: [TenantSettings.Site]) throws(ConfigProblem) {
        self.eventType = eventType
        self.sites = Dictionary(sites.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var columns: [SilverColumn] = []
        for (field, name, type) in Self.envelopeColumns {
            if let field {
                columns.append(SilverColumn(name: name, type: type, origin: .envelope(field), fieldPath: name))
            } else {
                columns.append(SilverColumn(name: name, type: type, origin: .envelope(.ingestTimeUTC), fieldPath: name))
            }
        }
        // ingest_date is derived from ingest_time_utc by the stage; give it its own origin.
        columns[2].origin = .derived(function: "utc_date", source: 8)
        versions = [:]
        declared = [:]
        var leafFiles: [String: String] = [:]
        for schema in schemas {
            guard let validator = schema.validator else {
                throw ConfigProblem(file: schema.file, line: 1, keyPath: "", message: "the schema does not compile", fix: "run `medallion check` for the problem")
            }
            versions[schema.version] = validator
            var leaves: [(path: [String], type: DeltaType)] = []
            var tree = DeclaredFields()
            Self.collectLeaves(validator.document, root: validator.document, path: [], into: &leaves, declared: &tree)
            declared[schema.version] = tree
            for leaf in leaves {
                let name = leaf.path.joined(separator: "_")
                let dotted = leaf.path.joined(separator: ".")
                if let i = columns.firstIndex(where: { $0.name == name }) {
                    guard case .payload(let existingPath) = columns[i].origin, existingPath == leaf.path else {
                        throw ConfigProblem(file: schema.file, line: 1, keyPath: "properties", message: "payload field '\(dotted)' becomes column '\(name)', which already exists", fix: "rename the field")
                    }
                    if columns[i].type == leaf.type { continue }
                    let widened: Set<DeltaType> = [.long, .double]
                    if widened.contains(columns[i].type), widened.contains(leaf.type) {
                        columns[i].type = .double
                        continue
                    }
                    throw ConfigProblem(file: schema.file, line: 1, keyPath: "properties", message: "payload field '\(dotted)' is \(leaf.type.deltaName) here but \(columns[i].type.deltaName) in \(leafFiles[name] ?? "an earlier version"); a Silver column keeps one type", fix: "give the new meaning a new field name, or a new event type")
                }
                leafFiles[name] = schema.file
                columns.append(SilverColumn(name: name, type: leaf.type, origin: .payload(leaf.path), fieldPath: dotted))
            }
        }
        let file = rules?.file ?? "rules/event_types/\(eventType).yaml"
        for enrich in rules?.enrich ?? [] {
            for field in enrich.fields {
                let name = field == "name" ? "site_name" : field
                guard !columns.contains(where: { $0.name == name }) else { continue }
                columns.append(SilverColumn(name: name, type: .string, origin: .site(field), fieldPath: field == "name" ? "site_name" : field))
            }
        }
        var byPath: [String: Int] = [:]
        for (i, c) in columns.enumerated() { byPath[c.fieldPath] = i }
        var problems: [ConfigProblem] = []
        for (index, derive) in (rules?.derive ?? []).enumerated() {
            guard let source = byPath[derive.field], columns[source].type == .timestamp else {
                problems.append(ConfigProblem(file: file, line: derive.line, keyPath: "derive[\(index)].field", message: "derive '\(derive.name)' needs a timestamp field, and '\(derive.field)' is not one", fix: "use event_time_utc, ingest_time_utc or a payload field with format date-time"))
                continue
            }
            guard byPath[derive.name] == nil else {
                problems.append(ConfigProblem(file: file, line: derive.line, keyPath: "derive[\(index)].name", message: "derive '\(derive.name)': a column of that name already exists", fix: "choose another name"))
                continue
            }
            columns.append(SilverColumn(name: derive.name, type: derive.function == "local_date" ? .date : .integer,
                                        origin: .derived(function: derive.function, source: source), fieldPath: derive.name))
            byPath[derive.name] = columns.count - 1
        }
        for (name, type, origin) in [("attributes", DeltaType.string, SilverColumn.Origin.attributes),
                                     ("_rescued_data", .string, .rescued), ("_quality_warnings", .string, .warnings),
                                     ("_source_id", .string, .sourceID), ("_source_partition", .long, .sourcePartition),
                                     ("_source_offset", .long, .sourceOffset)] {
            if byPath[name] != nil {
                let owner = leafFiles[name] ?? (columns[byPath[name]!].origin == .payload([name]) ? "schemas/event_types/\(eventType)" : file)
                throw ConfigProblem(file: owner, line: 1, keyPath: "properties.\(name)",
                                    message: "'\(name)' collides with a reserved Silver column (attributes, _rescued_data, _quality_warnings, _source_*)",
                                    fix: "rename the field")
            }
            columns.append(SilverColumn(name: name, type: type, origin: origin, fieldPath: name))
            byPath[name] = columns.count - 1
        }
        self.columns = columns
        columnByPath = byPath
        for (version, tree) in declared {
            declaredColumns[version] = columns.map { c in
                if case .payload(let path) = c.origin { return tree.declares(path) }
                return false
            }
        }
        standardize = rules?.standardize ?? []
        for (index, s) in standardize.enumerated() {
            let at = "standardize[\(index)]"
            guard let i = byPath[s.field], case .payload = columns[i].origin else {
                problems.append(ConfigProblem(file: file, line: s.line, keyPath: "\(at).field", message: "standardize names '\(s.field)', which is not a payload field of \(eventType)", fix: "name a field of the payload schema"))
                continue
            }
            if s.op == "to_celsius", columns[i].type != .double {
                problems.append(ConfigProblem(file: file, line: s.line, keyPath: "\(at).op",
                    message: "to_celsius on '\(s.field)', a \(columns[i].type.deltaName) column: converted values have decimals",
                    fix: "declare \(s.field) as \"type\": \"number\" in its schema"))
            }
            let textOps: Set<String> = ["trim", "lowercase", "uppercase", "to_utc"]
            if textOps.contains(s.op), ![DeltaType.string, .timestamp].contains(columns[i].type) {
                problems.append(ConfigProblem(file: file, line: s.line, keyPath: "\(at).op",
                    message: "\(s.op) on '\(s.field)', a \(columns[i].type.deltaName) column: it applies to text", fix: "apply it to a string field"))
            }
        }
        var compiled: [CompiledRule] = []
        for rule in rules?.rules ?? [] {
            do throws(ConfigProblem) {
                compiled.append(try CompiledRule(rule, columns: columns, byPath: byPath, file: file))
            } catch {
                problems.append(error)
            }
        }
        self.rules = compiled
        self.problems = problems
    }

    /// Walks `properties`, flattening nested objects that declare their own
    /// properties; every other property is one leaf column.
    private static func collectLeaves(_ schema: JSONValue, root: JSONValue, path: [String],
                                      into leaves: inout [(path: [String], type: DeltaType)], declared: inout DeclaredFields) {
        guard case .object(let properties)? = schema["properties"] else { return }
        for (name, sub) in properties {
            let resolved = resolveRef(sub, root: root)
            let childPath = path + [name]
            if typeNames(resolved).subtracting(["null"]) == ["object"], case .object? = resolved["properties"] {
                var nested = DeclaredFields()
                collectLeaves(resolved, root: root, path: childPath, into: &leaves, declared: &nested)
                declared.children[name] = nested
            } else {
                declared.children[name] = DeclaredFields(isLeaf: true)
                leaves.append((childPath, leafType(resolved)))
            }
        }
    }

    private static func resolveRef(_ schema: JSONValue, root: JSONValue) -> JSONValue {
        guard case .string(let ref)? = schema["$ref"], ref.hasPrefix("#/") else { return schema }
        var node = root
        for token in ref.dropFirst(2).split(separator: "/") {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node[key] else { return schema }
            node = next
        }
        return node
    }

    private static func typeNames(_ schema: JSONValue) -> Set<String> {
        switch schema["type"] {
        case .string(let t)?: return [t]
        case .array(let items)?: return Set(items.compactMap { if case .string(let t) = $0 { t } else { nil } })
        default: return []
        }
    }

    /// integer → long, number → double, boolean, string (date-time →
    /// timestamp, date → date); anything else (arrays, objects without
    /// properties, several types) is kept as JSON text.
    private static func leafType(_ schema: JSONValue) -> DeltaType {
        let types = typeNames(schema).subtracting(["null"])
        guard types.count == 1 || types == ["integer", "number"] else { return .string }
        if types == ["integer", "number"] { return .double }
        switch types.first! {
        case "integer": return .long
        case "number": return .double
        case "boolean": return .boolean
        case "string":
            if case .string(let format)? = schema["format"] {
                if format == "date-time" { return .timestamp }
                if format == "date" { return .date }
            }
            return .string
        default: return .string
        }
    }
}

/// The property tree a schema version declares.
package struct DeclaredFields: Sendable {
    package var isLeaf = false
    package var children: [String: DeclaredFields] = [:]

    /// Whether the leaf at `path` is declared.
    package func declares(_ path: [String]) -> Bool {
        var node = self
        for key in path {
            guard let next = node.children[key] else { return false }
            node = next
        }
        return node.isLeaf
    }
}

/// A rule ready to evaluate against a row's values.
package struct CompiledRule: @unchecked Sendable {
    package enum Kind: Sendable {
        case notNull
        case range(min: Double?, max: Double?)
        case regex(JSONSchema.Pattern)
        case allowed([JSONValue])
        case crossField(op: String, other: Int)
        case freshness(maxAgeMicros: Int64)
        case unique(windowMicros: Int64)
    }

    package var rule: QualityRule
    package var kind: Kind
    /// The column the rule reads, or nil for `attributes.<key>`.
    package var column: Int?
    package var attributeKey: String?

    init(_ rule: QualityRule, columns: [SilverColumn], byPath: [String: Int], file: String) throws(ConfigProblem) {
        self.rule = rule
        func problem(_ message: String, _ fix: String) -> ConfigProblem {
            ConfigProblem(file: rule.file.isEmpty ? file : rule.file, line: rule.line, keyPath: "rules.\(rule.name)", message: message, fix: fix)
        }
        if rule.field.hasPrefix("attributes.") {
            attributeKey = String(rule.field.dropFirst("attributes.".count))
        } else if let i = byPath[rule.field] {
            column = i
        } else {
            throw problem("field '\(rule.field)' is not a column of the Silver table", "use an envelope field, a payload field or an enriched one")
        }
        // What the rule reads must be of a type the rule can judge; otherwise
        // it fails (drops, or stops the stage) on every record.
        let type: DeltaType = column.map { columns[$0].type } ?? .string
        let numeric: Set<DeltaType> = [.long, .double, .integer]
        func wrongType(_ wants: String, _ fix: String) -> ConfigProblem {
            problem("\(rule.kind) needs \(wants), and '\(rule.field)' is a \(type.deltaName) column", fix)
        }
        switch rule.kind {
        case "range" where !numeric.contains(type):
            throw wrongType("a numeric field", "use range on an integer or number field (allowed_values or regex for text)")
        case "regex" where type != .string:
            // A typed value is no longer the text the sender wrote (5 and 5.0, a
            // timestamp normalised to UTC microseconds): a pattern on it misleads.
            throw wrongType("a text field", "use range on a number, freshness or cross_field on a timestamp, allowed_values on a boolean")
        case "freshness" where type != .timestamp:
            throw wrongType("a timestamp field", "use event_time_utc, ingest_time_utc or a payload field with format date-time")
        case "allowed_values":
            for value in rule.values {
                let fits: Bool
                switch value {
                case .string: fits = type == .string
                case .number: fits = numeric.contains(type)
                case .bool: fits = type == .boolean
                default: fits = false
                }
                if !fits {
                    let shown: String
                    switch value {
                    case .string(let t): shown = "\"\(t)\""
                    case .number(let n): shown = n
                    case .bool(let b): shown = String(b)
                    default: shown = "null"
                    }
                    throw problem("allowed value \(shown) can never equal '\(rule.field)', a \(type.deltaName) column",
                                  "list values of the field's type")
                }
            }
        default: break
        }
        switch rule.kind {
        case "not_null": kind = .notNull
        case "range": kind = .range(min: rule.min, max: rule.max)
        case "regex":
            do {
                kind = .regex(try JSONSchema.Pattern(rule.pattern ?? ""))
            } catch {
                throw problem("'\(rule.pattern ?? "")' is not a valid regular expression", "fix the pattern")
            }
        case "allowed_values": kind = .allowed(rule.values)
        case "cross_field":
            guard let other = rule.otherField.flatMap({ byPath[$0] }) else {
                throw problem("other_field '\(rule.otherField ?? "")' is not a column of the Silver table", "name an envelope, payload or enriched field")
            }
            let otherType = columns[other].type
            let comparable = type == otherType || (numeric.contains(type) && numeric.contains(otherType))
            if !comparable {
                throw problem("cross_field compares '\(rule.field)' (\(type.deltaName)) with '\(rule.otherField!)' (\(otherType.deltaName)): they can never compare",
                              "compare fields of the same type")
            }
            if type == .boolean, !["eq", "ne"].contains(rule.op ?? "eq") {
                throw problem("cross_field op '\(rule.op ?? "")' orders booleans", "use eq or ne on boolean fields")
            }
            kind = .crossField(op: rule.op ?? "eq", other: other)
        case "freshness": kind = .freshness(maxAgeMicros: Int64(rule.maxAgeSeconds ?? 86_400) * 1_000_000)
        case "unique": kind = .unique(windowMicros: Int64(rule.windowSeconds) * 1_000_000)
        default: throw problem("unknown rule kind '\(rule.kind)'", "use one of \(ConfigSchemas.ruleKinds.joined(separator: ", "))")
        }
    }

    package var isUnique: Bool { if case .unique = kind { true } else { false } }
}

extension ConfigTree {
    /// What `medallion check` reports: every problem of the tree and its
    /// merges, plus what only compiling the Silver programs finds (a rule on
    /// a field of the wrong type, a standardisation that cannot apply, a type
    /// conflict between schema versions), for each tenant in each checked
    /// environment and for event types no tenant enables yet. Nothing waits
    /// for anything else to be clean: one run lists every problem.
    package static func checkAll(root: String, envs: [String]?) -> (tree: ConfigTree, problems: [ConfigProblem]) {
        let tree = ConfigTree.load(root: root, withRules: true)
        var problems = tree.check(envs: envs)
        var seen = Set(problems)
        func add(_ more: [ConfigProblem]) { problems += more.filter { seen.insert($0).inserted } }
        // An event type whose own files already have problems is not compiled: its
        // program would only repeat them in other words (as a compiler stops at a
        // parse error). Problems elsewhere in the tree hold nothing back.
        func hasOwnProblems(_ eventType: String) -> Bool {
            problems.contains { $0.file.hasPrefix("schemas/event_types/\(eventType)/") || $0.file == "rules/event_types/\(eventType).yaml" }
        }
        func compile(_ eventType: String, sites: [TenantSettings.Site]) {
            do {
                _ = try SilverProgram(eventType: eventType, schemas: tree.schemas[eventType]!, rules: tree.rules[eventType], sites: sites)
            } catch {
                add(error.problems)
            }
        }
        let clean = Set(tree.schemas.filter { eventType, schemas in
            !schemas.isEmpty && schemas.allSatisfy { $0.validator != nil } && !hasOwnProblems(eventType)
        }.keys)
        var compiled = Set<String>()
        for tenant in tree.tenantNames where tree.tenantFiles[tenant] != nil {
            for env in tree.environments(of: tenant, envs) {
                guard let settings = try? tree.settings(tenant: tenant, env: env) else { continue }
                for eventType in settings.eventTypes where clean.contains(eventType) {
                    compiled.insert(eventType)
                    compile(eventType, sites: settings.sites)
                }
            }
        }
        for eventType in clean.subtracting(compiled).sorted() { compile(eventType, sites: []) }
        // The rules' unit tests (`<e>.tests.yaml`): their format and references (a
        // failing test is `medallion test`'s verdict, not a problem of the tree).
        let testable = tree.ruleTestFiles.filter { e in tree.schemas[e] == nil || clean.contains(e) && !hasOwnProblems(e) }
        if !testable.isEmpty {
            do {
                _ = try RuleTests.run(root: root, env: envs?.first ?? "dev", eventTypes: testable)
            } catch {
                add(error.problems)
            }
        }
        return (tree, sortedUnique(problems))
    }

    /// The Silver programs of a tenant's enabled event types (or of `only`),
    /// with the tenant's settings. Problems in the tenant's files, in the
    /// schemas and rules of those event types, or in compiling them are all
    /// reported together.
    package static func silverPrograms(root: String, tenant: String, env: String,
                                       only: [String]? = nil) throws(ConfigError) -> (TenantSettings, [SilverProgram]) {
        let tree = ConfigTree.load(root: root, tenant: tenant, withRules: true)
        let settings = try tree.settings(tenant: tenant, env: env)
        let eventTypes = only ?? settings.eventTypes
        if let unknown = eventTypes.first(where: { !settings.eventTypes.contains($0) }) {
            throw ConfigError([ConfigProblem(file: "configs/tenants/\(tenant)/tenant.yaml", line: 1, keyPath: "event_types",
                message: "event type '\(unknown)' is not enabled for tenant \(tenant) (enabled: \(settings.eventTypes.joined(separator: ", ")))",
                fix: "enable it in the tenant's event_types, or leave it out of --event-types")])
        }
        var problems = tree.problems.filter { p in
            eventTypes.contains { p.file.hasPrefix("schemas/event_types/\($0)/") || p.file == "rules/event_types/\($0).yaml" }
        }
        var programs: [SilverProgram] = []
        for eventType in eventTypes {
            guard let schemas = tree.schemas[eventType], !schemas.isEmpty else {
                problems.append(ConfigProblem(file: "configs/tenants/\(tenant)/tenant.yaml", line: 1, keyPath: "event_types",
                    message: "event type '\(eventType)' has no schema", fix: "add schemas/event_types/\(eventType)/v1.0.json"))
                continue
            }
            do {
                programs.append(try SilverProgram(eventType: eventType, schemas: schemas, rules: tree.rules[eventType], sites: settings.sites))
            } catch {
                problems += error.problems
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return (settings, programs)
    }
}

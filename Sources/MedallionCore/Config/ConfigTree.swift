import Foundation

/// The whole configuration tree under one root directory:
///
/// ```
/// configs/global/platform.yaml
/// configs/tenants/<t>/tenant.yaml, dev.yaml, stage.yaml, prod.yaml
/// schemas/event_types/<e>/v<MAJOR>.<MINOR>.json
/// rules/event_types/<e>.yaml
/// pipelines/<t>.yaml
/// ```
///
/// Loading never stops at the first mistake: every file is read, checked
/// against its shape and cross-checked against the others, and `problems`
/// holds everything found, sorted by file and line.
package struct ConfigTree: Sendable {
    package let root: String
    package private(set) var problems: [ConfigProblem] = []
    package private(set) var platform: ConfigValue?
    /// Tenant name → its `tenant.yaml`, for tenants whose file could be read.
    package private(set) var tenantFiles: [String: ConfigValue] = [:]
    /// Tenant name → environment → overlay.
    package private(set) var overlays: [String: [String: ConfigValue]] = [:]
    /// Names of the tenant folders (readable or not), sorted.
    package private(set) var tenantNames: [String] = []
    /// Event type → its schema versions, sorted by version.
    package private(set) var schemas: [String: [PayloadSchema]] = [:]
    package private(set) var rules: [String: EventTypeRules] = [:]
    package private(set) var pipelines: [String: PipelineSpec] = [:]
    private var secretProblems: [ConfigProblem] = []

    static let platformFile = "configs/global/platform.yaml"

    /// Envelope fields a rule, a group-by or an enrichment key may name
    /// besides the payload's own fields.
    package static let envelopeFields: Set<String> = [
        "tenant_id", "site_id", "device_id", "device_type", "event_type", "event_id",
        "event_time_utc", "ingest_time_utc", "schema_version", "source_system",
    ]

    /// Reads and checks the tree. With `tenant`, only what that tenant's
    /// filters need is read (platform, that tenant's files, the names of the
    /// event types), so a mistake in another tenant's file does not stop it.
    package static func load(root: String, tenant only: String? = nil, withRules: Bool = false) -> ConfigTree {
        var tree = ConfigTree(root: root)
        tree.loadAll(only: only, withRules: withRules)
        // A secret on a line already reported (an unknown `connection_string`
        // key, a secret in `connection_string_env`) is one mistake, not two.
        let located = Set(tree.problems.map { "\($0.file):\($0.line)" })
        tree.problems += tree.secretProblems.filter { !located.contains("\($0.file):\($0.line)") }
        tree.secretProblems = []
        tree.problems = Self.sortedUnique(tree.problems)
        return tree
    }

    private init(root: String) { self.root = root }

    // MARK: - Merged settings

    /// The merged settings value of a tenant in an environment (global →
    /// tenant → environment), with the problems found in the merge.
    /// Mappings merge key by key; a list or a scalar in a later layer
    /// replaces the earlier one whole.
    package func mergedValue(tenant: String, env: String) -> (value: ConfigValue?, problems: [ConfigProblem]) {
        let tenantPath = "configs/tenants/\(tenant)/tenant.yaml"
        guard let tenantFile = tenantFiles[tenant] else {
            let known = tenantNames.isEmpty ? "none" : tenantNames.joined(separator: ", ")
            let exists = tenantNames.contains(tenant)
            return (nil, [ConfigProblem(
                file: tenantPath, line: 1, keyPath: "",
                message: exists ? "the tenant's file has errors" : "no such tenant '\(tenant)' (known: \(known))",
                fix: exists ? "fix the problems reported for this file" : "run `medallion onboard tenant \(tenant)`, or pick a known tenant")])
        }
        guard ConfigSchemas.environments.contains(env) else {
            return (nil, [ConfigProblem(file: tenantPath, line: 1, keyPath: "", message: "unknown environment '\(env)'",
                                        fix: "use one of \(ConfigSchemas.environments.joined(separator: ", "))")])
        }
        let strip: Set<String> = ["version"]
        var merged = platform?.removing(strip) ?? ConfigValue(.map([]), origin: ConfigOrigin(file: tenantPath, line: 1))
        merged = Self.merge(merged, tenantFile.removing(strip))
        if let overlay = overlays[tenant]?[env] { merged = Self.merge(merged, overlay.removing(strip)) }
        merged.origin = ConfigOrigin(file: tenantPath, line: 1)
        var checker = ShapeChecker(checkTypes: false, checkRequired: true)
        checker.check(merged, ConfigSchemas.merged, path: "")
        return (merged, checker.problems)
    }

    /// The typed settings, or every problem that prevents them: problems in
    /// the files this tenant reads and problems of the merge.
    package func settings(tenant: String, env: String) throws(ConfigError) -> TenantSettings {
        let (value, mergeProblems) = mergedValue(tenant: tenant, env: env)
        let files: Set<String> = [Self.platformFile, "configs/tenants/\(tenant)/tenant.yaml", "configs/tenants/\(tenant)/\(env).yaml"]
        let relevant = problems.filter { files.contains($0.file) || $0.file.hasPrefix("schemas/") && $0.message.hasPrefix("no schema") }
            + mergeProblems
        if !relevant.isEmpty || value == nil { throw ConfigError(Self.sortedUnique(relevant)) }
        return TenantSettings(merged: value!, env: env)
    }

    /// Every problem of the tree plus those of each tenant's merge in `envs`
    /// (default: each environment a tenant has an overlay for, or `dev`).
    package func check(envs: [String]? = nil) -> [ConfigProblem] {
        var all = problems
        for tenant in tenantNames where tenantFiles[tenant] != nil {
            for env in environments(of: tenant, envs) { all += mergedValue(tenant: tenant, env: env).problems }
        }
        return Self.sortedUnique(all)
    }

    /// The environments `check` looks at for a tenant: `envs` when given,
    /// else each one it has an overlay for (dev when it has none).
    package func environments(of tenant: String, _ envs: [String]? = nil) -> [String] {
        if let envs { return envs }
        let own = ConfigSchemas.environments.filter { overlays[tenant]?[$0] != nil }
        return own.isEmpty ? ["dev"] : own
    }

    package static func merge(_ base: ConfigValue, _ overlay: ConfigValue) -> ConfigValue {
        guard case .map(var entries) = base.kind, case .map(let over) = overlay.kind else { return overlay }
        for entry in over {
            if let i = entries.firstIndex(where: { $0.key == entry.key }) {
                entries[i] = ConfigEntry(key: entry.key, keyOrigin: entry.keyOrigin, value: merge(entries[i].value, entry.value))
            } else {
                entries.append(entry)
            }
        }
        return ConfigValue(.map(entries), origin: base.origin)
    }

    static func sortedUnique(_ problems: [ConfigProblem]) -> [ConfigProblem] {
        var seen: Set<ConfigProblem> = []
        return problems.filter { seen.insert($0).inserted }
            .enumerated()
            .sorted { a, b in
                (a.element.file, a.element.line, a.offset) < (b.element.file, b.element.line, b.offset)
            }
            .map(\.element)
    }

    // MARK: - Loading

    private mutating func report(_ file: String, _ line: Int, _ path: String, _ message: String, _ fix: String) {
        problems.append(ConfigProblem(file: file, line: line, keyPath: path, message: message, fix: fix))
    }

    private mutating func report(_ origin: ConfigOrigin, _ path: String, _ message: String, _ fix: String) {
        report(origin.file, origin.line, path, message, fix)
    }

    private func path(_ relative: String) -> String { ConfigPath.join(root, relative) }

    private func isDirectory(_ relative: String) -> Bool {
        var dir = false
        return FileIO.exists(path(relative), isDirectory: &dir) && dir
    }

    private func list(_ relative: String) -> [String] {
        ((try? FileIO.listDirectory(path(relative))) ?? nil)?.filter { !$0.hasPrefix(".") }.sorted() ?? []
    }

    /// Reads and parses a YAML file, checks `version` and its shape.
    /// `complete`: the file alone must hold every required key (platform,
    /// rules, pipelines). Tenant files and overlays are checked for types
    /// only, plus `version` (and `tenant`); the merge checks the rest.
    private mutating func readYAML(_ relative: String, shape: Shape, required: Bool = true, complete: Bool = true,
                                   mustHave: [String] = ["version"], missingFix: String) -> ConfigValue? {
        let bytes: [UInt8]?
        do {
            bytes = try FileIO.readFileIfExists(path(relative))
        } catch {
            report(relative, 1, "", "cannot read the file: \(error.description)", "check its permissions")
            return nil
        }
        guard let bytes else {
            if required { report(relative, 1, "", "missing file", missingFix) }
            return nil
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            report(relative, 1, "", "the file is not valid UTF-8", "save it as UTF-8")
            return nil
        }
        switch ConfigValue.parseYAML(text, file: relative) {
        case .failure(let problem):
            problems.append(problem)
            return nil
        case .success(let value):
            guard case .map = value.kind else {
                report(value.origin, "", "the file must be a mapping of keys, got \(value.kindName)",
                       "start the file with `version: 1` and one `key: value` per line")
                return nil
            }
            if let version = value.entry("version") {
                if let v = version.value.int, v != ConfigSchemas.formatVersion {
                    report(version.value.origin, "version", "unsupported format version \(version.value.renderJSON())",
                           "this medallion reads `version: \(ConfigSchemas.formatVersion)`; write that, or upgrade medallion")
                }
            }
            var checker = ShapeChecker(checkTypes: true, checkRequired: complete)
            checker.check(value, shape, path: "")
            problems += checker.problems
            if !complete {
                for key in mustHave where value[key] == nil {
                    report(value.origin, key, "missing required key '\(key)'",
                           key == "version" ? "add `version: \(ConfigSchemas.formatVersion)` at the top of the file" : "add `\(key):` (see docs/configuration.md)")
                }
            }
            scanForSecrets(value, path: "")
            return value
        }
    }

    private mutating func loadAll(only: String?, withRules: Bool) {
        if !isDirectory("configs") {
            report(Self.platformFile, 1, "", "no configuration tree here (no configs/ folder under '\(root)')",
                   "run in the tree's root or pass --config DIR; `medallion onboard tenant NAME` starts a tenant")
            return
        }
        platform = readYAML(Self.platformFile, shape: ConfigSchemas.platform,
                            missingFix: "create it with `version: 1` and the platform defaults (see docs/configuration.md)")
        // Anything else under configs/ is read by nothing: most likely a file in the wrong place.
        for entry in list("configs") where entry != "global" && entry != "tenants" {
            report("configs/\(entry)", 1, "", "unexpected entry in configs/ (nothing reads it)",
                   "configs/ holds global/platform.yaml and tenants/<tenant>/; move or remove it")
        }
        for entry in list("configs/global") where entry != "platform.yaml" {
            report("configs/global/\(entry)", 1, "", "unexpected file in configs/global/ (nothing reads it)",
                   "platform defaults go in configs/global/platform.yaml; move or remove it")
        }
        loadSchemas()
        loadTenants(only: only)
        if only != nil, withRules { loadRules() }
        guard only == nil else { return }
        loadRules()
        loadPipelines()
    }

    private mutating func loadTenants(only: String?) {
        let all = list("configs/tenants").filter { isDirectory("configs/tenants/\($0)") }
        tenantNames = all
        for name in all where only == nil || name == only {
            let dir = "configs/tenants/\(name)"
            let file = "\(dir)/tenant.yaml"
            guard EnvelopePolicy.isSafeID(name) else {
                report(file, 1, "", "tenant folder name '\(name)' is not a safe name",
                       "rename the folder to lower-case letters, digits and . _ - ([a-z0-9][a-z0-9._-]{0,63})")
                continue
            }
            guard let value = readYAML(file, shape: ConfigSchemas.tenant, complete: false, mustHave: ["version", "tenant"],
                                       missingFix: "create it: `medallion onboard tenant \(name)` writes a starting point")
            else { continue }
            if let t = value["tenant"], let s = t.string, s != name {
                report(t.origin, "tenant", "the file says tenant '\(s)' but lives in the folder of '\(name)'",
                       "write `tenant: \(name)`, or move the file to configs/tenants/\(s)/")
            }
            tenantFiles[name] = value
            checkEventTypeReferences(value, tenant: name)
            for entry in list(dir) where entry != "tenant.yaml" {
                let overlayFile = "\(dir)/\(entry)"
                let env = entry.hasSuffix(".yaml") ? String(entry.dropLast(5)) : ""
                guard ConfigSchemas.environments.contains(env) else {
                    report(overlayFile, 1, "", "unexpected file in a tenant folder",
                           "a tenant folder holds tenant.yaml and the overlays dev.yaml, stage.yaml, prod.yaml; rename or remove it")
                    continue
                }
                if let overlay = readYAML(overlayFile, shape: ConfigSchemas.overlay, complete: false, missingFix: "") {
                    overlays[name, default: [:]][env] = overlay
                    checkEventTypeReferences(overlay, tenant: name)
                }
            }
        }
        if let only, !all.contains(only) {
            report("configs/tenants/\(only)/tenant.yaml", 1, "", "no such tenant '\(only)' (known: \(all.joined(separator: ", ")))",
                   "run `medallion onboard tenant \(only)`, or pick a known tenant")
        }
    }

    private mutating func checkEventTypeReferences(_ value: ConfigValue, tenant: String) {
        guard let list = value["event_types"] else { return }
        for (i, item) in list.items.enumerated() {
            guard let name = item.string, EnvelopePolicy.isSafeID(name), schemas[name] == nil else { continue }
            let near = ShapeChecker.closest(name, in: Array(schemas.keys)).map { "did you mean '\($0)'? or " } ?? ""
            report(item.origin, "event_types[\(i)]", "event type '\(name)' has no schema (no schemas/event_types/\(name)/)",
                   "\(near)run `medallion onboard event-type \(name)`")
        }
    }

    // MARK: Schemas

    private mutating func loadSchemas() {
        for name in list("schemas/event_types") where isDirectory("schemas/event_types/\(name)") {
            let dir = "schemas/event_types/\(name)"
            guard EnvelopePolicy.isSafeID(name) else {
                report(dir, 1, "", "event type folder name '\(name)' is not a safe name",
                       "rename it to lower-case letters, digits and . _ - ([a-z0-9][a-z0-9._-]{0,63})")
                continue
            }
            var versions: [PayloadSchema] = []
            for file in list(dir) {
                let relative = "\(dir)/\(file)"
                guard let version = Self.schemaVersion(fileName: file) else {
                    report(relative, 1, "", "unexpected file name",
                           "name schema files v<MAJOR>.<MINOR>.json, e.g. v1.0.json, matching the envelope's schema_version")
                    continue
                }
                if let schema = readSchema(relative, eventType: name, version: version) { versions.append(schema) }
            }
            if versions.isEmpty {
                report("\(dir)/v1.0.json", 1, "", "no schema versions for event type '\(name)'",
                       "add \(dir)/v1.0.json, or run `medallion onboard event-type \(name)` in an empty place")
            }
            schemas[name] = versions.sorted { $0.version.split(separator: ".").compactMap { Int($0) }
                .lexicographicallyPrecedes($1.version.split(separator: ".").compactMap { Int($0) }) }
        }
    }

    /// `v1.0.json` → `1.0`.
    static func schemaVersion(fileName: String) -> String? {
        guard fileName.hasPrefix("v"), fileName.hasSuffix(".json") else { return nil }
        let core = fileName.dropFirst().dropLast(5)
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && Int($0) != nil && !$0.hasPrefix("+") })
        else { return nil }
        return String(core)
    }

    /// A schema is JSON, an object with `$schema`, `type: object` and
    /// `properties`, and it must compile with `JSONSchema`: a keyword the
    /// validator does not implement is a problem here (file, line, JSON
    /// pointer), so a schema can never be half enforced by `silver-validate`.
    private mutating func readSchema(_ relative: String, eventType: String, version: String) -> PayloadSchema? {
        guard let bytes = (try? FileIO.readFileIfExists(path(relative))) ?? nil else {
            report(relative, 1, "", "cannot read the file", "check its permissions")
            return nil
        }
        if (try? JSONSerialization.jsonObject(with: Data(bytes))) == nil {
            // Foundation says only "invalid"; the YAML reader (JSON is YAML) finds the line.
            var line = 1
            if case .failure(let p) = ConfigValue.parseYAML(String(decoding: bytes, as: UTF8.self), file: relative) { line = p.line }
            report(relative, line, "", "not valid JSON", "fix the JSON syntax near that line (quotes, commas, braces)")
            return nil
        }
        let parsed = ConfigValue.parseYAML(String(decoding: bytes, as: UTF8.self), file: relative)
        if case .failure(let problem) = parsed {
            // Valid JSON that the line-keeping reader refuses: a key given twice.
            problems.append(problem)
            return nil
        }
        guard case .success(let value) = parsed, case .map = value.kind else {
            report(relative, 1, "", "a schema must be a JSON object", "write {\"$schema\": ..., \"type\": \"object\", \"properties\": {...}}")
            return nil
        }
        if value["$schema"]?.string == nil {
            report(value.origin, "$schema", "missing \"$schema\"",
                   "add \"$schema\": \"https://json-schema.org/draft/2020-12/schema\"")
        }
        if let type = value["type"] {
            if type.string != "object" {
                report(type.origin, "type", "a payload schema must have \"type\": \"object\", got \(type.renderJSON())",
                       "write \"type\": \"object\": the envelope's payload is always an object")
            }
        } else {
            report(value.origin, "type", "missing \"type\"", "add \"type\": \"object\"")
        }
        var fields: Set<String> = []
        if let properties = value["properties"] {
            if case .map = properties.kind {
                Self.collectFields(properties, prefix: "", into: &fields)
            } else {
                report(properties.origin, "properties", "\"properties\" must be an object", "map each field name to its schema")
            }
        } else {
            report(value.origin, "properties", "missing \"properties\"",
                   "list the payload's fields under \"properties\" (rules refer to them by name)")
        }
        let validator = compileSchema(bytes, relative, tree: value,
                                      alreadyReported: Set(problems.filter { $0.file == relative }.map(\.keyPath)))
        return PayloadSchema(eventType: eventType, version: version, file: relative, fields: fields, validator: validator)
    }

    /// Compiles the schema for `silver-validate`, reporting each compile
    /// problem at the line of the keyword (found through the YAML reading
    /// of the same file, which keeps lines) with its JSON pointer. A root
    /// keyword the shape checks above already reported is not reported twice.
    private mutating func compileSchema(_ bytes: [UInt8], _ relative: String, tree: ConfigValue,
                                        alreadyReported: Set<String>) -> JSONSchema? {
        let document: JSONValue
        do {
            document = try JSONValue.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            if case .duplicateKey(let pointer) = error {
                report(relative, Self.line(of: pointer, in: tree), pointer, "key appears more than once in one object",
                       "keep one: readers disagree on which value wins")
            } else if case .syntax(let syntax) = error {
                // Point at the line and column, not a byte offset.
                let before = bytes.prefix(min(syntax.offset, bytes.count))
                let line = before.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
                let column = before.count - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
                report(relative, line, "", "not valid JSON: \(syntax.detail) (column \(column))",
                       "fix the JSON syntax (a trailing comma or a missing quote is the usual cause)")
            } else {
                report(relative, 1, "", error.description, "fix the JSON syntax")
            }
            return nil
        }
        do {
            return try JSONSchema.compile(document)
        } catch {
            for p in error.problems {
                let tokens = JSONPointer.tokens(p.pointer) ?? []
                if tokens.count == 1, alreadyReported.contains(tokens[0]) { continue }
                report(relative, Self.line(of: p.pointer, in: tree), p.pointer, p.summary, p.kind.fix)
            }
            return nil
        }
    }

    /// The line of the key (or list item) a JSON pointer names, or of the
    /// deepest ancestor found.
    static func line(of pointer: String, in tree: ConfigValue) -> Int {
        var node = tree
        var line = tree.origin.line
        for token in JSONPointer.tokens(pointer) ?? [] {
            if let entry = node.entry(token) {
                line = entry.keyOrigin.line
                node = entry.value
            } else if let i = Int(token), i >= 0, i < node.items.count {
                node = node.items[i]
                line = node.origin.line
            } else {
                break
            }
        }
        return line
    }

    private static func collectFields(_ properties: ConfigValue, prefix: String, into fields: inout Set<String>) {
        for entry in properties.entries {
            let name = prefix.isEmpty ? entry.key : "\(prefix).\(entry.key)"
            fields.insert(name)
            if let nested = entry.value["properties"], case .map = nested.kind {
                collectFields(nested, prefix: name, into: &fields)
            }
        }
    }

    // MARK: Rules

    /// Event types that have a `rules/event_types/<e>.tests.yaml`.
    package var ruleTestFiles: [String] {
        list("rules/event_types").filter { $0.hasSuffix(".tests.yaml") }.map { String($0.dropLast(".tests.yaml".count)) }
    }

    private mutating func loadRules() {
        for file in list("rules/event_types") where !file.hasSuffix(".tests.yaml") {  // `medallion test` reads those
            let relative = "rules/event_types/\(file)"
            guard file.hasSuffix(".yaml") else {
                report(relative, 1, "", "unexpected file", "rules files are named <event_type>.yaml")
                continue
            }
            let eventType = String(file.dropLast(5))
            guard let value = readYAML(relative, shape: ConfigSchemas.rules, missingFix: "") else { continue }
            guard let versions = schemas[eventType] else {
                let near = ShapeChecker.closest(eventType, in: Array(schemas.keys)).map { "rename it to \($0).yaml, or " } ?? ""
                report(relative, 1, "", "rules for event type '\(eventType)', which has no schema (no schemas/event_types/\(eventType)/)",
                       "\(near)add the schema with `medallion onboard event-type \(eventType)`")
                continue
            }
            if let e = value["event_type"], let s = e.string, s != eventType {
                report(e.origin, "event_type", "the file says event type '\(s)' but is named \(file)",
                       "write `event_type: \(eventType)`, or rename the file to \(s).yaml")
            }
            checkRuleReferences(value, eventType: eventType, versions: versions)
            rules[eventType] = EventTypeRules(value, eventType: eventType)
        }
    }

    private mutating func checkRuleReferences(_ value: ConfigValue, eventType: String, versions: [PayloadSchema]) {
        let payloadFields = versions.reduce(into: Set<String>()) { $0.formUnion($1.fields) }
        let newest = versions.last?.file ?? "schemas/event_types/\(eventType)/v1.0.json"
        func checkField(_ v: ConfigValue?, _ path: String, extra: Set<String> = []) {
            guard let v, let name = v.string, ShapeChecker.isFieldPathForCheck(name) else { return }
            if payloadFields.contains(name) || Self.envelopeFields.contains(name) || extra.contains(name)
                || name.hasPrefix("attributes.") { return }
            let near = ShapeChecker.closest(name, in: Array(payloadFields) + Array(Self.envelopeFields))
                .map { "did you mean '\($0)'? or " } ?? ""
            report(v.origin, path, "field '\(name)' is in no schema version of \(eventType) nor in the envelope",
                   "\(near)add it to the properties of \(newest)")
        }
        // Rules run on the final Silver row, so they may name enriched and derived columns.
        let rowColumns = Set((value["enrich"]?.items ?? []).flatMap { $0["fields"]?.strings ?? [] }.map { $0 == "name" ? "site_name" : $0 })
            .union((value["derive"]?.items ?? []).compactMap { $0["name"]?.string })
        var ruleNames: Set<String> = []
        for (i, rule) in value["rules"]?.items.enumerated().map({ $0 }) ?? [] {
            let path = "rules[\(i)]"
            checkField(rule["field"], "\(path).field", extra: rowColumns)
            checkField(rule["other_field"], "\(path).other_field", extra: rowColumns)
            if let name = rule["name"]?.string, !ruleNames.insert(name).inserted {
                report(rule["name"]!.origin, "\(path).name", "rule name '\(name)' is used twice",
                       "give each rule its own name: it is the reason code of the records it drops")
            }
            guard let kind = rule["kind"]?.string else { continue }
            let needs: [String: [String]] = [
                "range": ["min|max"], "regex": ["pattern"], "allowed_values": ["values"],
                "freshness": ["max_age_seconds"], "cross_field": ["op", "other_field"],
            ]
            for need in needs[kind] ?? [] {
                let options = need.split(separator: "|").map(String.init)
                if !options.contains(where: { rule[$0] != nil }) {
                    report(rule.origin, path, "a \(kind) rule needs `\(options.joined(separator: "` or `"))`",
                           "add `\(options[0]):` to the rule (see docs/configuration.md, Rules)")
                }
            }
            if let pattern = rule["pattern"], let p = pattern.string, (try? JSONSchema.Pattern(p)) == nil {
                report(pattern.origin, "\(path).pattern", "'\(p)' is not a valid regular expression",
                       "fix the pattern; quote it in single quotes so YAML keeps backslashes")
            }
        }
        for (i, s) in value["standardize"]?.items.enumerated().map({ $0 }) ?? [] {
            checkField(s["field"], "standardize[\(i)].field")
            checkField(s["unit_field"], "standardize[\(i)].unit_field")
            if s["op"]?.string == "to_celsius", s["unit_field"] == nil {
                report(s.origin, "standardize[\(i)]", "to_celsius needs `unit_field` (the field that says C or F)",
                       "add `unit_field: unit`")
            }
            if s["op"]?.string == "map", s["values"] == nil {
                report(s.origin, "standardize[\(i)]", "map needs `values` (old value: new value)",
                       "add e.g. `values: {IN: in, OUT: out}`")
            }
            if s["values"] != nil, s["op"]?.string != "map" {
                report(s["values"]!.origin, "standardize[\(i)].values", "`values` only applies to op map",
                       "remove it, or write `op: map`")
            }
        }
        var derived: Set<String> = []
        for (i, d) in value["derive"]?.items.enumerated().map({ $0 }) ?? [] {
            checkField(d["field"], "derive[\(i)].field")
            if let name = d["name"]?.string {
                if payloadFields.contains(name) || Self.envelopeFields.contains(name) || !derived.insert(name).inserted {
                    report(d["name"]!.origin, "derive[\(i)].name", "column '\(name)' already exists",
                           "choose a new column name, e.g. event_date_local")
                }
            }
        }
        var enriched: Set<String> = []
        for (i, e) in value["enrich"]?.items.enumerated().map({ $0 }) ?? [] {
            checkField(e["key"], "enrich[\(i)].key")
            for (j, f) in (e["fields"]?.items ?? []).enumerated() {
                guard let name = f.string else { continue }
                if !ConfigSchemas.siteColumns.contains(name) {
                    report(f.origin, "enrich[\(i)].fields[\(j)]", "sites have no column '\(name)'",
                           "use one of \(ConfigSchemas.siteColumns.joined(separator: ", "))")
                }
                enriched.insert(name)
            }
        }
        var goldNames: Set<String> = []
        for (i, g) in value["gold"]?.items.enumerated().map({ $0 }) ?? [] {
            if let name = g["name"]?.string, !goldNames.insert(name).inserted {
                report(g["name"]!.origin, "gold[\(i)].name", "gold table '\(name)' is defined twice", "give each table its own name")
            }
            for (j, f) in (g["group_by"]?.items ?? []).enumerated() {
                checkField(f, "gold[\(i)].group_by[\(j)]", extra: enriched.union(derived))
            }
            for (j, m) in (g["measures"]?.items ?? []).enumerated() {
                checkField(m["field"], "gold[\(i)].measures[\(j)].field", extra: enriched.union(derived))
                if m["fn"]?.string != "count", m["field"] == nil {
                    report(m.origin, "gold[\(i)].measures[\(j)]", "\(m["fn"]?.string ?? "this") needs a `field`",
                           "add `field:` naming the value to aggregate (only count has none)")
                }
            }
        }
    }

    // MARK: Pipelines

    private mutating func loadPipelines() {
        for file in list("pipelines") {
            let relative = "pipelines/\(file)"
            guard file.hasSuffix(".yaml") else {
                report(relative, 1, "", "unexpected file", "pipeline specs are named <tenant>.yaml")
                continue
            }
            let name = String(file.dropLast(5))
            guard let value = readYAML(relative, shape: ConfigSchemas.pipeline, missingFix: "") else { continue }
            if let t = value["tenant"], let s = t.string {
                if s != name {
                    report(t.origin, "tenant", "the pipeline says tenant '\(s)' but is named \(file)",
                           "write `tenant: \(name)`, or rename the file to \(s).yaml")
                } else if !tenantNames.contains(s) {
                    report(t.origin, "tenant", "no tenant '\(s)' (no configs/tenants/\(s)/)",
                           "run `medallion onboard tenant \(s)`, or fix the name")
                }
            }
            checkWiring(value)
            pipelines[name] = PipelineSpec(value)
        }
    }

    private mutating func checkWiring(_ value: ConfigValue) {
        let stages = value["stages"]?.items ?? []
        var byName: [String: String] = [:]
        var position: [String: Int] = [:]
        for (i, s) in stages.enumerated() {
            guard let name = s["name"]?.string else { continue }
            if byName[name] != nil {
                report(s["name"]!.origin, "stages[\(i)].name", "stage name '\(name)' is used twice", "give each stage its own name")
            }
            byName[name] = s["run"]?.string
            position[name] = position[name] ?? i
        }
        for (i, s) in stages.enumerated() {
            let path = "stages[\(i)]"
            let run = s["run"]?.string
            if let input = s["input"], let target = input.string {
                if byName[target] == nil {
                    let near = ShapeChecker.closest(target, in: Array(byName.keys)).map { "did you mean '\($0)'? " } ?? ""
                    report(input.origin, "\(path).input", "no stage named '\(target)' in this pipeline",
                           "\(near)name one of: \(stages.compactMap { $0["name"]?.string }.joined(separator: ", "))")
                } else if target == s["name"]?.string {
                    report(input.origin, "\(path).input", "a stage cannot read its own output", "name the stage before it")
                } else if byName[target] == "dlq-sink" {
                    report(input.origin, "\(path).input", "'\(target)' is a dlq-sink; its output is stored rejects",
                           "read from the stage whose records you want")
                } else if let at = position[target], at > i {
                    // Flow order keeps the wiring readable and rules out cycles
                    // (bronze reading silver reading bronze).
                    report(input.origin, "\(path).input", "'\(target)' is listed after this stage; stages are listed in the order records flow",
                           "move '\(target)' above '\(s["name"]?.string ?? path)' (a loop between stages is never valid)")
                }
                if run == "eh-source" || run == "dlq-sink" {
                    report(input.origin, "\(path).input", "\(run!) takes no `input`",
                           run == "eh-source" ? "remove it: eh-source reads Event Hubs" : "remove it: dlq-sink reads the DLQ streams of the stages that name it in `dlq`")
                }
            } else if let run, run != "eh-source", run != "dlq-sink" {
                report(s.origin, path, "\(run) needs an `input`", "add `input:` naming the stage it reads from")
            }
            if let dlq = s["dlq"], let target = dlq.string {
                if run == "dlq-sink" {
                    report(dlq.origin, "\(path).dlq", "a dlq-sink has no DLQ stream of its own: a record it cannot store stops it",
                           "remove `dlq:` from this stage")
                } else if byName[target] != "dlq-sink" {
                    report(dlq.origin, "\(path).dlq", "'\(target)' is not a dlq-sink stage of this pipeline",
                           "name a stage with `run: dlq-sink`")
                }
            }
        }
    }

    // MARK: Secrets

    /// Secrets never sit in configuration: a value that looks like a
    /// connection string or key is an error wherever it appears.
    private mutating func scanForSecrets(_ value: ConfigValue, path: String) {
        switch value.kind {
        case .string(let s):
            let markers = ["SharedAccessKey=", "SharedAccessSignature", "AccountKey=", "Password=", "password=", "sig="]
            if markers.contains(where: { s.contains($0) }) {
                secretProblems.append(ConfigProblem(
                    file: value.origin.file, line: value.origin.line, keyPath: path, message: "a secret is written in the file",
                    fix: "remove it (and rotate it: it may be in version control), export it as an environment variable and name that variable with `connection_string_env`"))
            }
        case .map(let entries):
            for e in entries { scanForSecrets(e.value, path: ShapeChecker.join(path, e.key)) }
        case .list(let items):
            for (i, item) in items.enumerated() { scanForSecrets(item, path: "\(path)[\(i)]") }
        default: break
        }
    }
}

extension ShapeChecker {
    /// Only names that passed the shape check are cross-checked, so a bad
    /// name is reported once.
    static func isFieldPathForCheck(_ s: String) -> Bool { isFieldPath(s) }
}

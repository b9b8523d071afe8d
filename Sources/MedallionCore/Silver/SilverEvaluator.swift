import Foundation

/// The envelope's text fields of one record, decoded, by field.
package struct EnvelopeStrings {
    private var values = [String?](repeating: nil, count: EnvelopeField.allCases.count)

    package init() {}

    package subscript(field: EnvelopeField) -> String? {
        get { values[field.rawValue] }
        set { values[field.rawValue] = newValue }
    }
}

/// What became of one record in Silver.
package enum SilverOutcome: Equatable {
    /// Kept: the row is in `SilverEvaluator.row`; `warnings` are the `warn` rules it failed.
    case kept(warnings: [String])
    /// To the DLQ: an unknown schema version, a schema violation, a `drop` rule, a duplicate.
    case dropped(Rejection)
    /// A `fail` rule: the batch must not be committed.
    case failed(rule: String, message: String)
}

/// Per-rule counts of one event type, for one batch (or one dry run).
package struct RuleCounts: Sendable, Equatable {
    package var passed: [Int]
    package var failed: [Int]

    init(rules: Int) {
        passed = Array(repeating: 0, count: rules)
        failed = Array(repeating: 0, count: rules)
    }

    package var isEmpty: Bool { passed.allSatisfy { $0 == 0 } && failed.allSatisfy { $0 == 0 } }
}

/// Turns one valid envelope into a typed Silver row, or says why not.
///
/// Order: schema version → JSON Schema on the payload as sent →
/// standardisation → typed row (payload leaves, `_rescued_data`, site
/// enrichment, derived columns) → rules on the final row. Rules therefore
/// see canonical units (°C) and enriched columns (`region`), and a rule
/// that fails marks the record as DLT does: every rule is counted, then a
/// `fail` stops the batch, else the first failing `drop` sends it to the
/// DLQ, else it is kept with its `warn` failures noted.
///
/// `range`, `regex`, `allowed_values` and `cross_field` pass on null, as SQL
/// CHECK constraints do; `not_null` is the rule that requires presence.
package struct SilverEvaluator {
    package let program: SilverProgram
    /// The row of the last `.kept` record, aligned with `program.columns`.
    package private(set) var row: [SilverValue]
    package var counts: RuleCounts
    private var zones = ZoneOffsets()

    package init(program: SilverProgram) {
        self.program = program
        row = Array(repeating: .null, count: program.columns.count)
        counts = RuleCounts(rules: program.rules.count)
    }

    /// The pieces of the envelope the evaluator reads, decoded.
    package struct Envelope {
        package var strings: EnvelopeStrings
        package var eventMicros: Int64
        package var ingestMicros: Int64
        /// The payload's exact JSON bytes.
        package var payload: UnsafeRawBufferPointer
        /// The attributes' JSON text, if present.
        package var attributes: String?
        package var position: SourcePosition?
        package var sourceID: String?

        private static let textFields: [EnvelopeField] = [.tenantID, .siteID, .deviceID, .deviceType, .eventType, .eventID, .schemaVersion, .sourceSystem]

        /// Reads the fields of a line `checker` found valid.
        package static func read(_ checker: EnvelopeChecker, _ bytes: UnsafeRawBufferPointer, scanner: inout JSONScanner) -> Envelope {
            var strings = EnvelopeStrings()
            for field in textFields {
                strings[field] = checker.stringValue(field, in: bytes)
            }
            var position: SourcePosition?
            var sourceID: String?
            if let range = checker.sourceRange {
                position = SourcePosition.parse(bytes, value: range, scanner: &scanner)
                if let p = position { sourceID = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[p.sourceRange]), as: UTF8.self) }
            }
            let payload = checker.member(.payload)!
            let attributes = checker.member(.attributes).map {
                String(decoding: UnsafeRawBufferPointer(rebasing: bytes[$0.valueStart..<$0.valueEnd]), as: UTF8.self)
            }
            let eventMicros = checker.stringValue(.eventTimeUTC, in: bytes).flatMap(SilverTime.parse) ?? 0
            let ingestMicros = checker.stringValue(.ingestTimeUTC, in: bytes).flatMap(SilverTime.parse) ?? 0
            return Envelope(strings: strings, eventMicros: eventMicros, ingestMicros: ingestMicros,
                            payload: UnsafeRawBufferPointer(rebasing: bytes[payload.valueStart..<payload.valueEnd]),
                            attributes: attributes, position: position, sourceID: sourceID)
        }
    }

    /// What a `unique` rule asks its state: `.check` whether a key is a
    /// duplicate (no side effect), `.remember` it once the record is kept.
    package enum DedupRequest { case check, remember }

    /// Evaluates one record. `dedup(ruleIndex, key, request)` consults the
    /// state of a `unique` rule: checks for records no other rule removed, and
    /// remembers keys only of records that are kept (so a record dropped by a
    /// second unique rule leaves no trace in the first one's state).
    package mutating func evaluate(_ e: Envelope, dedup: (Int, String, DedupRequest) -> Bool) -> SilverOutcome {
        let version = e.strings[.schemaVersion] ?? ""
        guard let schema = program.versions[version] else {
            let known = program.versions.keys.sorted().joined(separator: ", ")
            return .dropped(Rejection(.unknownSchemaVersion, field: "schema_version",
                "no schema for \(program.eventType) version \(version) (known: \(known)); add schemas/event_types/\(program.eventType)/v\(version).json"))
        }
        var payload: JSONValue
        do {
            payload = try JSONValue.parse(e.payload)
        } catch {
            if case .duplicateKey(let pointer) = error {
                return .dropped(Rejection(.duplicateField, field: "payload",
                                          "payload key \(pointer) appears more than once; readers disagree on which value wins"))
            }
            return .dropped(Rejection(.invalidJSON, field: "payload", "payload: \(error.description)"))
        }
        let violations = schema.validate(payload, limit: 5)
        if let first = violations.first {
            let more = violations.count > 1 ? " (and \(violations.count - 1) more)" : ""
            // `field` in the dotted form DLQ records use (`payload.location.floor`); the message keeps the exact pointer.
            let dotted = first.instancePointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
                .map { $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~") }
            return .dropped(Rejection(.schemaViolation, field: (["payload"] + dotted).joined(separator: "."),
                "payload\(first.instancePointer): \(first.message) [\(first.rule) at \(first.schemaPointer) of v\(version)]\(more)"))
        }
        let sent = payload
        for s in program.standardize { Self.standardize(&payload, s, sent: sent) }
        if let problem = fillRow(e, payload: payload, declared: program.declared[version] ?? DeclaredFields(),
                                 declaredColumns: program.declaredColumns[version] ?? []) {
            return .dropped(problem)
        }
        return applyRules(e, dedup: dedup)
    }

    // MARK: rules

    private mutating func applyRules(_ e: Envelope, dedup: (Int, String, DedupRequest) -> Bool) -> SilverOutcome {
        var warnings: [String] = []
        var drop: (CompiledRule, String)?
        var fail: (CompiledRule, String)?
        for (i, rule) in program.rules.enumerated() where !rule.isUnique {
            let value = ruleValue(rule, e)
            if let problem = check(rule, value) {
                counts.failed[i] += 1
                switch rule.rule.action {
                case .warn: warnings.append(rule.rule.name)
                case .drop: if drop == nil { drop = (rule, problem) }
                case .fail: if fail == nil { fail = (rule, problem) }
                }
            } else {
                counts.passed[i] += 1
            }
        }
        if let (rule, problem) = fail {
            return .failed(rule: rule.rule.name, message: "rule '\(rule.rule.name)' (\(rule.rule.kind), action fail) failed: \(problem)")
        }
        if let (rule, problem) = drop {
            return .dropped(Rejection(.ruleFailed, field: rule.rule.field,
                                      "rule '\(rule.rule.name)' (\(rule.rule.kind)) failed: \(problem)", rule: rule.rule.name))
        }
        var keys: [(Int, String)] = []
        for (i, rule) in program.rules.enumerated() where rule.isUnique {
            let value = ruleValue(rule, e)
            if value.isNull || !dedup(i, value.text, .check) {
                counts.passed[i] += 1
                if !value.isNull { keys.append((i, value.text)) }
                continue
            }
            counts.failed[i] += 1
            let message = "rule '\(rule.rule.name)' (unique): \(rule.rule.field) '\(Self.quote(value.text))' was already seen within \(rule.rule.windowSeconds) s"
            switch rule.rule.action {
            case .warn: warnings.append(rule.rule.name)
            case .drop: return .dropped(Rejection(.duplicateEvent, field: rule.rule.field, message, rule: rule.rule.name))
            case .fail: return .failed(rule: rule.rule.name, message: message)
            }
        }
        for (i, key) in keys { _ = dedup(i, key, .remember) }
        if let w = program.columnByPath["_quality_warnings"] {
            row[w] = warnings.isEmpty ? .null : .string(warnings.joined(separator: ","))
        }
        return .kept(warnings: warnings)
    }

    private func ruleValue(_ rule: CompiledRule, _ e: Envelope) -> SilverValue {
        if let column = rule.column { return row[column] }
        guard let key = rule.attributeKey, let text = e.attributes, let attrs = try? JSONValue.parse(text),
              case .string(let s)? = attrs[key] else { return .null }
        return .string(s)
    }

    /// nil when the rule passes, else what failed, quoting the value.
    private func check(_ rule: CompiledRule, _ value: SilverValue) -> String? {
        let field = rule.rule.field
        switch rule.kind {
        case .notNull:
            return value.isNull ? "\(field) is missing or null" : nil
        case .range(let min, let max):
            if value.isNull { return nil }
            guard let x = value.number else { return "\(field) is '\(Self.quote(value.text))', not a number" }
            if let min, x < min { return "\(field) \(value.text) is below min \(Self.number(min))" }
            if let max, x > max { return "\(field) \(value.text) is above max \(Self.number(max))" }
            return nil
        case .regex(let pattern):
            if value.isNull { return nil }
            let text = value.text
            return pattern.isFound(in: text) ? nil : "\(field) '\(Self.quote(text))' does not match \(pattern.source)"
        case .allowed(let values):
            if value.isNull { return nil }
            return values.contains(where: { value.matches($0) }) ? nil
                : "\(field) '\(Self.quote(value.text))' is not one of \(values.map(\.compactText).joined(separator: ", "))"
        case .crossField(let op, let other):
            let b = row[other]
            if value.isNull || b.isNull { return nil }
            let otherName = program.columns[other].fieldPath
            guard let c = SilverValue.compare(value, b) else {
                return "\(field) '\(Self.quote(value.text))' cannot be compared with \(otherName) '\(Self.quote(b.text))'"
            }
            let ok = switch op {
            case "lt": c < 0
            case "le": c <= 0
            case "gt": c > 0
            case "ge": c >= 0
            case "ne": c != 0
            default: c == 0
            }
            return ok ? nil : "\(field) \(value.text) is not \(op) \(otherName) \(b.text)"
        case .freshness(let maxAge):
            guard case .micros(let t) = value else { return value.isNull ? nil : "\(field) is not a timestamp" }
            guard let ingest = program.columnByPath["ingest_time_utc"], case .micros(let i) = row[ingest] else { return nil }
            let age = i - t
            return age > maxAge ? "\(field) \(value.text) is \(age / 1_000_000) s older than ingest_time_utc (max \(maxAge / 1_000_000) s)" : nil
        case .unique:
            return nil
        }
    }

    private static func quote(_ s: String) -> String { s.count > 64 ? String(s.prefix(64)) + "…" : s }

    private static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }

    // MARK: standardisation

    /// Applies one standardisation to the payload tree (missing or null
    /// fields are left alone). `to_celsius` reads the unit from the payload
    /// as sent, so several fields sharing one unit field are all converted.
    static func standardize(_ payload: inout JSONValue, _ s: EventTypeRules.Standardize, sent: JSONValue) {
        let path = s.field.split(separator: ".").map(String.init)
        guard let value = payload.value(at: path), value != .null else { return }
        switch s.op {
        case "to_celsius":
            guard let unitPath = s.unitField?.split(separator: ".").map(String.init) else { return }
            guard case .string(let unit)? = sent.value(at: unitPath),
                  ["f", "°f", "fahrenheit"].contains(unit.lowercased()), let f = value.doubleValue else { return }
            let celsius = ((f - 32) * 5 / 9 * 1_000_000).rounded() / 1_000_000
            payload.set(.number(String(celsius)), at: path)
            payload.set(.string("C"), at: unitPath)
        case "trim":
            if case .string(let text) = value { payload.set(.string(text.trimmingCharacters(in: .whitespacesAndNewlines)), at: path) }
        case "lowercase":
            if case .string(let text) = value { payload.set(.string(text.lowercased()), at: path) }
        case "uppercase":
            if case .string(let text) = value { payload.set(.string(text.uppercased()), at: path) }
        case "map":
            let key: String = switch value {
            case .string(let t): t
            case .number(let t): t
            case .bool(let b): b ? "true" : "false"
            default: ""
            }
            if let hit = s.mapping.first(where: { $0.from == key }) { payload.set(hit.to, at: path) }
        case "to_utc":
            if case .string(let text) = value, let micros = SilverTime.parse(text) {
                payload.set(.string(SilverTime.iso(micros)), at: path)
            }
        default:
            break
        }
    }

    // MARK: the typed row

    /// Fills `row` from the envelope and the standardised payload.
    private mutating func fillRow(_ e: Envelope, payload: JSONValue, declared: DeclaredFields, declaredColumns: [Bool]) -> Rejection? {
        var site: TenantSettings.Site?
        for (i, column) in program.columns.enumerated() {
            switch column.origin {
            case .envelope(let field):
                switch field {
                case .eventTimeUTC: row[i] = .micros(e.eventMicros)
                case .ingestTimeUTC: row[i] = .micros(e.ingestMicros)
                default: row[i] = e.strings[field].map { .string($0) } ?? .null
                }
                if field == .siteID, let id = e.strings[.siteID] { site = program.sites[id] }
            case .payload(let path):
                // Only what this version declares: a field of a later version sent under an
                // earlier one was never validated, so it is rescued, not typed.
                guard declaredColumns[i], let value = payload.value(at: path), value != .null else {
                    row[i] = .null
                    continue
                }
                guard let typed = Self.typed(value, column.type) else {
                    return Rejection(.schemaViolation, field: "payload." + column.fieldPath,
                        "payload field \(column.fieldPath) = \(Self.quote(value.compactText)) does not fit its \(column.type.deltaName) column (after standardisation)")
                }
                row[i] = typed
            case .site(let name):
                let text: String? = switch name {
                case "region": site?.region
                case "timezone": site?.timezone
                default: site?.name
                }
                row[i] = text.map { .string($0) } ?? .null
            case .derived:
                continue  // below, once their sources are filled
            case .attributes:
                row[i] = e.attributes.map { .string($0) } ?? .null
            case .rescued:
                var rescued: [(key: String, value: JSONValue)] = []
                Self.collectUnknown(payload, declared: declared, prefix: "", into: &rescued)
                row[i] = rescued.isEmpty ? .null : .string(JSONValue.object(rescued).compactText)
            case .warnings:
                row[i] = .null
            case .sourceID:
                row[i] = e.sourceID.map { .string($0) } ?? .null
            case .sourcePartition:
                row[i] = e.position.map { .long($0.partition) } ?? .null
            case .sourceOffset:
                row[i] = e.position.map { .long($0.offset) } ?? .null
            }
        }
        for (i, column) in program.columns.enumerated() {
            guard case .derived(let function, let source) = column.origin else { continue }
            guard case .micros(let t) = row[source] else {
                row[i] = .null
                continue
            }
            if function == "utc_date" {
                row[i] = .days(Int32(t.floorDividedBy(86_400_000_000).quotient))
                continue
            }
            let zone = site?.timezone ?? "UTC"
            let local = t + Int64(zones.offset(zone: zone, micros: t)) * 1_000_000
            row[i] = function == "local_date"
                ? .days(Int32(local.floorDividedBy(86_400_000_000).quotient))
                : .int(Int32(local.floorDividedBy(86_400_000_000).remainder / 3_600_000_000))
        }
        return nil
    }

    /// Converts a JSON value to a column's type; nil when it does not fit.
    static func typed(_ value: JSONValue, _ type: DeltaType) -> SilverValue? {
        switch (type, value) {
        case (.long, .number(let text)):
            if let v = Int64(text) { return .long(v) }
            guard let d = Double(text), d == d.rounded(), abs(d) < 9.2e18 else { return nil }
            return .long(Int64(d))
        case (.double, .number(let text)):
            // 1e400 is valid JSON but no double: refused, never stored as infinity.
            guard let d = Double(text), d.isFinite else { return nil }
            return .double(d)
        case (.boolean, .bool(let b)):
            return .bool(b)
        case (.timestamp, .string(let text)):
            return SilverTime.parse(text).map { .micros($0) }
        case (.date, .string(let text)):
            return SilverTime.parseDate(text).map { .days($0) }
        case (.string, .string(let text)):
            return .string(text)
        case (.string, _):
            return .string(value.compactText)
        default:
            return nil
        }
    }

    /// Members the schema version does not declare, by dotted path.
    private static func collectUnknown(_ value: JSONValue, declared: DeclaredFields, prefix: String,
                                       into out: inout [(key: String, value: JSONValue)]) {
        guard case .object(let members) = value else { return }
        for (key, child) in members {
            let path = prefix.isEmpty ? key : prefix + "." + key
            guard let known = declared.children[key] else {
                out.append((path, child))
                continue
            }
            if !known.isLeaf { collectUnknown(child, declared: known, prefix: path, into: &out) }
        }
    }
}

extension JSONValue {
    /// The value at a path of object keys.
    package func value(at path: [String]) -> JSONValue? {
        var node = self
        for key in path {
            guard let next = node[key] else { return nil }
            node = next
        }
        return node
    }

    /// Replaces the value at an existing path of object keys.
    package mutating func set(_ newValue: JSONValue, at path: [String]) {
        guard let first = path.first else {
            self = newValue
            return
        }
        guard case .object(var members) = self, let i = members.firstIndex(where: { $0.key == first }) else { return }
        members[i].value.set(newValue, at: Array(path.dropFirst()))
        self = .object(members)
    }
}

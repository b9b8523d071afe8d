/// A JSON Schema (draft 2020-12) compiled for validating many instances.
///
/// Compiling does all the work that does not depend on the instance: it
/// checks every keyword, refuses the ones this validator does not implement
/// (see `JSONSchema.supportedKeywords` and docs/json-schema.md), parses
/// numbers exactly, compiles regular expressions and resolves `$ref`s. What
/// remains is a flat table of nodes that `validate` walks, so Silver pays
/// the schema's cost once per schema version, not once per event.
///
/// ```swift
/// let schema = try JSONSchema.compile(JSONValue.parse(schemaText))
/// let problems = schema.validate(payload, at: "/payload")   // [] when valid
/// ```
package struct JSONSchema: Sendable, Equatable {
    /// The document it was compiled from (also what `==` compares: the
    /// compiled form is a pure function of it).
    package let document: JSONValue
    let nodes: [Node]

    /// Keywords with a validating meaning that `compile` implements.
    package static let supportedKeywords: [String] = [
        "type", "enum", "const",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minLength", "maxLength", "pattern", "format",
        "properties", "required", "additionalProperties",
        "prefixItems", "items", "minItems", "maxItems",
        "$ref", "$defs", "allOf", "anyOf", "oneOf", "not",
    ]

    /// Keywords accepted and ignored: they document, they never change
    /// whether an instance is valid. `$schema` and `$id` are accepted only
    /// at the root (see `compile`).
    package static let annotationKeywords: [String] = [
        "$schema", "$id", "$comment", "title", "description", "default", "examples",
        "deprecated", "readOnly", "writeOnly",
    ]

    /// The only dialect accepted in `$schema`: keywords mean different things
    /// in other drafts (`items` as an array in draft 7), so a schema written
    /// for another draft is refused instead of being misread.
    package static let dialect = "https://json-schema.org/draft/2020-12/schema"

    /// Violations `validate` collects before it stops, by default: enough to
    /// fix a payload, bounded so a huge bad array cannot flood a DLQ record.
    package static let defaultViolationLimit = 20

    /// Compiles a schema document (an object or a boolean).
    ///
    /// Throws every problem found: unsupported keywords (named with their
    /// JSON pointer), keyword values of the wrong shape, `format`s other
    /// than date-time/date/uuid, `$ref`s that are not local JSON pointers
    /// or do not resolve, and `$ref` cycles that would never terminate.
    package static func compile(_ document: JSONValue) throws(SchemaCompileError) -> JSONSchema {
        var compiler = SchemaCompiler(document: document)
        let nodes = try compiler.run()
        return JSONSchema(document: document, nodes: nodes)
    }

    /// Parses and compiles schema text.
    package static func compile(text: String) throws(SchemaCompileError) -> JSONSchema {
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            throw SchemaCompileError([SchemaProblem(kind: .invalidValue, pointer: "", keyword: "", message: error.description)])
        }
        return try compile(document)
    }

    package static func == (a: JSONSchema, b: JSONSchema) -> Bool { a.document == b.document }

    /// Whether `instance` is valid. Stops at the first failure, so it is the
    /// cheap question; `validate` says why.
    package func isValid(_ instance: JSONValue) -> Bool {
        var run = Run(collecting: false, limit: 0)
        return evaluate(0, instance, &run)
    }

    /// Every violation (up to `limit`) of `instance`, in schema order; empty
    /// when valid. `base` is prefixed to instance pointers, so a payload
    /// validated with `at: "/payload"` reports `/payload/temperature`.
    package func validate(_ instance: JSONValue, at base: String = "", limit: Int = defaultViolationLimit) -> [SchemaViolation] {
        var run = Run(collecting: true, limit: max(1, limit), base: base)
        _ = evaluate(0, instance, &run)
        return run.violations
    }

    // MARK: - Compiled form

    /// One schema location: a boolean schema or a list of keywords in the
    /// order they were written (so violations come out in reading order).
    struct Node: Sendable {
        /// Where the schema sits in the document (`/properties/temperature`).
        var pointer: String
        var keywords: [Keyword]
    }

    /// The types of `type`, as a bit set.
    struct TypeSet: OptionSet, Sendable {
        let rawValue: UInt8
        static let null = TypeSet(rawValue: 1), boolean = TypeSet(rawValue: 2), object = TypeSet(rawValue: 4)
        static let array = TypeSet(rawValue: 8), number = TypeSet(rawValue: 16), string = TypeSet(rawValue: 32)
        static let integer = TypeSet(rawValue: 64)
        static let names: [(String, TypeSet)] = [
            ("null", .null), ("boolean", .boolean), ("object", .object), ("array", .array),
            ("number", .number), ("string", .string), ("integer", .integer),
        ]
    }

    /// Property names → subschema, looked up by exact code points (Swift's
    /// `String ==` treats `"ä"` and `"a\u{308}"` as equal; JSON does not).
    struct PropertyTable: Sendable {
        private var table: [String: [(name: String, node: Int)]] = [:]

        mutating func insert(_ name: String, _ node: Int) { table[name, default: []].append((name, node)) }

        func lookup(_ name: String) -> Int? {
            guard let candidates = table[name] else { return nil }
            return candidates.first { $0.name.utf8.elementsEqual(name.utf8) }?.node
        }
    }

    /// A regular expression with the text it was compiled from, for messages.
    ///
    /// `Regex<AnyRegexOutput>` is not `Sendable` only because its output
    /// type is dynamic; the compiler runs one match when it builds the
    /// pattern, so the regex's lazily lowered program exists before the
    /// schema is shared and concurrent validations only read it.
    package struct Pattern: @unchecked Sendable {
        package let source: String
        let regex: Regex<AnyRegexOutput>

        /// Compiles `source` with ECMA-262 semantics as far as Swift Regex allows: code points,
        /// not grapheme clusters; `\d` and `\w` ASCII only. Used for schema `pattern`s and for
        /// the `regex` rules of rules files alike, so both speak one dialect.
        package init(_ source: String) throws {
            self.source = source
            regex = try Regex(source).matchingSemantics(.unicodeScalar).asciiOnlyDigits().asciiOnlyWordCharacters()
            _ = try regex.firstMatch(in: "")  // lowers the program now, before the pattern is shared
        }

        /// Whether the pattern is found in `text` (not anchored, as in JSON Schema).
        package func isFound(in text: String) -> Bool { (try? regex.firstMatch(in: text)) != nil }
    }

    enum Keyword: Sendable {
        case type(TypeSet, names: [String])
        case enumeration([JSONValue])
        case constant(JSONValue)
        case minimum(ExactNumber, exclusive: Bool)
        case maximum(ExactNumber, exclusive: Bool)
        case multipleOf(ExactDivisor, ExactNumber)
        case minLength(Int)
        case maxLength(Int)
        case pattern(Pattern)
        case format(SchemaFormat)
        case properties(PropertyTable, [(name: String, node: Int)])
        case required([String])
        /// The subschema applies to members not named in sibling `properties`.
        case additionalProperties(Int, known: PropertyTable)
        case prefixItems([Int])
        /// The subschema applies to items after the sibling `prefixItems`.
        case items(Int, from: Int)
        case minItems(Int)
        case maxItems(Int)
        case ref(Int)
        case allOf([Int])
        case anyOf([Int])
        case oneOf([Int])
        case not(Int)
        /// A boolean schema (`true` has no keywords; `false` has this one).
        case never

        var name: String {
            switch self {
            case .type: "type"
            case .enumeration: "enum"
            case .constant: "const"
            case .minimum(_, let e): e ? "exclusiveMinimum" : "minimum"
            case .maximum(_, let e): e ? "exclusiveMaximum" : "maximum"
            case .multipleOf: "multipleOf"
            case .minLength: "minLength"
            case .maxLength: "maxLength"
            case .pattern: "pattern"
            case .format: "format"
            case .properties: "properties"
            case .required: "required"
            case .additionalProperties: "additionalProperties"
            case .prefixItems: "prefixItems"
            case .items: "items"
            case .minItems: "minItems"
            case .maxItems: "maxItems"
            case .ref: "$ref"
            case .allOf: "allOf"
            case .anyOf: "anyOf"
            case .oneOf: "oneOf"
            case .not: "not"
            case .never: "false"
            }
        }
    }

    // MARK: - Validation

    /// One validation pass: the violations so far and the instance path,
    /// kept as tokens and rendered only when a violation is recorded.
    struct Run {
        /// False for yes/no questions (`isValid`, branches of anyOf/oneOf/not):
        /// stop at the first failure and build no messages.
        var collecting: Bool
        var limit: Int
        var base = ""
        var path: [String] = []
        var violations: [SchemaViolation] = []

        var full: Bool { violations.count >= limit }

        var instancePointer: String { base + JSONPointer.join(path) }
    }

    private func report(_ run: inout Run, _ node: Int, _ keyword: Keyword, _ message: @autoclosure () -> String) {
        guard run.collecting, !run.full else { return }
        let pointer = keyword.name == "false" ? nodes[node].pointer : nodes[node].pointer + "/" + JSONPointer.escape(keyword.name)
        run.violations.append(SchemaViolation(instancePointer: run.instancePointer, schemaPointer: pointer,
                                              rule: keyword.name, message: message()))
    }

    /// Evaluates node `id` against `value`; false when invalid. When not
    /// collecting, returns at the first failure; when collecting, goes on
    /// until the violation limit is reached.
    func evaluate(_ id: Int, _ value: JSONValue, _ run: inout Run) -> Bool {
        var valid = true
        for keyword in nodes[id].keywords {
            if !check(keyword, id, value, &run) {
                valid = false
                if !run.collecting || run.full { return false }
            }
        }
        return valid
    }

    /// Evaluates a subschema with one more instance path token.
    private func evaluate(_ id: Int, _ value: JSONValue, token: String, _ run: inout Run) -> Bool {
        run.path.append(token)
        defer { run.path.removeLast() }
        return evaluate(id, value, &run)
    }

    private func check(_ keyword: Keyword, _ id: Int, _ value: JSONValue, _ run: inout Run) -> Bool {
        switch keyword {
        case .never:
            report(&run, id, keyword, "no value is allowed here (the schema is false), got \(Self.quote(value))")
            return false

        case .type(let types, let names):
            if Self.matches(value, types) { return true }
            let expected = names.count == 1 ? names[0] : "one of " + names.joined(separator: ", ")
            report(&run, id, keyword, "\(Self.quote(value)) is \(Self.typeName(value)), expected \(expected)")
            return false

        case .enumeration(let values):
            if values.contains(where: { Self.equal($0, value) }) { return true }
            report(&run, id, keyword, "\(Self.quote(value)) is not one of \(Self.quote(.array(values)))")
            return false

        case .constant(let constant):
            if Self.equal(constant, value) { return true }
            report(&run, id, keyword, "\(Self.quote(value)) is not the constant \(Self.quote(constant))")
            return false

        case .minimum(let limit, let exclusive):
            guard case .number(let text) = value, let n = ExactNumber(text) else { return true }
            if exclusive ? n > limit : n >= limit { return true }
            report(&run, id, keyword, exclusive ? "\(text) is not above exclusiveMinimum \(limit)" : "\(text) is below minimum \(limit)")
            return false

        case .maximum(let limit, let exclusive):
            guard case .number(let text) = value, let n = ExactNumber(text) else { return true }
            if exclusive ? n < limit : n <= limit { return true }
            report(&run, id, keyword, exclusive ? "\(text) is not below exclusiveMaximum \(limit)" : "\(text) is above maximum \(limit)")
            return false

        case .multipleOf(let divisor, let shown):
            guard case .number(let text) = value, let n = ExactNumber(text) else { return true }
            if n.isMultiple(of: divisor) { return true }
            report(&run, id, keyword, "\(text) is not a multiple of \(shown)")
            return false

        case .minLength(let limit):
            guard case .string(let s) = value else { return true }
            let length = s.unicodeScalars.count
            if length >= limit { return true }
            report(&run, id, keyword, "\(Self.quote(value)) has \(length) character\(length == 1 ? "" : "s"), fewer than minLength \(limit)")
            return false

        case .maxLength(let limit):
            guard case .string(let s) = value else { return true }
            let length = s.unicodeScalars.count
            if length <= limit { return true }
            report(&run, id, keyword, "\(Self.quote(value)) has \(length) characters, more than maxLength \(limit)")
            return false

        case .pattern(let pattern):
            guard case .string(let s) = value else { return true }
            if pattern.isFound(in: s) { return true }
            report(&run, id, keyword, "\(Self.quote(value)) does not match pattern \(pattern.source)")
            return false

        case .format(let format):
            guard case .string(let s) = value else { return true }
            if format.accepts(s) { return true }
            report(&run, id, keyword, "\(Self.quote(value)) is not a valid \(format.rawValue): expected \(format.expectation)")
            return false

        case .required(let names):
            guard case .object(let members) = value else { return true }
            var valid = true
            for name in names where !members.contains(where: { $0.key.utf8.elementsEqual(name.utf8) }) {
                report(&run, id, keyword, "missing required property \(Self.quote(.string(name)))")
                valid = false
                if !run.collecting || run.full { return false }
            }
            return valid

        case .properties(let table, _):
            guard case .object(let members) = value else { return true }
            var valid = true
            for (key, member) in members {
                guard let sub = table.lookup(key) else { continue }
                if !evaluate(sub, member, token: key, &run) {
                    valid = false
                    if !run.collecting || run.full { return false }
                }
            }
            return valid

        case .additionalProperties(let sub, let known):
            guard case .object(let members) = value else { return true }
            var valid = true
            for (key, member) in members where known.lookup(key) == nil {
                if case .never = nodes[sub].keywords.first, nodes[sub].keywords.count == 1 {
                    // `false` is the common case; say so in its own words.
                    run.path.append(key)
                    report(&run, id, keyword, "property \(Self.quote(.string(key))) is not allowed (additionalProperties is false)")
                    run.path.removeLast()
                    valid = false
                } else if !evaluate(sub, member, token: key, &run) {
                    valid = false
                }
                if !valid, !run.collecting || run.full { return false }
            }
            return valid

        case .prefixItems(let subs):
            guard case .array(let items) = value else { return true }
            var valid = true
            for (i, (sub, item)) in zip(subs, items).enumerated() where !evaluate(sub, item, token: String(i), &run) {
                valid = false
                if !run.collecting || run.full { return false }
            }
            return valid

        case .items(let sub, let from):
            guard case .array(let items) = value, items.count > from else { return true }
            var valid = true
            for i in from..<items.count where !evaluate(sub, items[i], token: String(i), &run) {
                valid = false
                if !run.collecting || run.full { return false }
            }
            return valid

        case .minItems(let limit):
            guard case .array(let items) = value, items.count < limit else { return true }
            report(&run, id, keyword, "the array has \(items.count) item\(items.count == 1 ? "" : "s"), fewer than minItems \(limit)")
            return false

        case .maxItems(let limit):
            guard case .array(let items) = value, items.count > limit else { return true }
            report(&run, id, keyword, "the array has \(items.count) items, more than maxItems \(limit)")
            return false

        case .ref(let target):
            return evaluate(target, value, &run)

        case .allOf(let subs):
            var valid = true
            for sub in subs where !evaluate(sub, value, &run) {
                valid = false
                if !run.collecting || run.full { return false }
            }
            return valid

        case .anyOf(let subs):
            if subs.contains(where: { isValid(node: $0, value) }) { return true }
            let reasons = branchReasons(subs, value, run)
            report(&run, id, keyword, "\(Self.quote(value)) matches none of the \(subs.count) schemas of anyOf" + reasons)
            return false

        case .oneOf(let subs):
            let matching = subs.indices.filter { isValid(node: subs[$0], value) }
            if matching.count == 1 { return true }
            if matching.isEmpty {
                let reasons = branchReasons(subs, value, run)
                report(&run, id, keyword, "\(Self.quote(value)) matches none of the \(subs.count) schemas of oneOf" + reasons)
            } else {
                report(&run, id, keyword, "\(Self.quote(value)) matches \(matching.count) schemas of oneOf "
                       + "(\(matching.map { "#\($0)" }.joined(separator: ", "))), expected exactly one")
            }
            return false

        case .not(let sub):
            if !isValid(node: sub, value) { return true }
            report(&run, id, keyword, "\(Self.quote(value)) matches the schema in not")
            return false
        }
    }

    /// A yes/no evaluation inside a run (for anyOf/oneOf/not branches, whose
    /// individual failures are not violations of the whole).
    private func isValid(node: Int, _ value: JSONValue) -> Bool {
        var inner = Run(collecting: false, limit: 0)
        return evaluate(node, value, &inner)
    }

    /// `: #0 /x: 5 is above maximum 3; #1 ...` — the first reason each branch
    /// failed, so an anyOf/oneOf violation can be understood on its own.
    private func branchReasons(_ subs: [Int], _ value: JSONValue, _ run: Run) -> String {
        guard run.collecting, !run.full else { return "" }
        var reasons: [String] = []
        for (i, sub) in subs.enumerated().prefix(5) {
            var inner = Run(collecting: true, limit: 1, base: run.instancePointer)
            _ = evaluate(sub, value, &inner)
            guard let first = inner.violations.first else { continue }
            let at = first.instancePointer == run.instancePointer ? "" : "\(first.instancePointer): "
            reasons.append("#\(i) \(at)\(first.message)")
        }
        return reasons.isEmpty ? "" : " (" + reasons.joined(separator: "; ") + (subs.count > 5 ? "; …" : "") + ")"
    }

    // MARK: - Value helpers

    static func matches(_ value: JSONValue, _ types: TypeSet) -> Bool {
        switch value {
        case .null: types.contains(.null)
        case .bool: types.contains(.boolean)
        case .string: types.contains(.string)
        case .array: types.contains(.array)
        case .object: types.contains(.object)
        case .number(let text):
            types.contains(.number) || types.contains(.integer) && isInteger(text)
        }
    }

    /// `1`, `1.0`, `1e2` and 30-digit integers are integers; `1.5`, `1e-2` are not.
    static func isInteger(_ text: String) -> Bool {
        if !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }) { return true }
        return ExactNumber(text)?.isInteger ?? false
    }

    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        case .number(let text): isInteger(text) ? "an integer" : "a number"
        }
    }

    /// JSON equality for enum and const: numbers by value (`1 == 1.0`),
    /// strings by code points, objects regardless of member order, and never
    /// across types (`true` is not `1`).
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
        case let (.number(x), .number(y)):
            return x == y || ExactNumber(x).map { xv in ExactNumber(y).map { $0 == xv } ?? false } ?? false
        case let (.array(x), .array(y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case let (.object(x), .object(y)):
            return x.count == y.count && x.allSatisfy { member in
                y.contains { $0.key.utf8.elementsEqual(member.key.utf8) && equal($0.value, member.value) }
            }
        default: return false
        }
    }

    /// The value as compact JSON for a message, shortened past 80 characters.
    static func quote(_ value: JSONValue) -> String {
        let text = value.compactText
        guard text.count > 80 else { return text }
        return String(text.prefix(77)) + "…"
    }
}

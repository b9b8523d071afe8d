/// Turns a schema document into `JSONSchema.Node`s.
///
/// Walks every subschema once (node 0 is the root), recording each one's
/// JSON pointer, so a `$ref` resolves to the node already compiled for its
/// target; refs are patched in after the walk, which is what lets a schema
/// refer to itself (`{"items": {"$ref": "#"}}`). Problems are collected,
/// not thrown one by one.
struct SchemaCompiler {
    let document: JSONValue
    private var nodes: [JSONSchema.Node] = []
    private var nodeByPointer: [String: Int] = [:]
    /// (node, keyword index, the `$ref` text, pointer of the `$ref` keyword).
    private var pendingRefs: [(node: Int, keyword: Int, target: [String], pointer: String)] = []
    private var problems: [SchemaProblem] = []

    init(document: JSONValue) { self.document = document }

    mutating func run() throws(SchemaCompileError) -> [JSONSchema.Node] {
        _ = compile(document, tokens: [])
        resolveRefs()
        if problems.isEmpty { findCycles() }
        guard problems.isEmpty else { throw SchemaCompileError(problems) }
        return nodes
    }

    private mutating func problem(_ kind: SchemaProblem.Kind, _ pointer: String, _ keyword: String, _ message: String) {
        problems.append(SchemaProblem(kind: kind, pointer: pointer, keyword: keyword, message: message))
    }

    // MARK: Walking

    /// Keywords refused with the reason shown to the schema author.
    static let refusedBecause: [String: String] = [
        "$dynamicRef": "dynamic references are not supported; use a local \"$ref\": \"#/$defs/...\"",
        "$dynamicAnchor": "dynamic anchors are not supported; use a local \"$ref\": \"#/$defs/...\"",
        "$anchor": "anchors are not supported; refer to the subschema by JSON pointer (\"$ref\": \"#/$defs/name\")",
        "$recursiveRef": "this is a draft 2019-09 keyword and is not supported",
        "$vocabulary": "custom vocabularies are not supported",
        "definitions": "this is the pre-2019 spelling; write \"$defs\"",
        "dependencies": "this is the pre-2019 spelling, and dependent schemas are not supported",
    ]

    /// Compiles the subschema at `tokens`; returns its node index.
    private mutating func compile(_ value: JSONValue, tokens: [String]) -> Int {
        let pointer = JSONPointer.join(tokens)
        let id = nodes.count
        nodes.append(JSONSchema.Node(pointer: pointer, keywords: []))
        nodeByPointer[pointer] = id

        switch value {
        case .bool(let b):
            nodes[id].keywords = b ? [] : [.never]
            return id
        case .object:
            break
        default:
            problem(.invalidValue, pointer, tokens.last ?? "", "a schema must be an object or a boolean, got \(JSONSchema.quote(value))")
            return id
        }
        guard case .object(let members) = value else { return id }
        var keywords: [JSONSchema.Keyword] = []
        let propertiesValue = value["properties"]
        let prefixCount: Int = if case .array(let a)? = value["prefixItems"] { a.count } else { 0 }

        for (key, v) in members {
            let at = pointer + "/" + JSONPointer.escape(key)
            let sub = tokens + [key]
            switch key {
            case "$schema":
                if !tokens.isEmpty {
                    problem(.unsupportedKeyword, at, key, "\"$schema\" is allowed only at the root: embedded schema resources are not supported")
                } else if case .string(let s) = v, s == JSONSchema.dialect || s == JSONSchema.dialect + "#" {
                } else {
                    problem(.unsupportedKeyword, at, key, "only draft 2020-12 is supported: write \"$schema\": \"\(JSONSchema.dialect)\"")
                }
            case "$id":
                if !tokens.isEmpty {
                    problem(.unsupportedKeyword, at, key, "\"$id\" is allowed only at the root (as documentation): an embedded resource changes how \"$ref\" resolves")
                } else if case .string = v {
                } else {
                    problem(.invalidValue, at, key, "\"$id\" must be a string")
                }
            case "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly":
                break

            case "type":
                var names: [String] = []
                switch v {
                case .string(let s): names = [s]
                case .array(let items):
                    for item in items {
                        if case .string(let s) = item { names.append(s) } else { names.append("") }
                    }
                    if items.isEmpty { problem(.invalidValue, at, key, "\"type\" must name at least one type") }
                default:
                    problem(.invalidValue, at, key, "\"type\" must be a type name or an array of them")
                }
                var set: JSONSchema.TypeSet = []
                for name in names {
                    guard let t = JSONSchema.TypeSet.names.first(where: { $0.0 == name })?.1 else {
                        problem(.invalidValue, at, key, "unknown type \(JSONSchema.quote(.string(name))): use null, boolean, object, array, number, string or integer")
                        continue
                    }
                    if set.contains(t) { problem(.invalidValue, at, key, "type \"\(name)\" is listed twice") }
                    set.insert(t)
                }
                keywords.append(.type(set, names: names))

            case "enum":
                guard case .array(let items) = v else {
                    problem(.invalidValue, at, key, "\"enum\" must be an array of the allowed values")
                    continue
                }
                keywords.append(.enumeration(items))
            case "const":
                keywords.append(.constant(v))

            case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
                guard let n = number(v, at, key) else { continue }
                let exclusive = key.hasPrefix("exclusive")
                keywords.append(key.hasSuffix("inimum") ? .minimum(n, exclusive: exclusive) : .maximum(n, exclusive: exclusive))
            case "multipleOf":
                guard let n = number(v, at, key) else { continue }
                guard n > ExactNumber(0) else {
                    problem(.invalidValue, at, key, "\"multipleOf\" must be greater than 0")
                    continue
                }
                guard let divisor = ExactDivisor(n) else {
                    problem(.invalidValue, at, key, "\"multipleOf\" may have at most 19 significant digits")
                    continue
                }
                keywords.append(.multipleOf(divisor, n))

            case "minLength", "maxLength", "minItems", "maxItems":
                guard let n = count(v, at, key) else { continue }
                switch key {
                case "minLength": keywords.append(.minLength(n))
                case "maxLength": keywords.append(.maxLength(n))
                case "minItems": keywords.append(.minItems(n))
                default: keywords.append(.maxItems(n))
                }
            case "pattern":
                guard case .string(let source) = v else {
                    problem(.invalidValue, at, key, "\"pattern\" must be a string (a regular expression)")
                    continue
                }
                do {
                    keywords.append(.pattern(try JSONSchema.Pattern(source)))
                } catch {
                    problem(.invalidValue, at, key, "\(source) is not a valid regular expression: \(error)")
                }
            case "format":
                guard case .string(let name) = v else {
                    problem(.invalidValue, at, key, "\"format\" must be a string")
                    continue
                }
                guard let format = SchemaFormat(rawValue: name) else {
                    problem(.unsupportedFormat, at, key, "format \"\(name)\" is not supported (supported: \(SchemaFormat.allCases.map(\.rawValue).joined(separator: ", "))); use \"pattern\" instead")
                    continue
                }
                keywords.append(.format(format))

            case "properties":
                guard case .object(let props) = v else {
                    problem(.invalidValue, at, key, "\"properties\" must map property names to schemas")
                    continue
                }
                var table = JSONSchema.PropertyTable()
                var list: [(name: String, node: Int)] = []
                for (name, schema) in props {
                    let node = compile(schema, tokens: sub + [name])
                    table.insert(name, node)
                    list.append((name, node))
                }
                keywords.append(.properties(table, list))
            case "required":
                guard case .array(let items) = v else {
                    problem(.invalidValue, at, key, "\"required\" must be an array of property names")
                    continue
                }
                var names: [String] = []
                for item in items {
                    guard case .string(let s) = item else {
                        problem(.invalidValue, at, key, "\"required\" must hold property names (strings), got \(JSONSchema.quote(item))")
                        continue
                    }
                    names.append(s)
                }
                keywords.append(.required(names))
            case "additionalProperties":
                var known = JSONSchema.PropertyTable()
                if case .object(let props)? = propertiesValue {
                    for (name, _) in props { known.insert(name, 0) }
                }
                keywords.append(.additionalProperties(compile(v, tokens: sub), known: known))

            case "prefixItems":
                guard case .array(let items) = v, !items.isEmpty else {
                    problem(.invalidValue, at, key, "\"prefixItems\" must be a non-empty array of schemas")
                    continue
                }
                keywords.append(.prefixItems(items.enumerated().map { compile($1, tokens: sub + [String($0)]) }))
            case "items":
                if case .array = v {
                    problem(.invalidValue, at, key, "in draft 2020-12 \"items\" is one schema; write the array form as \"prefixItems\"")
                    continue
                }
                keywords.append(.items(compile(v, tokens: sub), from: prefixCount))

            case "$defs":
                guard case .object(let defs) = v else {
                    problem(.invalidValue, at, key, "\"$defs\" must map names to schemas")
                    continue
                }
                for (name, schema) in defs { _ = compile(schema, tokens: sub + [name]) }
            case "$ref":
                guard case .string(let ref) = v else {
                    problem(.invalidValue, at, key, "\"$ref\" must be a string")
                    continue
                }
                guard ref.hasPrefix("#") else {
                    problem(.unsupportedReference, at, key, "only local references are supported (\"#\" or \"#/$defs/...\"), not \(JSONSchema.quote(v)); copy the schema into \"$defs\"")
                    continue
                }
                guard let decoded = JSONPointer.percentDecode(String(ref.dropFirst())), let target = JSONPointer.tokens(decoded) else {
                    problem(.unsupportedReference, at, key, "\(JSONSchema.quote(v)) is not a JSON pointer fragment (anchors such as \"#name\" are not supported)")
                    continue
                }
                pendingRefs.append((id, keywords.count, target, at))
                keywords.append(.ref(-1))
            case "allOf", "anyOf", "oneOf":
                guard case .array(let items) = v, !items.isEmpty else {
                    problem(.invalidValue, at, key, "\"\(key)\" must be a non-empty array of schemas")
                    continue
                }
                let subs = items.enumerated().map { compile($1, tokens: sub + [String($0)]) }
                keywords.append(key == "allOf" ? .allOf(subs) : key == "anyOf" ? .anyOf(subs) : .oneOf(subs))
            case "not":
                keywords.append(.not(compile(v, tokens: sub)))

            default:
                let reason = Self.refusedBecause[key]
                    ?? "medallion's validator does not implement it, and ignoring it would let through data the schema means to reject"
                problem(.unsupportedKeyword, at, key, reason)
            }
        }
        nodes[id].keywords = keywords
        return id
    }

    private mutating func number(_ v: JSONValue, _ at: String, _ key: String) -> ExactNumber? {
        guard case .number(let text) = v, let n = ExactNumber(text) else {
            problem(.invalidValue, at, key, "\"\(key)\" must be a number, got \(JSONSchema.quote(v))")
            return nil
        }
        return n
    }

    /// A non-negative integer (`2.0` counts: JSON Schema integers are values).
    private mutating func count(_ v: JSONValue, _ at: String, _ key: String) -> Int? {
        guard case .number(let text) = v, let n = ExactNumber(text), n.isInteger, !n.negative else {
            problem(.invalidValue, at, key, "\"\(key)\" must be a non-negative integer, got \(JSONSchema.quote(v))")
            return nil
        }
        let digits = n.digits + Array(repeating: 0, count: n.isZero ? 0 : n.exponent)
        guard digits.count <= 18 else { return Int.max }
        return digits.reduce(0) { $0 * 10 + Int($1) }
    }

    // MARK: References

    private mutating func resolveRefs() {
        for ref in pendingRefs {
            let pointer = JSONPointer.join(ref.target)
            let shown = "#" + pointer
            if let node = nodeByPointer[pointer] {
                nodes[ref.node].keywords[ref.keyword] = .ref(node)
            } else if Self.lookup(document, ref.target) != nil {
                problem(.unresolvedReference, ref.pointer, "$ref", "\(shown) is not a schema (only subschemas under keywords such as \"$defs\" and \"properties\" can be referenced)")
            } else {
                problem(.unresolvedReference, ref.pointer, "$ref", "\(shown) does not exist in this schema")
            }
        }
    }

    static func lookup(_ value: JSONValue, _ tokens: [String]) -> JSONValue? {
        var current = value
        for token in tokens {
            switch current {
            case .object(let members):
                guard let next = members.first(where: { $0.key.utf8.elementsEqual(token.utf8) })?.value else { return nil }
                current = next
            case .array(let items):
                guard let i = Int(token), i >= 0, i < items.count, String(i) == token else { return nil }
                current = items[i]
            default:
                return nil
            }
        }
        return current
    }

    /// A cycle through keywords that apply at the same instance location
    /// (`$ref`, allOf, anyOf, oneOf, not) would recurse forever: refuse it.
    /// Cycles through properties/items are fine: they descend into the
    /// instance, which is finite.
    private mutating func findCycles() {
        var state = [UInt8](repeating: 0, count: nodes.count)  // 0 new, 1 on stack, 2 done
        func sameLocation(_ id: Int) -> [Int] {
            nodes[id].keywords.flatMap { k -> [Int] in
                switch k {
                case .ref(let t), .not(let t): [t]
                case .allOf(let s), .anyOf(let s), .oneOf(let s): s
                default: []
                }
            }
        }
        var reported = false
        func visit(_ id: Int) {
            guard !reported else { return }
            state[id] = 1
            for next in sameLocation(id) {
                if state[next] == 1 {
                    reported = true
                    let ref = pendingRefs.first { nodes[$0.node].pointer == nodes[id].pointer }
                    problems.append(SchemaProblem(
                        kind: .referenceCycle, pointer: ref?.pointer ?? nodes[id].pointer, keyword: "$ref",
                        message: "\"$ref\" leads back to #\(nodes[next].pointer) without descending into the instance, so validation would never end"))
                    return
                }
                if state[next] == 0 { visit(next) }
            }
            state[id] = 2
        }
        for id in nodes.indices where state[id] == 0 { visit(id) }
    }
}

import Yams

/// Where a value came from: a file of the tree and a line in it. Kept on
/// every node, through overlay merges, so a mistake found after merging still
/// points at the file that holds it.
package struct ConfigOrigin: Sendable, Hashable {
    package var file: String
    package var line: Int

    package init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
}

/// One key of a mapping, with the line of the key itself (unknown keys are
/// reported there, not at their value).
package struct ConfigEntry: Sendable {
    package var key: String
    package var keyOrigin: ConfigOrigin
    package var value: ConfigValue

    package init(key: String, keyOrigin: ConfigOrigin, value: ConfigValue) {
        self.key = key
        self.keyOrigin = keyOrigin
        self.value = value
    }
}

/// A YAML (or JSON) document as a small typed tree that remembers origins.
///
/// Yams' `Node` carries line marks but not file names, and decoding straight
/// into `Codable` types loses both; this tree keeps them so that every check
/// (types, unknown keys, references, overlay merges) can name file and line.
/// Mappings keep their key order, so `config show` prints keys as written.
package struct ConfigValue: Sendable {
    package enum Kind: Sendable {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(String)
        case list([ConfigValue])
        case map([ConfigEntry])
    }

    package var kind: Kind
    package var origin: ConfigOrigin

    package init(_ kind: Kind, origin: ConfigOrigin) {
        self.kind = kind
        self.origin = origin
    }

    package subscript(key: String) -> ConfigValue? {
        guard case .map(let entries) = kind else { return nil }
        return entries.first(where: { $0.key == key })?.value
    }

    package func entry(_ key: String) -> ConfigEntry? {
        guard case .map(let entries) = kind else { return nil }
        return entries.first(where: { $0.key == key })
    }

    package var entries: [ConfigEntry] {
        if case .map(let e) = kind { return e }
        return []
    }

    package var items: [ConfigValue] {
        if case .list(let l) = kind { return l }
        return []
    }

    package var string: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    package var int: Int? {
        if case .int(let i) = kind { return i }
        return nil
    }

    /// Integers are numbers too (`min: 0` in a range rule).
    package var double: Double? {
        switch kind {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }

    package var bool: Bool? {
        if case .bool(let b) = kind { return b }
        return nil
    }

    package var strings: [String] { items.compactMap(\.string) }

    /// What a user calls this kind of value, for "expected X, got Y" messages.
    package var kindName: String {
        switch kind {
        case .null: "nothing (null)"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .list: "a list"
        case .map: "a mapping"
        }
    }

    /// A copy without the given top-level keys (e.g. `version`, which is a
    /// property of each file and not part of the merged settings).
    package func removing(_ keys: Set<String>) -> ConfigValue {
        guard case .map(let entries) = kind else { return self }
        return ConfigValue(.map(entries.filter { !keys.contains($0.key) }), origin: origin)
    }
}

// MARK: - Reading YAML

extension ConfigValue {
    /// Parses one YAML document. Syntax errors, duplicate keys, anchors and
    /// tags are problems (with the line), not crashes; an empty file is an
    /// empty mapping so that the missing `version` is what gets reported.
    package static func parseYAML(_ text: String, file: String) -> Result<ConfigValue, ConfigProblem> {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            return .failure(yamlProblem(error, file: file))
        } catch {
            return .failure(ConfigProblem(file: file, line: 1, keyPath: "", message: "cannot read YAML: \(error)",
                                          fix: "check the file's syntax (indentation with spaces, `key: value`)"))
        }
        guard let node else { return .success(ConfigValue(.map([]), origin: ConfigOrigin(file: file, line: 1))) }
        var problem: ConfigProblem?
        let value = convert(node, file: file, path: "", problem: &problem)
        if let problem { return .failure(problem) }
        return .success(value)
    }

    private static func yamlProblem(_ error: YamlError, file: String) -> ConfigProblem {
        let fix = "fix the YAML syntax at that line (indent with spaces, one `key: value` per line, quote values containing `: ` or `#`)"
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return ConfigProblem(file: file, line: mark.line, keyPath: "", message: "invalid YAML: \(what)", fix: fix)
        case let .duplicatedKeysInMapping(duplicates, context):
            let key = duplicates.first ?? "?"
            return ConfigProblem(file: file, line: context.mark.line, keyPath: key,
                                 message: "key '\(key)' appears more than once in one mapping",
                                 fix: "keep one '\(key)': readers disagree on which value wins")
        default:
            return ConfigProblem(file: file, line: 1, keyPath: "", message: "invalid YAML: \(error)", fix: fix)
        }
    }

    private static func convert(_ node: Node, file: String, path: String, problem: inout ConfigProblem?) -> ConfigValue {
        let origin = ConfigOrigin(file: file, line: node.mark?.line ?? 1)
        switch node {
        case .scalar(let scalar):
            return ConfigValue(scalarKind(scalar), origin: origin)
        case .sequence(let sequence):
            var items: [ConfigValue] = []
            for (i, item) in sequence.enumerated() {
                items.append(convert(item, file: file, path: "\(path)[\(i)]", problem: &problem))
            }
            return ConfigValue(.list(items), origin: origin)
        case .mapping(let mapping):
            var entries: [ConfigEntry] = []
            for (keyNode, valueNode) in mapping {
                let keyOrigin = ConfigOrigin(file: file, line: keyNode.mark?.line ?? origin.line)
                guard case .scalar(let keyScalar) = keyNode else {
                    if problem == nil {
                        problem = ConfigProblem(file: file, line: keyOrigin.line, keyPath: path,
                                                message: "a mapping key must be a plain word", fix: "write `name: value`")
                    }
                    continue
                }
                let key = keyScalar.string
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                entries.append(ConfigEntry(key: key, keyOrigin: keyOrigin,
                                           value: convert(valueNode, file: file, path: childPath, problem: &problem)))
            }
            return ConfigValue(.map(entries), origin: origin)
        case .alias:
            if problem == nil {
                problem = ConfigProblem(file: file, line: origin.line, keyPath: path,
                                        message: "YAML anchors and aliases (*name) are not supported",
                                        fix: "write the value out; overlays (dev.yaml, stage.yaml, prod.yaml) are the way to share settings")
            }
            return ConfigValue(.null, origin: origin)
        }
    }

    /// Types a scalar the way YAML does, except that a quoted scalar is
    /// always a string: `"1.0"` stays text, `1.0` is a number.
    private static func scalarKind(_ scalar: Node.Scalar) -> Kind {
        if scalar.style != .plain { return .string(scalar.string) }
        switch Node.scalar(scalar).tag.description {
        case Tag.Name.null.rawValue: return .null
        case Tag.Name.bool.rawValue:
            if let b = Bool.construct(from: scalar) { return .bool(b) }
        case Tag.Name.int.rawValue:
            if let i = Int.construct(from: scalar) { return .int(i) }
        case Tag.Name.float.rawValue:
            if let d = Double.construct(from: scalar) { return .double(d) }
        default: break
        }
        return .string(scalar.string)
    }
}

// MARK: - Writing

extension ConfigValue {
    /// Compact-free, indented JSON with keys in their written order.
    package func renderJSON(indent: String = "") -> String {
        let inner = indent + "  "
        switch kind {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(d) : "null"
        case .string(let s): return Self.jsonQuoted(s)
        case .list(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.renderJSON(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .map(let entries):
            if entries.isEmpty { return "{}" }
            return "{\n" + entries.map { inner + Self.jsonQuoted($0.key) + ": " + $0.value.renderJSON(indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    /// Block-style YAML that Yams (and any YAML 1.1/1.2 reader) reads back to
    /// the same values: strings that could be read as something else are
    /// double-quoted with JSON escapes, which YAML accepts.
    package func renderYAML() -> String {
        var out = ""
        switch kind {
        case .map, .list: Self.appendBlock(self, indent: "", to: &out)
        default: out = Self.yamlScalar(self) + "\n"
        }
        return out
    }

    private static func appendBlock(_ value: ConfigValue, indent: String, to out: inout String) {
        switch value.kind {
        case .map(let entries):
            for entry in entries {
                let key = yamlString(entry.key)
                switch entry.value.kind {
                case .map(let e) where !e.isEmpty:
                    out += "\(indent)\(key):\n"
                    appendBlock(entry.value, indent: indent + "  ", to: &out)
                case .list(let l) where !l.isEmpty:
                    out += "\(indent)\(key):\n"
                    appendBlock(entry.value, indent: indent + "  ", to: &out)
                default:
                    out += "\(indent)\(key): \(yamlScalar(entry.value))\n"
                }
            }
        case .list(let items):
            for item in items {
                if case .map(let e) = item.kind, !e.isEmpty {
                    var nested = ""
                    appendBlock(item, indent: indent + "  ", to: &nested)
                    // "- " takes the place of the first line's indentation.
                    out += indent + "- " + nested.dropFirst(indent.count + 2)
                } else if case .list(let l) = item.kind, !l.isEmpty {
                    out += indent + "-\n"
                    appendBlock(item, indent: indent + "  ", to: &out)
                } else {
                    out += "\(indent)- \(yamlScalar(item))\n"
                }
            }
        default:
            out += indent + yamlScalar(value) + "\n"
        }
    }

    private static func yamlScalar(_ value: ConfigValue) -> String {
        switch value.kind {
        case .string(let s): return yamlString(s)
        case .list: return "[]"
        case .map: return "{}"
        default: return value.renderJSON()
        }
    }

    private static let plainUnsafeWords: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]

    private static func yamlString(_ s: String) -> String {
        guard let first = s.unicodeScalars.first, first.properties.isAlphabetic || first == "_" || first == "/" || first == "." else {
            return jsonQuoted(s)
        }
        if plainUnsafeWords.contains(s.lowercased()) { return jsonQuoted(s) }
        let allowed = s.unicodeScalars.allSatisfy { c in
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "_-./@+".unicodeScalars.contains(c)))
        }
        return allowed ? s : jsonQuoted(s)
    }

    package static func jsonQuoted(_ s: String) -> String {
        var out: [UInt8] = []
        JSONStringEscaper.appendQuoted(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

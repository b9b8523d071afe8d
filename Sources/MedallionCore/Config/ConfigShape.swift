/// Rules for string values that become names, paths or references.
package enum TextRule: Sendable {
    case any
    /// A tenant, event type, site or stage name: `[a-z0-9][a-z0-9._-]{0,63}`
    /// (`EnvelopePolicy.isSafeID`), because it becomes a partition path segment.
    case safeID
    /// The NAME of an environment variable (`ACME_EVENTHUBS_CONNECTION`), never the secret.
    case envVarName
    /// `30s`, `5m`, `1h`, `1d`.
    case duration
    /// An IANA zone such as `Europe/Berlin`, or `UTC`.
    case timezone
    /// A payload field, dotted for nested objects: `temperature`, `location.floor`.
    case fieldPath
}

/// The shape a value must have. One declarative description per file kind
/// drives type checks, unknown-key checks, required keys after merging and
/// the "every key is documented" test, so the four cannot drift apart.
package indirect enum Shape: Sendable {
    case text(TextRule)
    case integer(ClosedRange<Int>)
    /// A number (integer or decimal) of at least `min` (and at most `max`).
    case number(min: Double, max: Double = .greatestFiniteMagnitude)
    case boolean
    case choice([String])
    /// Any string, number or boolean (e.g. the allowed values of a rule).
    case scalar
    /// Anything (test events and expected values in `*.tests.yaml`).
    case anything
    case list(Shape, nonEmpty: Bool)
    /// A mapping with a fixed set of keys.
    case record([Field])
    /// A mapping whose keys are names chosen by the user (sites).
    case dictionary(key: TextRule, value: Shape)
}

/// One key of a `record`.
package struct Field: Sendable {
    package var name: String
    package var shape: Shape
    package var required: Bool

    package init(_ name: String, _ shape: Shape, required: Bool = false) {
        self.name = name
        self.shape = shape
        self.required = required
    }
}

/// Walks a value against a shape and collects every problem.
///
/// `checkTypes` reports wrong types, unknown keys and bad names;
/// `checkRequired` reports missing keys. Overlays are checked per file with
/// types only (a key may be set by another layer), and the merged result
/// with required keys only, so nothing is reported twice.
package struct ShapeChecker {
    package var problems: [ConfigProblem] = []
    package var checkTypes = true
    package var checkRequired = true

    package init(checkTypes: Bool = true, checkRequired: Bool = true) {
        self.checkTypes = checkTypes
        self.checkRequired = checkRequired
    }

    private mutating func report(_ origin: ConfigOrigin, _ path: String, _ message: String, _ fix: String) {
        problems.append(ConfigProblem(file: origin.file, line: origin.line, keyPath: path, message: message, fix: fix))
    }

    private mutating func wrongType(_ value: ConfigValue, _ path: String, expected: String, example: String) {
        guard checkTypes else { return }
        var fix = "write \(expected), e.g. `\(path.split(separator: ".").last.map(String.init) ?? path): \(example)`"
        if case .int = value.kind, expected == "a string" { fix = "quote the value: \"\(value.renderJSON())\"" }
        if case .double = value.kind, expected == "a string" { fix = "quote the value: \"\(value.renderJSON())\"" }
        report(value.origin, path, "expected \(expected), got \(value.kindName)", fix)
    }

    package mutating func check(_ value: ConfigValue, _ shape: Shape, path: String) {
        switch shape {
        case .text(let rule):
            guard let s = value.string else {
                return wrongType(value, path, expected: "a string", example: Self.example(rule))
            }
            if checkTypes { checkText(s, rule, value.origin, path) }
        case .integer(let range):
            guard let i = value.int else {
                return wrongType(value, path, expected: "a whole number",
                                 example: String(range.lowerBound == Int.min ? 1 : range.lowerBound))
            }
            if checkTypes, !range.contains(i) {
                report(value.origin, path, "\(i) is out of range", "use a value from \(range.lowerBound) to \(range.upperBound)")
            }
        case .number(let min, let max):
            guard let d = value.double else {
                return wrongType(value, path, expected: "a number", example: "1")
            }
            if checkTypes, d < min {
                report(value.origin, path, "\(value.renderJSON()) is too small", "use a number of at least \(min)")
            } else if checkTypes, d > max {
                report(value.origin, path, "\(value.renderJSON()) is too large", "use a number of at most \(max)")
            }
        case .boolean:
            if value.bool == nil { wrongType(value, path, expected: "true or false", example: "true") }
        case .choice(let options):
            guard let s = value.string else {
                return wrongType(value, path, expected: "one of \(options.joined(separator: ", "))", example: options[0])
            }
            if checkTypes, !options.contains(s) {
                let hint = Self.closest(s, in: options).map { "did you mean '\($0)'? " } ?? ""
                report(value.origin, path, "'\(s)' is not one of \(options.joined(separator: ", "))",
                       "\(hint)use one of \(options.joined(separator: ", "))")
            }
        case .anything:
            break
        case .scalar:
            switch value.kind {
            case .string, .int, .double, .bool: break
            default: wrongType(value, path, expected: "a string, number or boolean", example: "value")
            }
        case .list(let element, let nonEmpty):
            guard case .list(let items) = value.kind else {
                return wrongType(value, path, expected: "a list", example: "[a, b]")
            }
            if checkRequired, nonEmpty, items.isEmpty {
                report(value.origin, path, "the list is empty", "give at least one item")
            }
            for (i, item) in items.enumerated() { check(item, element, path: "\(path)[\(i)]") }
        case .record(let fields):
            guard case .map(let entries) = value.kind else {
                return wrongType(value, path, expected: "a mapping", example: "{...}")
            }
            checkRecord(value, entries, fields, path: path)
        case .dictionary(let keyRule, let element):
            guard case .map(let entries) = value.kind else {
                return wrongType(value, path, expected: "a mapping", example: "{...}")
            }
            for entry in entries {
                let childPath = Self.join(path, entry.key)
                if checkTypes { checkText(entry.key, keyRule, entry.keyOrigin, childPath) }
                check(entry.value, element, path: childPath)
            }
        }
    }

    private mutating func checkRecord(_ value: ConfigValue, _ entries: [ConfigEntry], _ fields: [Field], path: String) {
        // A misspelt key is one mistake: report the unknown key with its
        // "did you mean", not also the key it was meant to be as missing.
        var meant: Set<String> = []
        for entry in entries where !fields.contains(where: { $0.name == entry.key }) {
            if let near = Self.closest(entry.key, in: fields.map(\.name)) { meant.insert(near) }
            if Self.isSecretKey(entry.key) { meant.insert("connection_string_env") }
        }
        for entry in entries {
            let childPath = Self.join(path, entry.key)
            if let field = fields.first(where: { $0.name == entry.key }) {
                check(entry.value, field.shape, path: childPath)
            } else if checkTypes {
                report(entry.keyOrigin, childPath, "unknown key '\(entry.key)'", Self.unknownKeyFix(entry, fields))
            }
        }
        guard checkRequired else { return }
        for field in fields where field.required && !meant.contains(field.name) && !entries.contains(where: { $0.key == field.name }) {
            let childPath = Self.join(path, field.name)
            let hint = field.name == "version" ? "add `version: 1` at the top of the file"
                : "add `\(field.name):` under \(path.isEmpty ? "the top level" : "`\(path)`") (see docs/configuration.md)"
            report(value.origin, childPath, "missing required key '\(field.name)'", hint)
        }
    }

    static func isSecretKey(_ key: String) -> Bool {
        let lower = key.lowercased()
        return ["connection_string", "password", "secret", "token", "key", "sas_key", "shared_access_key", "account_key"].contains(lower)
            || lower.contains("password") || lower.contains("secret")
    }

    private static func unknownKeyFix(_ entry: ConfigEntry, _ fields: [Field]) -> String {
        if isSecretKey(entry.key) {
            return "secrets never sit in config files: store it in an environment variable and name that variable with `connection_string_env`"
        }
        let names = fields.map(\.name)
        if let near = closest(entry.key, in: names) { return "did you mean '\(near)'?" }
        return names.isEmpty ? "remove it" : "remove it, or use one of: \(names.joined(separator: ", "))"
    }

    private mutating func checkText(_ s: String, _ rule: TextRule, _ origin: ConfigOrigin, _ path: String) {
        switch rule {
        case .any:
            if s.isEmpty { report(origin, path, "the value is empty", "write a value") }
        case .safeID:
            if !EnvelopePolicy.isSafeID(s) {
                report(origin, path, "'\(s)' is not a safe name",
                       "use lower-case letters, digits and . _ - (starting with a letter or digit, at most 64): [a-z0-9][a-z0-9._-]{0,63}")
            }
        case .envVarName:
            if !Self.isEnvVarName(s) {
                if s.contains("=") || s.contains(";") || s.contains("://") {
                    report(origin, path, "this looks like a secret (a connection string), not the name of an environment variable",
                           "remove the secret from the file, export it as e.g. EVENTHUBS_CONNECTION and write that name here")
                } else {
                    report(origin, path, "'\(s)' is not an environment variable name",
                           "use upper-case letters, digits and _, e.g. ACME_EVENTHUBS_CONNECTION")
                }
            }
        case .duration:
            if Self.durationSeconds(s) == nil {
                report(origin, path, "'\(s)' is not a duration (or is longer than ten years)", "write a number and a unit: 30s, 5m, 1h or 1d")
            }
        case .timezone:
            if !Self.isTimezone(s) {
                report(origin, path, "'\(s)' is not a time zone", "use an IANA name such as Europe/Berlin, America/Chicago or UTC")
            }
        case .fieldPath:
            if !Self.isFieldPath(s) {
                report(origin, path, "'\(s)' is not a field name", "use names like temperature or location.floor")
            }
        }
    }

    static func example(_ rule: TextRule) -> String {
        switch rule {
        case .any: "text"
        case .safeID: "acme"
        case .envVarName: "ACME_EVENTHUBS_CONNECTION"
        case .duration: "1h"
        case .timezone: "Europe/Berlin"
        case .fieldPath: "temperature"
        }
    }

    // MARK: - Small checks, shared with the loader

    package static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    package static func isEnvVarName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    /// Seconds of `30s`, `5m`, `1h`, `1d`; nil for anything else or beyond
    /// `maxDurationSeconds` (ten years: larger values are mistakes, and would
    /// overflow microsecond arithmetic downstream).
    package static func durationSeconds(_ s: String) -> Int? {
        guard let unit = s.last, let n = Int(s.dropLast()), n > 0, n <= maxDurationSeconds else { return nil }
        let seconds: Int
        switch unit {
        case "s": seconds = n
        case "m": seconds = n * 60
        case "h": seconds = n * 3600
        case "d": seconds = n * 86400
        default: return nil
        }
        return seconds <= maxDurationSeconds ? seconds : nil
    }

    package static let maxDurationSeconds = 10 * 366 * 86_400

    static func isTimezone(_ s: String) -> Bool {
        if s == "UTC" { return true }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return false }
        return parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, ("A"..."Z").contains(first) else { return false }
            return part.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || "_-+".unicodeScalars.contains($0) || ("0"..."9").contains($0)) }
        }
    }

    static func isFieldPath(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) else { return false }
            return part.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        }
    }

    /// The candidate within edit distance 2 (or that starts with `word`),
    /// for "did you mean".
    package static func closest(_ word: String, in candidates: [String]) -> String? {
        var best: (String, Int)?
        for c in candidates.sorted() {
            var d = editDistance(Array(word.lowercased()), Array(c.lowercased()))
            if word.count >= 3, c.hasPrefix(word) { d = min(d, 2) }
            if d <= 2, d < (best?.1 ?? .max) { best = (c, d) }
        }
        return best?.0
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

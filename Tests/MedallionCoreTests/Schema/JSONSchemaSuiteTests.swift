import Foundation
import Testing
@testable import MedallionCore

/// The official JSON-Schema-Test-Suite (draft 2020-12), read in place from
/// `../shared/testdata`, for every keyword the validator supports.
///
/// Each group is classified by an oracle written here, independently of the
/// compiler: a group whose schema uses only supported keywords must compile
/// and pass every case; a group that uses anything else must fail to
/// compile, naming the keyword (never silently pass). Remote `$ref`s (to
/// http URLs) are counted as skipped, and must not compile either.
@Suite("JSON-Schema-Test-Suite draft2020-12")
struct JSONSchemaSuiteTests {
    static let folder = sharedTestData.appendingPathComponent("JSON-Schema-Test-Suite/draft2020-12")

    /// file → (cases that must pass, groups refused at compile time, of which remote-$ref groups).
    /// Pinned so that a change in what is supported shows up as a test diff.
    static let expected: [String: (passed: Int, refused: Int, remote: Int)] = [
        "type.json": (80, 0, 0),
        "properties.json": (20, 1, 0),
        "required.json": (18, 0, 0),
        "additionalProperties.json": (8, 4, 0),
        "enum.json": (51, 0, 0),
        "const.json": (54, 0, 0),
        "minimum.json": (11, 0, 0),
        "maximum.json": (8, 0, 0),
        "exclusiveMinimum.json": (4, 0, 0),
        "exclusiveMaximum.json": (4, 0, 0),
        "multipleOf.json": (11, 0, 0),
        "minLength.json": (7, 0, 0),
        "maxLength.json": (7, 0, 0),
        "pattern.json": (12, 0, 0),
        "items.json": (29, 0, 0),
        "prefixItems.json": (11, 0, 0),
        "minItems.json": (6, 0, 0),
        "maxItems.json": (6, 0, 0),
        "ref.json": (44, 17, 5),
        "defs.json": (0, 1, 1),
        "allOf.json": (30, 0, 0),
        "anyOf.json": (18, 0, 0),
        "oneOf.json": (27, 0, 0),
        "not.json": (38, 1, 0),
        "boolean_schema.json": (18, 0, 0),
        "optional/format/date-time.json": (33, 0, 0),
        "optional/format/date.json": (81, 0, 0),
        "optional/format/uuid.json": (28, 0, 0),
    ]

    static var files: [String] { expected.keys.sorted() }

    @Test("every group of the keyword's file: supported ones pass, others are refused", arguments: files)
    func keywordFile(_ file: String) throws {
        let url = Self.folder.appendingPathComponent(file)
        let text = try String(contentsOf: url, encoding: .utf8)
        guard case .array(let groups) = try JSONValue.parse(text) else {
            Issue.record("\(file) is not an array of groups")
            return
        }
        var passed = 0, failed = 0, refused = 0, remote = 0
        var reasons: [String] = []
        for group in groups {
            let description = group["description"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?"
            guard let schemaValue = group["schema"], case .array(let tests)? = group["tests"] else {
                Issue.record("\(file): malformed group \(description)")
                continue
            }
            if let reason = SupportOracle.refusal(schemaValue) {
                refused += 1
                if reason.hasPrefix("remote") { remote += 1 }
                reasons.append("\(description): \(reason)")
                do {
                    _ = try JSONSchema.compile(schemaValue)
                    Issue.record("\(file) / \(description): uses \(reason) but compiled")
                } catch {
                    // The refusal names the keyword the oracle found (and its pointer).
                    let keyword = SupportOracle.keyword(of: reason)
                    #expect(error.problems.contains { $0.keyword == keyword && $0.pointer.hasSuffix("/" + JSONPointer.escape(keyword)) },
                            "\(file) / \(description): expected a problem naming \(keyword), got \(error)")
                }
                continue
            }
            let schema: JSONSchema
            do {
                schema = try JSONSchema.compile(schemaValue)
            } catch {
                Issue.record("\(file) / \(description): supported schema failed to compile: \(error)")
                failed += tests.count
                continue
            }
            for test in tests {
                guard let data = test["data"], case .bool(let valid)? = test["valid"] else { continue }
                let what = test["description"].map(\.compactText) ?? "?"
                let quick = schema.isValid(data)
                let violations = schema.validate(data)
                if quick == valid && violations.isEmpty == valid {
                    passed += 1
                } else {
                    failed += 1
                    Issue.record("\(file) / \(description) / \(what): data \(data.compactText) expected \(valid ? "valid" : "invalid"), isValid=\(quick), violations=\(violations)")
                }
            }
        }
        print("JSON-Schema-Test-Suite \(file): \(passed) cases passed, \(failed) failed, \(refused) groups refused at compile time (\(remote) remote $ref)")
        for reason in reasons { print("  refused: \(reason)") }
        let want = try #require(Self.expected[file])
        #expect(failed == 0)
        #expect(passed == want.passed, "\(file): passed cases")
        #expect(refused == want.refused, "\(file): refused groups")
        #expect(remote == want.remote, "\(file): remote $ref groups")
    }
}

/// Decides, without the compiler, whether a suite schema is within the
/// supported subset, and if not, why.
enum SupportOracle {
    static let supported: Set<String> = [
        "type", "properties", "required", "additionalProperties", "enum", "const",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minLength", "maxLength", "pattern", "format", "items", "prefixItems", "minItems", "maxItems",
        "$ref", "$defs", "allOf", "anyOf", "oneOf", "not",
        "$schema", "$id", "title", "description", "default", "examples", "$comment",
    ]
    /// Keywords whose value is one schema / an array of schemas / a map of schemas.
    static let oneSchema: Set<String> = [
        "items", "not", "additionalProperties", "contains", "if", "then", "else", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "contentSchema",
    ]
    static let schemaArray: Set<String> = ["allOf", "anyOf", "oneOf", "prefixItems"]
    static let schemaMap: Set<String> = ["properties", "patternProperties", "$defs", "dependentSchemas", "definitions"]
    static let formats: Set<String> = ["date-time", "date", "uuid"]

    /// The keyword a refusal reason is about (`keyword contains` → `contains`).
    static func keyword(of reason: String) -> String {
        if reason.hasPrefix("keyword ") { return String(reason.dropFirst("keyword ".count)) }
        if reason.hasPrefix("embedded ") { return String(reason.dropFirst("embedded ".count)) }
        if reason.hasPrefix("format ") { return "format" }
        return "$ref"
    }

    /// nil when supported; otherwise what makes it unsupported.
    static func refusal(_ schema: JSONValue) -> String? {
        var found: [String] = []
        walk(schema, root: true, &found)
        if let remote = found.first(where: { $0.hasPrefix("remote") }) { return remote }
        return found.first
    }

    private static func walk(_ schema: JSONValue, root: Bool, _ found: inout [String]) {
        guard case .object(let members) = schema else { return }
        for (key, value) in members {
            if !supported.contains(key) { found.append("keyword \(key)") }
            if key == "$ref", case .string(let ref) = value {
                if ref.hasPrefix("http") { found.append("remote $ref \(ref)") } else if !ref.hasPrefix("#") || ref.count > 1 && !ref.hasPrefix("#/") {
                    found.append("non-local $ref \(ref)")
                }
            }
            if (key == "$id" || key == "$schema") && !root { found.append("embedded \(key)") }
            if key == "format", case .string(let f) = value, !formats.contains(f) { found.append("format \(f)") }
            if oneSchema.contains(key) { walk(value, root: false, &found) }
            if schemaArray.contains(key), case .array(let items) = value { for item in items { walk(item, root: false, &found) } }
            if schemaMap.contains(key), case .object(let entries) = value { for (_, item) in entries { walk(item, root: false, &found) } }
        }
    }
}

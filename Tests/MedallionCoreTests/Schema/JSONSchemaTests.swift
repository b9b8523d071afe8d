import Foundation
import Testing
@testable import MedallionCore

private func schema(_ text: String) throws -> JSONSchema {
    try JSONSchema.compile(text: text)
}

private func value(_ text: String) throws -> JSONValue {
    try JSONValue.parse(text)
}

private func problems(_ text: String) -> [SchemaProblem] {
    do {
        _ = try JSONSchema.compile(text: text)
        return []
    } catch {
        return error.problems
    }
}

@Suite("JSON Schema violations")
struct JSONSchemaViolationTests {
    static let thermostat = """
    {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
     "properties": {
       "temperature": {"type": "number", "maximum": 20},
       "unit": {"type": "string", "enum": ["C", "F"]},
       "battery_pct": {"type": "integer", "minimum": 0, "maximum": 100},
       "badge": {"type": "string", "pattern": "^b-[0-9]{4}$"},
       "when": {"type": "string", "format": "date-time"}
     },
     "required": ["temperature", "unit"],
     "additionalProperties": false}
    """

    @Test("a violation names the instance pointer (under the caller's base), the keyword's place, the rule and the values")
    func pointersAndMessages() throws {
        let s = try schema(Self.thermostat)
        let v = s.validate(try value(#"{"temperature": 21.5, "unit": "K", "battery_pct": 99.5, "badge": "b-12", "when": "2026-02-30T00:00:00Z", "extra": 1}"#),
                           at: "/payload")
        #expect(v.map(\.instancePointer) == ["/payload/temperature", "/payload/unit", "/payload/battery_pct", "/payload/badge", "/payload/when", "/payload/extra"])
        #expect(v.map(\.rule) == ["maximum", "enum", "type", "pattern", "format", "additionalProperties"])
        #expect(v.map(\.schemaPointer) == [
            "/properties/temperature/maximum", "/properties/unit/enum", "/properties/battery_pct/type",
            "/properties/badge/pattern", "/properties/when/format", "/additionalProperties",
        ])
        #expect(v[0].message == "21.5 is above maximum 20")
        #expect(v[1].message == #""K" is not one of ["C","F"]"#)
        #expect(v[2].message == "99.5 is a number, expected integer")
        #expect(v[3].message == #""b-12" does not match pattern ^b-[0-9]{4}$"#)
        #expect(v[4].message.hasPrefix(#""2026-02-30T00:00:00Z" is not a valid date-time"#))
        #expect(v[5].message == #"property "extra" is not allowed (additionalProperties is false)"#)
        #expect(v[0].description == "/payload/temperature: 21.5 is above maximum 20 (maximum at #/properties/temperature/maximum)")
        #expect(!s.isValid(try value(#"{"temperature": 21.5, "unit": "C"}"#)))
        #expect(s.isValid(try value(#"{"temperature": 19.99, "unit": "C", "when": "2026-03-01T12:00:00.123Z"}"#)))
    }

    @Test("missing required members are reported at the object, each by name")
    func required() throws {
        let v = try schema(Self.thermostat).validate(try value("{}"))
        #expect(v.map(\.instancePointer) == ["", ""])
        #expect(v.map(\.message) == [#"missing required property "temperature""#, #"missing required property "unit""#])
        #expect(v.map(\.schemaPointer) == ["/required", "/required"])
    }

    @Test("violations are collected up to the limit, not stopped at the first")
    func bounded() throws {
        let s = try schema(#"{"type": "array", "items": {"type": "integer", "maximum": 9}}"#)
        let items = (0..<100).map { "\($0 + 10)" }.joined(separator: ",")
        let v = s.validate(try value("[\(items)]"))
        #expect(v.count == JSONSchema.defaultViolationLimit)
        #expect(v.first?.instancePointer == "/0" && v.last?.instancePointer == "/19")
        #expect(s.validate(try value("[\(items)]"), limit: 3).count == 3)
    }

    @Test("numbers are compared exactly: beyond Int64, beyond Double, decimals")
    func exactNumbers() throws {
        let big = try schema(#"{"maximum": 18446744073709551615}"#)
        #expect(big.isValid(try value("18446744073709551615")))
        #expect(!big.isValid(try value("18446744073709551616")))
        #expect(big.validate(try value("18446744073709551616")).first?.message == "18446744073709551616 is above maximum 18446744073709551615")
        let tight = try schema(#"{"exclusiveMinimum": 9007199254740992}"#)
        #expect(tight.isValid(try value("9007199254740993")))      // Double would round it to …992
        #expect(!tight.isValid(try value("9007199254740992.0")))
        #expect(try schema(#"{"maximum": 1e400}"#).isValid(try value("1e399")))
        #expect(!(try schema(#"{"minimum": 0.1}"#).isValid(try value("0.0999999999999999999999"))))
        let integer = try schema(#"{"type": "integer"}"#)
        for ok in ["1.0", "1e2", "-0", "123456789012345678901234567890", "1.5e1", "0.1e1"] { #expect(integer.isValid(try value(ok)), "\(ok)") }
        for bad in ["1.5", "1e-2", "1.00000000000000000001"] { #expect(!integer.isValid(try value(bad)), "\(bad)") }
        let cents = try schema(#"{"multipleOf": 0.01}"#)
        #expect(cents.isValid(try value("19.99")))
        #expect(cents.isValid(try value("1e30")))
        #expect(!cents.isValid(try value("19.999")))
        #expect(cents.validate(try value("19.999")).first?.message == "19.999 is not a multiple of 0.01")
        #expect(try schema(#"{"const": 1}"#).isValid(try value("1.00")))
        #expect(try schema(#"{"enum": [100]}"#).isValid(try value("1e2")))
    }

    @Test("lengths count Unicode scalars; strings compare by code points")
    func strings() throws {
        let s = try schema(#"{"minLength": 2, "maxLength": 2}"#)
        #expect(s.isValid(.string("🐲🐲")))
        #expect(s.isValid(.string("e\u{301}")))                  // one grapheme, two scalars
        #expect(s.validate(.string("x")).first?.message == #""x" has 1 character, fewer than minLength 2"#)
        #expect(!(try schema(#"{"const": "\u00e4"}"#).isValid(.string("a\u{308}"))))
        let pattern = try schema(#"{"pattern": "^\\d+$"}"#)
        #expect(pattern.isValid(.string("123")) && !pattern.isValid(.string("১২৩")))  // \d is ASCII, as in ECMA-262
    }

    @Test("$ref to $defs, the root and escaped pointers; the keyword's own place is reported")
    func references() throws {
        let s = try schema("""
        {"$defs": {"celsius": {"type": "number", "maximum": 60}, "a/b~c%d": {"type": "string"}},
         "properties": {"t": {"$ref": "#/$defs/celsius"}, "name": {"$ref": "#/$defs/a~1b~0c%25d"},
                        "child": {"$ref": "#"}}}
        """)
        let v = s.validate(try value(#"{"t": 70, "name": 1, "child": {"child": {"t": 61}}}"#))
        #expect(v.map(\.instancePointer) == ["/t", "/name", "/child/child/t"])
        #expect(v.map(\.schemaPointer) == ["/$defs/celsius/maximum", "/$defs/a~1b~0c%d/type", "/$defs/celsius/maximum"])
        #expect(v[1].message == "1 is an integer, expected string")
    }

    @Test("anyOf, oneOf and not say which branch failed and why")
    func combinators() throws {
        let any = try schema(#"{"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}]}"#)
        let v = any.validate(try value("-1"), at: "/payload/x")
        #expect(v.count == 1)
        #expect(v[0].instancePointer == "/payload/x" && v[0].schemaPointer == "/anyOf" && v[0].rule == "anyOf")
        #expect(v[0].message == "-1 matches none of the 2 schemas of anyOf (#0 -1 is an integer, expected string; #1 -1 is below minimum 0)")
        let one = try schema(#"{"oneOf": [{"type": "integer"}, {"minimum": 2}]}"#)
        #expect(one.validate(try value("3")).first?.message == "3 matches 2 schemas of oneOf (#0, #1), expected exactly one")
        #expect(one.isValid(try value("1")))
        #expect(one.isValid(try value("2.5")))
        let not = try schema(#"{"not": {"type": "null"}}"#)
        #expect(not.validate(.null).first?.message == "null matches the schema in not")
        #expect(try schema("false").validate(.null).first?.rule == "false")
        #expect(try schema("true").validate(.null) == [])
    }

    @Test("every bundled payload schema compiles, and the generator's good events validate against their version")
    func bundledSchemas() throws {
        let dir = projectRoot.appendingPathComponent("schemas/event_types")
        var schemas: [String: JSONSchema] = [:]
        for type in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() {
            for file in try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(type).path) {
                let text = try String(contentsOf: dir.appendingPathComponent(type).appendingPathComponent(file), encoding: .utf8)
                schemas["\(type)@\(file.dropFirst().dropLast(5))"] = try JSONSchema.compile(text: text)
            }
        }
        #expect(schemas.count == 4)
        var generator = try SampleGenerator(GeneratorConfig(seed: 7, count: 0, badRate: 0))
        var bytes: [UInt8] = []
        generator.appendLines(3000, to: &bytes)
        var validated = 0
        for line in bytes.split(separator: 0x0A) {
            let event = try JSONValue.parse(String(decoding: line, as: UTF8.self))
            guard case .string(let type)? = event["event_type"], case .string(let version)? = event["schema_version"],
                  let payload = event["payload"]
            else { Issue.record("generator line without event_type/schema_version/payload"); continue }
            let schema = try #require(schemas["\(type)@\(version)"], "no schema for \(type) \(version)")
            let violations = schema.validate(payload, at: "/payload")
            #expect(violations == [], "\(type) \(version): \(violations)")
            validated += 1
        }
        #expect(validated == 3000)
    }
}

@Suite("JSON Schema compile errors")
struct JSONSchemaCompileErrorTests {
    @Test("an unsupported keyword fails compilation, named with its JSON pointer", arguments: [
        ("unevaluatedProperties", "false"), ("dependentSchemas", "{}"), ("$dynamicRef", ##""#meta""##),
        ("contains", #"{"type": "integer"}"#), ("patternProperties", #"{"^x": {}}"#), ("if", #"{}"#),
        ("uniqueItems", "true"), ("propertyNames", "{}"), ("minProperties", "1"), ("$anchor", #""a""#),
    ])
    func unsupportedKeyword(_ keyword: String, _ argument: String) {
        let found = problems(#"{"properties": {"tags": {"type": "array", "\#(keyword)": \#(argument)}}}"#)
        #expect(found.count == 1)
        #expect(found.first?.kind == .unsupportedKeyword)
        #expect(found.first?.keyword == keyword)
        #expect(found.first?.pointer == "/properties/tags/\(keyword)")
        #expect(found.first?.description.hasPrefix("#/properties/tags/\(keyword): unsupported keyword \"\(keyword)\": ") == true)
    }

    @Test("a misspelt keyword is refused too (it would otherwise silently validate nothing)")
    func misspelt() {
        let found = problems(#"{"type": "object", "propertes": {"a": {"type": "string"}}}"#)
        #expect(found.map(\.keyword) == ["propertes"])
    }

    @Test("references: remote, relative, anchors, missing targets, non-schemas and cycles are refused")
    func references() {
        #expect(problems(#"{"$ref": "https://example.com/s.json"}"#).map(\.kind) == [.unsupportedReference])
        #expect(problems(#"{"$ref": "other.json#/a"}"#).map(\.kind) == [.unsupportedReference])
        #expect(problems(##"{"$ref": "#anchor"}"##).map(\.kind) == [.unsupportedReference])
        let missing = problems(##"{"properties": {"a": {"$ref": "#/$defs/nope"}}}"##)
        #expect(missing.map(\.kind) == [.unresolvedReference] && missing.first?.pointer == "/properties/a/$ref")
        #expect(missing.first?.message == "#/$defs/nope does not exist in this schema")
        #expect(problems(##"{"enum": [{"type": "string"}], "$ref": "#/enum/0"}"##).map(\.kind) == [.unresolvedReference])
        #expect(problems(##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}"##)
            .map(\.kind) == [.referenceCycle])
        #expect(problems(##"{"$ref": "#"}"##).map(\.kind) == [.referenceCycle])
        #expect(problems(##"{"properties": {"next": {"$ref": "#"}}}"##) == [])    // descends: fine
    }

    @Test("$id and $schema only at the root; only the 2020-12 dialect; only date-time, date and uuid formats")
    func rootOnlyAndDialect() {
        #expect(problems(#"{"$id": "urn:x", "$schema": "https://json-schema.org/draft/2020-12/schema"}"#) == [])
        #expect(problems(#"{"$defs": {"a": {"$id": "a.json"}}}"#).map(\.pointer) == ["/$defs/a/$id"])
        #expect(problems(#"{"$schema": "http://json-schema.org/draft-07/schema#"}"#).map(\.keyword) == ["$schema"])
        let format = problems(#"{"format": "email"}"#)
        #expect(format.map(\.kind) == [.unsupportedFormat])
        #expect(format.first?.message.contains("date-time, date, uuid") == true)
    }

    @Test("keyword values of the wrong shape are refused, all of them at once")
    func invalidValues() {
        let found = problems(#"{"type": "float", "minimum": "0", "minLength": -1, "maxItems": 1.5, "multipleOf": 0, "pattern": "(", "required": [1], "items": [{}], "allOf": []}"#)
        #expect(found.map(\.keyword) == ["type", "minimum", "minLength", "maxItems", "multipleOf", "pattern", "required", "items", "allOf"])
        #expect(found.allSatisfy { $0.kind == .invalidValue })
        #expect(problems(#"{"properties": {"a": 5}}"#).map(\.pointer) == ["/properties/a"])
        #expect(problems(#"{"minLength": 2.0, "maxItems": 1e1}"#) == [])
    }
}

@Suite("JSON Schema concurrency")
struct JSONSchemaConcurrencyTests {
    @Test("one compiled schema validates from many tasks at once")
    func sharedAcrossTasks() async throws {
        let s = try JSONSchema.compile(text: #"{"properties": {"badge": {"pattern": "^b-[0-9]{4}$"}, "t": {"maximum": 20}}}"#)
        let good = try JSONValue.parse(#"{"badge": "b-1234", "t": 19.5}"#)
        let bad = try JSONValue.parse(#"{"badge": "x", "t": 21}"#)
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<500).allSatisfy { _ in s.isValid(good) && s.validate(bad).count == 2 } }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }

    @Test("an invalid regular expression is a compile error quoting the pattern's problem")
    func badRegex() {
        do {
            _ = try JSONSchema.compile(text: #"{"properties": {"a": {"pattern": "[a-"}}}"#)
            Issue.record("compiled")
        } catch {
            #expect(error.problems.map(\.pointer) == ["/properties/a/pattern"])
            #expect(error.problems.first?.message == #"[a- is not a valid regular expression: expected ']'"#)
        }
    }
}

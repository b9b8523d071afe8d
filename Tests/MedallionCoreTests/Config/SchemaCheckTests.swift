import Foundation
import Testing
@testable import MedallionCore

/// `medallion check` compiles every bundled payload schema with `JSONSchema`.
@Suite("Configuration tree: payload schemas compile")
struct SchemaCheckTests {
    @Test("bundled schemas are compiled and kept for silver-validate")
    func bundledCompile() throws {
        let tree = ConfigTree.load(root: projectRoot.path)
        let versions = tree.schemas.values.flatMap { $0 }
        #expect(versions.count == 4)
        #expect(versions.allSatisfy { $0.validator != nil })
        let v11 = try #require(tree.schemas["thermostat.telemetry"]?.last?.validator)
        let bad = try JSONValue.parse(#"{"temperature": 21.5, "unit": "C", "humidity": 101, "setpoint": 20, "mode": "heat", "battery_pct": 90}"#)
        #expect(v11.validate(bad, at: "/payload").map(\.description) == [
            "/payload/humidity: 101 is above maximum 100 (maximum at #/properties/humidity/maximum)",
            #"(root): missing required property "co2_ppm" (required at #/required)"#.replacingOccurrences(of: "(root)", with: "/payload"),
        ])
    }

    @Test("every compile problem of a schema file is reported at its line with its pointer, once")
    func everyProblemWithLine() throws {
        let tree = try TreeCopy()
        defer { tree.cleanUp() }
        try tree.write("schemas/event_types/door.access/v1.1.json", """
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "type": "objekt",
          "properties": {
            "door_id": {"type": "string", "minLength": "1"},
            "badge_id": {"$ref": "https://example.com/badge.json"},
            "site": {"$ref": "#/$defs/site"},
            "floors": {"type": "array", "contains": {"type": "integer"}}
          },
          "dependentRequired": {"badge_id": ["door_id"]}
        }
        """)
        let problems = tree.check().filter { $0.file.hasSuffix("v1.1.json") }
        #expect(problems.map { "\($0.line) \($0.keyPath)" } == [
            "3 type",
            "5 /properties/door_id/minLength",
            "6 /properties/badge_id/$ref",
            "7 /properties/site/$ref",
            "8 /properties/floors/contains",
            "10 /dependentRequired",
        ])
        #expect(problems.allSatisfy { !$0.fix.isEmpty })
        #expect(problems[3].message == "#/$defs/site does not exist in this schema")
    }

    @Test("a duplicate key in a schema is named by its pointer")
    func duplicateKey() throws {
        let tree = try TreeCopy()
        defer { tree.cleanUp() }
        try tree.write("schemas/event_types/door.access/v1.1.json", """
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
         "properties": {"a": {"type": "string"}},
         "required": ["a"], "required": []}
        """)
        let problems = tree.check().filter { $0.file.hasSuffix("v1.1.json") }
        #expect(problems.map(\.description) == [
            "schemas/event_types/door.access/v1.1.json:3: error: required: key 'required' appears more than once in one mapping (fix: keep one 'required': readers disagree on which value wins)",
        ])
    }
}

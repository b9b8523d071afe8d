import Foundation
import Testing
@testable import MedallionCore

@Suite("JSON value")
struct JSONValueTests {
    /// Every y_ document of JSONTestSuite parses, and its compact text parses
    /// back to the same tree (numbers keep their exact text).
    @Test func everyValidSuiteDocumentRoundTripsThroughCompactText() throws {
        let folder = sharedTestData.appendingPathComponent("JSONTestSuite/test_parsing")
        var count = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasPrefix("y_") {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            let result = bytes.withUnsafeBytes { raw in Result { () throws(JSONValue.ParseError) in try JSONValue.parse(raw) } }
            guard case .success(let value) = result else {
                // Duplicate keys are our documented refusal, not a parse failure.
                if case .failure(.duplicateKey) = result { continue }
                Issue.record("\(name): \(result)")
                continue
            }
            #expect(try JSONValue.parse(value.compactText) == value, "\(name)")
            count += 1
        }
        #expect(count >= 90)
    }

    @Test func keepsNumbersExactlyAndMembersInOrder() throws {
        let value = try JSONValue.parse(#" {"b": 1.50, "a": [1e400, -0, 12345678901234567890], "c": {"x": null, "y": true}} "#)
        #expect(value.compactText == #"{"b":1.50,"a":[1e400,-0,12345678901234567890],"c":{"x":null,"y":true}}"#)
        #expect(value["b"]?.doubleValue == 1.5)
        #expect(value["a"].flatMap { if case .array(let a) = $0 { a[2].int64Value } else { nil } } == nil)  // out of Int64 range
        #expect(value["c"]?["y"] == .bool(true))
    }

    @Test func rejectsDuplicateKeysNamingTheirPointer() {
        #expect(throws: JSONValue.ParseError.duplicateKey(pointer: "/a/x~1y")) {
            try JSONValue.parse(#"{"a":{"x/y":1,"x\/y":2}}"#)
        }
        #expect(throws: JSONValue.ParseError.duplicateKey(pointer: "/0/k")) {
            try JSONValue.parse(#"[{"k":1,"k":1}]"#)
        }
    }

    @Test func decodesEscapesAndRejectsInvalidDocuments() throws {
        #expect(try JSONValue.parse(#"["\u00e9\ud834\udd1e\n"]"#) == .array([.string("é𝄞\n")]))
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("[1,]") }
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(deep) }
    }
}

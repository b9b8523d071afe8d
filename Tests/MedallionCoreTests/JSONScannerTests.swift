import Foundation
import Testing
@testable import MedallionCore

@Suite("JSON scanner")
struct JSONScannerTests {
    /// JSONTestSuite (nst/JSONTestSuite): every y_ case must be accepted, every
    /// n_ case rejected; i_ cases are our documented choice and must not crash.
    @Test func acceptsEveryYCaseAndRejectsEveryNCaseOfJSONTestSuite() throws {
        let folder = sharedTestData.appendingPathComponent("JSONTestSuite/test_parsing")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        var accepted = 0, rejected = 0, implementation = 0
        for name in names where name.hasSuffix(".json") {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            let result = scan(bytes)
            switch name.first {
            case "y":
                if case .failure(let error) = result { Issue.record("\(name) must be accepted: \(error.description)") }
                accepted += 1
            case "n":
                if case .success = result { Issue.record("\(name) must be rejected") }
                rejected += 1
            default:
                implementation += 1  // any outcome but a crash
            }
        }
        #expect(accepted >= 95)
        #expect(rejected >= 180)
        #expect(implementation >= 30)
    }

    /// The i_ choices we document in docs/json.md.
    @Test(arguments: [
        ("i_string_1st_surrogate_but_2nd_missing.json", false),
        ("i_string_lone_second_surrogate.json", false),
        ("i_structure_UTF-8_BOM_empty_object.json", false),
        ("i_number_huge_exp.json", true),
        ("i_number_very_big_negative_int.json", true),
        ("i_structure_500_nested_arrays.json", true),
        ("i_string_invalid_utf-8.json", false),
    ])
    func documentedImplementationDefinedChoices(name: String, accepted: Bool) throws {
        let url = sharedTestData.appendingPathComponent("JSONTestSuite/test_parsing/\(name)")
        let bytes = try [UInt8](Data(contentsOf: url))
        let ok = if case .success = scan(bytes) { true } else { false }
        #expect(ok == accepted, "\(name)")
    }

    @Test func recordsTopLevelMemberOffsetsAndKinds() throws {
        let text = #"{"a":1, "b" : "x\ny", "c":[1,{"d":null}],"e":true}"#
        let bytes = [UInt8](text)
        var scanner = JSONScanner()
        let kind = try bytes.withUnsafeBytes { try scanner.scan($0) }
        #expect(kind == .object)
        let members = scanner.members
        #expect(members.map(\.kind) == [.number, .string, .array, .bool])
        let b = members[1]
        #expect(String(decoding: bytes[b.keyStart..<b.keyEnd], as: UTF8.self) == "b")
        #expect(String(decoding: bytes[b.valueStart..<b.valueEnd], as: UTF8.self) == #""x\ny""#)
        #expect(b.valueEscaped)
        let c = members[2]
        #expect(String(decoding: bytes[c.valueStart..<c.valueEnd], as: UTF8.self) == #"[1,{"d":null}]"#)
    }

    @Test func rejectsTenThousandDeepNestingWithoutRecursion() {
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 10_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 10_000)
        guard case .failure(let error) = scan(deep) else { Issue.record("accepted"); return }
        #expect(error.kind == .tooDeep)
        let inObject = [UInt8]("{\"payload\":") + deep + [UInt8]("}")
        guard case .failure(let error2) = scan(inObject) else { Issue.record("accepted"); return }
        #expect(error2.kind == .tooDeep)
    }

    @Test func depthLimitIsExact() {
        let ok = [UInt8](repeating: UInt8(ascii: "["), count: 512) + [UInt8](repeating: UInt8(ascii: "]"), count: 512)
        let over = [UInt8](repeating: UInt8(ascii: "["), count: 513) + [UInt8](repeating: UInt8(ascii: "]"), count: 513)
        #expect((try? scan(ok).get()) == .array)
        #expect((try? scan(over).get()) == nil)
    }

    @Test(arguments: [
        "\"\u{1}\"", "01", "1.", ".5", "-", "1e", "+1", "[1,]", "{\"a\":1,}", "{'a':1}", "\"\\x\"", "tru", "nul",
        "[1] [2]", "{\"a\" 1}", "\"\\uD800\"", "\"\\uDC00\\uD800\"", "NaN", "Infinity",
    ])
    func rejectsMalformedDocuments(text: String) {
        if case .success = scan([UInt8](text)) { Issue.record("accepted \(text)") }
    }

    @Test func validatesUTF8InsideStrings() {
        let cases: [[UInt8]] = [
            [0x22, 0xC0, 0x80, 0x22],  // overlong NUL
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
            [0x22, 0xFF, 0x22],
        ]
        for bytes in cases {
            guard case .failure(let error) = scan(bytes) else { Issue.record("accepted \(bytes)"); continue }
            #expect(error.kind == .invalidUTF8)
        }
        #expect((try? scan([UInt8]("\"ünï €𝄞\"")).get()) == .string)
    }

    @Test func longStringsCrossTheEightByteFastPathCorrectly() {
        for length in 0..<40 {
            let body = String(repeating: "a", count: length)
            #expect((try? scan([UInt8]("\"\(body)\"")).get()) == .string)
            #expect((try? scan([UInt8]("\"\(body)\u{1}\"")).get()) == nil)
            #expect((try? scan([UInt8]("\"\(body)\\\"x\"")).get()) == .string)
        }
    }

    @Test func decodesEscapesAndSurrogatePairs() {
        let body = [UInt8](#"a\"b\\c\/\n\u00e9\ud834\udd1e"#)
        let text = body.withUnsafeBytes { JSONString.decode($0) }
        #expect(text == "a\"b\\c/\né𝄞")
    }
}

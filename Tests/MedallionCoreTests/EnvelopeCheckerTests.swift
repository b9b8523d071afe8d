import Foundation
import Testing
@testable import MedallionCore

@Suite("Envelope checker")
struct EnvelopeCheckerTests {
    @Test func acceptsAValidEnvelopeWithReservedKeys() {
        #expect(check(envelope()) == .valid)
        #expect(check(envelope(extra: #""_source":{"source":"gen:1","partition":0,"offset":7},"_trace":"x""#)) == .valid)
        #expect(check(envelope(["attributes": nil])) == .valid)
    }

    @Test func forwardsPositionMarks() {
        #expect(check(#"{"_mark":{"gen:1/0":42}}"#) == .mark)
    }

    /// One line per reason code; the test below proves the table covers them all.
    static let cases: [(String, [UInt8], RejectReason)] = [
        ("invalid UTF-8", [UInt8](envelope(["site_id": "\"s\u{FFFD}\""]).utf8).map { $0 == 0xEF ? 0xFF : $0 }, .invalidUTF8),
        ("syntax", [UInt8]("{\"tenant_id\":\"acme\",}"), .invalidJSON),
        ("truncated", Array(envelope().utf8.dropLast(5)), .invalidJSON),
        ("empty line", [], .invalidJSON),
        ("deep", [UInt8]("{\"payload\":" + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"), .tooDeep),
        ("array", [UInt8]("[1,2]"), .notAnObject),
        ("number", [UInt8]("42"), .notAnObject),
        ("duplicate tenant", [UInt8](envelope(extra: #""tenant_id":"globex""#)), .duplicateField),
        ("duplicate via escape", [UInt8](envelope(extra: #""tenant\u005fid":"globex""#)), .duplicateField),
        ("duplicate reserved", [UInt8](envelope(extra: #""_x":1,"_x":2"#)), .duplicateField),
        ("missing", [UInt8](envelope(["event_id": nil])), .missingField),
        ("unknown", [UInt8](envelope(extra: #""tenantId":"acme""#)), .unknownField),
        ("wrong type id", [UInt8](envelope(["event_id": "7"])), .wrongType),
        ("wrong type payload", [UInt8](envelope(["payload": "\"str\""])), .wrongType),
        ("wrong type attribute", [UInt8](envelope(["attributes": #"{"fw":2}"#])), .wrongType),
        ("empty", [UInt8](envelope(["device_id": "\"\""])), .emptyField),
        ("too long", [UInt8](envelope(["device_id": "\"" + String(repeating: "d", count: 300) + "\""])), .fieldTooLong),
        ("hostile tenant", [UInt8](envelope(["tenant_id": "\"../../etc\""])), .unsafeID),
        ("upper tenant", [UInt8](envelope(["tenant_id": "\"ACME\""])), .unsafeID),
        ("slash event", [UInt8](envelope(["event_type": "\"a/b\""])), .unsafeID),
        ("month 13", [UInt8](envelope(["event_time_utc": "\"2026-13-01T00:00:00Z\""])), .badTimestamp),
        ("30 February", [UInt8](envelope(["ingest_time_utc": "\"2026-02-30T00:00:00Z\""])), .badTimestamp),
        ("offset", [UInt8](envelope(["event_time_utc": "\"2026-03-01T12:00:00+02:00\""])), .timestampNotUTC),
        ("version", [UInt8](envelope(["schema_version": "\"v1\""])), .badSchemaVersion),
        ("mismatch", [UInt8](envelope(["tenant_id": "\"globex\""])), .tenantMismatch),
    ]

    @Test func everyReasonCodeIsProducedByARealLine() {
        var seen = Set<RejectReason>()
        for (name, line, expected) in Self.cases {
            let got = reason(check(bytes: line))
            #expect(got == expected, "\(name): got \(String(describing: got))")
            if let got { seen.insert(got) }
        }
        let tenants = EnvelopePolicy(allowedTenants: ["acme", "globex"], allowedEventTypes: ["door.access"])
        #expect(reason(check(envelope(["tenant_id": "\"initech\""]), policy: tenants)) == .unknownTenant)
        #expect(reason(check(envelope(), policy: tenants)) == .unknownEventType)
        seen.formUnion([.unknownTenant, .unknownEventType])
        // line_too_long comes from framing (LineReaderTests, e2e); not_a_dlq_record from dlq-sink (e2e);
        // corrupt_capture_block from eh-source's Capture replay (e2e test_eh_source.py).
        seen.formUnion([.lineTooLong, .notADLQRecord, .corruptCaptureBlock])
        // silver-validate's reasons: produced from real records in SilverEvaluatorTests.
        seen.formUnion([.unknownSchemaVersion, .schemaViolation, .ruleFailed, .duplicateEvent])
        #expect(seen == Set(RejectReason.allCases))
    }

    @Test func messagesNameTheFieldAndTheValue() {
        guard case .rejected(let r) = check(envelope(["event_time_utc": "\"2026-02-30T00:00:00Z\""])) else {
            Issue.record("accepted"); return
        }
        #expect(r.field == "event_time_utc")
        #expect(r.message.contains("2026-02-30T00:00:00Z"))
    }

    @Test func hostileIDsNeverPass() {
        for id in ["..", ".", "../..", "a/b", "a\\\\b", "", " acme", "acme ", "a b", "é", String(repeating: "a", count: 65), "-x", "_x"] {
            let verdict = check(envelope(["tenant_id": "\"\(id)\""]), policy: EnvelopePolicy(allowedTenants: [id.isEmpty ? "x" : id]))
            #expect(verdict != .valid, "\(id) passed")
        }
    }

    @Test func docsListEveryReasonCode() throws {
        let docs = try String(contentsOf: projectRoot.appendingPathComponent("docs/dlq.md"), encoding: .utf8)
        for reason in RejectReason.allCases {
            #expect(docs.contains("`\(reason.rawValue)`"), "docs/dlq.md lacks \(reason.rawValue)")
        }
    }

    @Test func dlqRecordKeepsInvalidUTF8AsBase64AndValidTextAsAString() throws {
        for raw in [[UInt8]([0x7B, 0xFF, 0x7D]), [UInt8]("{\"a\":\"é\"}")] {
            var w = JSONWriter()
            raw.withUnsafeBytes { bytes in
                DLQRecord(stage: "t", rejection: Rejection(.invalidJSON, "m"), raw: bytes, rawLength: bytes.count,
                          rawTruncated: false, input: "-", lineNumber: 1, timeMicros: 0).encode(into: &w)
            }
            let object = try JSONSerialization.jsonObject(with: Data(w.bytes)) as! [String: Any]
            if let text = object["raw"] as? String {
                #expect(Array(text.utf8) == raw)
            } else {
                #expect(Base64.decode(Array((object["raw_base64"] as! String).utf8)) == raw)
            }
        }
    }
}

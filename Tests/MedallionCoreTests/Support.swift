import Foundation
@testable import MedallionCore

/// The project root (two levels above this file's folder).
let projectRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `../shared/testdata`, where the conformance suites live (read in place).
let sharedTestData: URL = projectRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata")

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}

func scan(_ bytes: [UInt8], maxDepth: Int = 512) -> Result<JSONKind, JSONSyntaxError> {
    var scanner = JSONScanner(maxDepth: maxDepth)
    return bytes.withUnsafeBytes { raw in
        Result { () throws(JSONSyntaxError) -> JSONKind in try scanner.scan(raw) }
    }
}

func check(_ line: String, policy: EnvelopePolicy = EnvelopePolicy(pipelineTenant: "acme")) -> EnvelopeVerdict {
    check(bytes: Array(line.utf8), policy: policy)
}

func check(bytes: [UInt8], policy: EnvelopePolicy = EnvelopePolicy(pipelineTenant: "acme")) -> EnvelopeVerdict {
    var checker = EnvelopeChecker(policy: policy)
    return bytes.withUnsafeBytes { checker.check($0) }
}

/// A valid envelope as a dictionary of raw JSON values, so tests can swap one field.
let validFields: [(String, String)] = [
    ("tenant_id", "\"acme\""), ("site_id", "\"s-1\""), ("device_id", "\"dev-9\""),
    ("device_type", "\"thermostat\""), ("event_type", "\"thermostat.telemetry\""),
    ("event_id", "\"e-0001\""), ("event_time_utc", "\"2026-03-01T12:00:00.123Z\""),
    ("ingest_time_utc", "\"2026-03-01T12:00:01Z\""), ("schema_version", "\"1.0\""),
    ("source_system", "\"gen\""), ("payload", "{\"temperature\":21.5,\"unit\":\"C\"}"),
    ("attributes", "{\"fw\":\"2.1.0\"}"),
]

/// Builds an envelope line, replacing (or with `nil` removing) some fields and appending extra raw members.
func envelope(_ changes: [String: String?] = [:], extra: String = "") -> String {
    var parts: [String] = []
    for (key, value) in validFields {
        if let change = changes[key] {
            if let change { parts.append("\"\(key)\":\(change)") }
        } else {
            parts.append("\"\(key)\":\(value)")
        }
    }
    if !extra.isEmpty { parts.append(extra) }
    return "{" + parts.joined(separator: ",") + "}"
}

func reason(_ verdict: EnvelopeVerdict) -> RejectReason? {
    if case .rejected(let r) = verdict { return r.reason }
    return nil
}

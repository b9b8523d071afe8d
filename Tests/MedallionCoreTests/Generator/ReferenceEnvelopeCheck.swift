// A slow, obviously-correct envelope check used only by the tests, to prove
// that good lines pass and that each bad kind fails for the intended reason.
// Foundation is fine here: tests are not on the hot path.
import Foundation
import MedallionCore

enum Reference {
    static let requiredKeys = [
        "tenant_id", "site_id", "device_id", "device_type", "event_type", "event_id", "event_time_utc",
        "ingest_time_utc", "schema_version", "source_system", "payload",
    ]
    static let stringKeys = requiredKeys.filter { $0 != "payload" }
    static let idKeys = ["tenant_id", "site_id", "device_id", "event_type", "event_id"]
    static let maxLineBytes = 1 << 20
    static let maxDepth = 64

    /// The reason a line is rejected, or "ok". Checks run in a fixed order
    /// so that each bad kind maps to exactly one reason.
    static func verdict(_ line: [UInt8], tenants: Set<String>) -> String {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return "empty_line" }
        if line.count > maxLineBytes { return "oversized_line" }
        guard String(validating: line, as: UTF8.self) != nil else { return "invalid_utf8" }
        if nestingDepth(line) > maxDepth { return "too_deep" }
        // Foundation on Linux accepts `{"a":1,}`; JSON does not.
        if hasTrailingComma(line) { return "malformed_json" }
        guard let any = try? JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed])
        else { return "malformed_json" }
        guard let object = any as? [String: Any] else { return "not_an_object" }
        let keys = topLevelKeys(line)
        if Set(keys).count != keys.count { return "duplicate_key" }
        if keys.contains(where: { !requiredKeys.contains($0) && $0 != "attributes" && !$0.hasPrefix("_") }) { return "unknown_field" }
        for key in requiredKeys where object[key] == nil { return "missing_field" }
        for key in stringKeys where !(object[key] is String) { return "wrong_type" }
        // attributes is optional (docs/envelope.md); when present, an object of strings.
        guard object["payload"] is [String: Any], let attributes = (object["attributes"] ?? [String: Any]()) as? [String: Any],
            attributes.values.allSatisfy({ $0 is String })
        else { return "wrong_type" }
        for key in idKeys where (object[key] as! String).isEmpty { return "empty_id" }
        for key in ["site_id", "device_id", "device_type", "event_id", "source_system"]
        where (object[key] as! String).utf8.count > 256 { return "long_id" }
        let tenant = object["tenant_id"] as! String
        if !matchesID(tenant) { return "bad_tenant_id" }
        if !tenants.contains(tenant) { return "unknown_tenant" }
        let eventType = object["event_type"] as! String
        if !matchesID(eventType) || SampleEventType(rawValue: eventType) == nil { return "unknown_event_type" }
        for key in ["event_time_utc", "ingest_time_utc"] where !isUTCTimestamp(object[key] as! String) {
            return "bad_timestamp"
        }
        if (object["schema_version"] as! String).wholeMatch(of: /[0-9]+\.[0-9]+/) == nil {
            return "bad_schema_version"
        }
        return "ok"
    }

    /// What `verdict` must say for each bad kind.
    static func expectedReason(_ kind: BadLineKind) -> String {
        switch kind {
        case .malformedJSON: "malformed_json"
        case .invalidUTF8, .binaryGarbage: "invalid_utf8"
        case .notAnObject: "not_an_object"
        case .missingField: "missing_field"
        case .wrongType: "wrong_type"
        case .badTimestamp: "bad_timestamp"
        case .hostileTenant: "bad_tenant_id"
        case .unknownTenant: "unknown_tenant"
        case .unknownEventType: "unknown_event_type"
        case .duplicateKey: "duplicate_key"
        case .badSchemaVersion: "bad_schema_version"
        case .emptyID: "empty_id"
        case .unknownField: "unknown_field"
        case .longID: "long_id"
        case .deepNesting: "too_deep"
        case .oversizedLine: "oversized_line"
        case .emptyLine: "empty_line"
        }
    }

    static func matchesID(_ s: String) -> Bool {
        s.wholeMatch(of: /[a-z0-9][a-z0-9._-]{0,63}/) != nil
    }

    /// RFC 3339, UTC (`Z`), milliseconds, and a real calendar instant: the
    /// text must survive a parse/format round trip through Foundation.
    static func isUTCTimestamp(_ s: String) -> Bool {
        guard s.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z/) != nil
        else { return false }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        guard let date = formatter.date(from: s) else { return false }
        return formatter.string(from: date) == s
    }

    /// A comma followed (after optional whitespace) by `}` or `]`, outside strings.
    static func hasTrailingComma(_ line: [UInt8]) -> Bool {
        var inString = false
        var escaped = false
        var pendingComma = false
        for b in line {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x20, 0x09, 0x0D, 0x0A: continue
            case 0x7D, 0x5D: if pendingComma { return true }
            case 0x22: inString = true
            default: break
            }
            pendingComma = b == 0x2C
        }
        return false
    }

    /// Deepest bracket nesting outside strings.
    static func nestingDepth(_ line: [UInt8]) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for b in line {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x7B, 0x5B:
                depth += 1
                deepest = max(deepest, depth)
            case 0x7D, 0x5D: depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// Keys of the top-level object, in order, repeats kept (JSON parsers
    /// silently keep one value, so duplicates have to be found by scanning).
    static func topLevelKeys(_ line: [UInt8]) -> [String] {
        var keys: [String] = []
        var depth = 0
        var inString = false
        var escaped = false
        var expectingKey = false
        var current: [UInt8] = []
        var capturing = false
        for b in line {
            if inString {
                if escaped {
                    escaped = false
                } else if b == 0x5C {
                    escaped = true
                } else if b == 0x22 {
                    inString = false
                    if capturing {
                        keys.append(String(decoding: current, as: UTF8.self))
                        capturing = false
                        expectingKey = false
                    }
                    continue
                }
                if capturing { current.append(b) }
                continue
            }
            switch b {
            case 0x22:
                inString = true
                if depth == 1 && expectingKey {
                    capturing = true
                    current = []
                }
            case 0x7B, 0x5B:
                depth += 1
                if depth == 1 && b == 0x7B { expectingKey = true }
            case 0x7D, 0x5D: depth -= 1
            case 0x2C: if depth == 1 { expectingKey = true }
            default: break
            }
        }
        return keys
    }

    /// Splits a buffer into lines without their `\n` (the last line must end
    /// with one).
    static func lines(_ buffer: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        for (i, b) in buffer.enumerated() where b == 0x0A {
            out.append(Array(buffer[start..<i]))
            start = i + 1
        }
        precondition(start == buffer.count, "output must end with a newline")
        return out
    }

    static func json(_ line: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] ?? [:]
    }
}

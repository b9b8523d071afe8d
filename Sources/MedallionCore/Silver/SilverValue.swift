import Foundation

/// One typed cell of a Silver row.
package enum SilverValue: Equatable, Sendable {
    case null
    case string(String)
    case long(Int64)
    case double(Double)
    case bool(Bool)
    /// Microseconds since the epoch, UTC.
    case micros(Int64)
    /// Days since 1970-01-01.
    case days(Int32)
    case int(Int32)

    package var isNull: Bool { self == .null }

    /// A number, for range rules and numeric comparisons.
    package var number: Double? {
        switch self {
        case .long(let v): Double(v)
        case .double(let v): v
        case .int(let v): Double(v)
        default: nil
        }
    }

    /// The value as text, for regex rules and messages.
    package var text: String {
        switch self {
        case .null: "null"
        case .string(let s): s
        case .long(let v): String(v)
        case .double(let v): String(v)
        case .bool(let b): b ? "true" : "false"
        case .micros(let m): SilverTime.iso(m)
        case .days(let d): SilverTime.date(d)
        case .int(let v): String(v)
        }
    }

    /// Writes the value as JSON (timestamps and dates as RFC 3339 text).
    package func write(to w: inout JSONWriter) {
        switch self {
        case .null: w.null()
        case .string(let s): w.string(s)
        case .long(let v): w.int(v)
        case .double(let v): w.double(v)
        case .bool(let b): w.bool(b)
        case .micros(let m): w.string(SilverTime.iso(m))
        case .days(let d): w.string(SilverTime.date(d))
        case .int(let v): w.int(Int64(v))
        }
    }

    /// Appends the value as JSON to raw bytes (the forwarded row's hot path).
    package func append(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .string(var s): s.withUTF8 { JSONWriter.appendQuoted(UnsafeRawBufferPointer($0), to: &out) }
        case .long(let v): JSONWriter.appendDecimal(v, to: &out)
        case .int(let v): JSONWriter.appendDecimal(Int64(v), to: &out)
        case .double(let v):
            if v.isFinite {
                if v == v.rounded(), abs(v) < 1e15, !(v == 0 && v.sign == .minus) {
                    JSONWriter.appendDecimal(Int64(v), to: &out)
                    out.append(contentsOf: ".0".utf8)
                } else {
                    out.append(contentsOf: v.description.utf8)
                }
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .micros(let m):
            out.append(UInt8(ascii: "\""))
            SilverTime.appendISO(m, to: &out)
            out.append(UInt8(ascii: "\""))
        case .days(let d):
            out.append(UInt8(ascii: "\""))
            Timestamp.appendDate(days: Int(d), to: &out)
            out.append(UInt8(ascii: "\""))
        }
    }

    /// Compares two values of compatible kinds (numbers with numbers,
    /// timestamps with timestamps, text with text); nil when they cannot be compared.
    package static func compare(_ a: SilverValue, _ b: SilverValue) -> Int? {
        switch (a, b) {
        case (.micros(let x), .micros(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.days(let x), .days(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.string(let x), .string(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        default:
            guard let x = a.number, let y = b.number else { return nil }
            return x < y ? -1 : x > y ? 1 : 0
        }
    }

    /// Whether the value equals a JSON scalar from the configuration.
    package func matches(_ json: JSONValue) -> Bool {
        switch (self, json) {
        case (.string(let s), .string(let t)): return s == t
        case (.bool(let b), .bool(let c)): return b == c
        case (_, .number(let text)):
            guard let x = number, let y = Double(text) else { return false }
            return x == y
        default: return false
        }
    }
}

/// Timestamps for Silver: RFC 3339 with any offset in, UTC microseconds out.
package enum SilverTime {
    /// Parses RFC 3339 with any UTC offset (the envelope accepts only UTC;
    /// payload timestamps are normalised instead, so no instant is shifted).
    package static func parse(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)
        var offsetSeconds = 0
        let n = bytes.count
        if n >= 6, bytes[n - 6] == UInt8(ascii: "+") || bytes[n - 6] == UInt8(ascii: "-"), bytes[n - 3] == UInt8(ascii: ":") {
            let digits = [bytes[n - 5], bytes[n - 4], bytes[n - 2], bytes[n - 1]].map { Int($0) - 48 }
            guard digits.allSatisfy({ $0 >= 0 && $0 <= 9 }) else { return nil }
            let hours = digits[0] * 10 + digits[1], minutes = digits[2] * 10 + digits[3]
            guard hours <= 23, minutes <= 59 else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (bytes[n - 6] == UInt8(ascii: "-") ? -1 : 1)
            bytes.removeLast(6)
            bytes.append(UInt8(ascii: "Z"))
        }
        let parsed = bytes.withUnsafeBytes { Timestamp.parseMicros($0) }
        guard case .success(let micros) = parsed else { return nil }
        return micros - Int64(offsetSeconds) * 1_000_000
    }

    /// `YYYY-MM-DD` → days since the epoch.
    package static func parseDate(_ text: String) -> Int32? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              m >= 1, m <= 12, d >= 1, d <= Timestamp.daysInMonth(year: y, month: m)
        else { return nil }
        return Int32(Timestamp.daysFromCivil(year: y, month: m, day: d))
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    package static func iso(_ micros: Int64) -> String {
        var out: [UInt8] = []
        appendISO(micros, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds kept).
    package static func appendISO(_ micros: Int64, to out: inout [UInt8]) {
        let (days, dayMicros) = micros.floorDividedBy(86_400_000_000)
        Timestamp.appendDate(days: Int(days), to: &out)
        let seconds = Int(dayMicros / 1_000_000), fraction = Int(dayMicros % 1_000_000)
        @inline(__always) func two(_ v: Int) {
            out.append(UInt8(ascii: "0") &+ UInt8(v / 10))
            out.append(UInt8(ascii: "0") &+ UInt8(v % 10))
        }
        out.append(UInt8(ascii: "T"))
        two(seconds / 3600); out.append(UInt8(ascii: ":"))
        two(seconds / 60 % 60); out.append(UInt8(ascii: ":"))
        two(seconds % 60); out.append(UInt8(ascii: "."))
        var divisor = 100_000
        while divisor > 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(fraction / divisor % 10))
            divisor /= 10
        }
        out.append(UInt8(ascii: "Z"))
    }

    package static func date(_ days: Int32) -> String {
        var out: [UInt8] = []
        Timestamp.appendDate(days: Int(days), to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// UTC offsets of IANA zones, cached per zone and hour (Foundation's
/// `TimeZone` is too slow to ask once per row).
package struct ZoneOffsets {
    private var zones: [String: TimeZone?] = [:]
    private var cache: [String: [Int64: Int32]] = [:]

    package init() {}

    /// Seconds east of UTC of `zone` at `micros`; 0 for an unknown zone.
    package mutating func offset(zone: String, micros: Int64) -> Int {
        let hour = micros.floorDividedBy(3_600_000_000).quotient
        if let hit = cache[zone]?[hour] { return Int(hit) }
        if zones[zone] == nil { zones[zone] = .some(TimeZone(identifier: zone)) }
        let seconds = zones[zone]!.map { $0.secondsFromGMT(for: Date(timeIntervalSince1970: Double(hour) * 3600)) } ?? 0
        if cache[zone, default: [:]].count > 50_000 { cache[zone] = [:] }
        cache[zone, default: [:]][hour] = Int32(seconds)
        return seconds
    }
}

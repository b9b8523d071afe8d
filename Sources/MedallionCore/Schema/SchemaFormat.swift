/// The `format` values this validator asserts.
///
/// Draft 2020-12 makes `format` an annotation by default; here it is an
/// assertion, because a payload schema that says `"format": "date-time"`
/// means "reject anything else" and Silver turns such fields into typed
/// columns. Any other format name is refused at compile time rather than
/// ignored. Non-strings pass (as the specification requires): `type`
/// decides whether a number may stand there.
package enum SchemaFormat: String, Sendable, Hashable, CaseIterable {
    /// RFC 3339 `date-time`: `1963-06-19T08:30:06.283185Z`, `T`/`Z` in any
    /// case, numeric offsets `±HH:MM`; a leap second (`:60`) only at 23:59 UTC.
    case dateTime = "date-time"
    /// RFC 3339 `full-date`: `YYYY-MM-DD` with a real day of that month.
    case date
    /// RFC 4122 textual form: 8-4-4-4-12 hex digits, any case, any version.
    case uuid

    /// Human name used in violation messages.
    var expectation: String {
        switch self {
        case .dateTime: "an RFC 3339 date-time such as 2026-03-01T12:00:00Z"
        case .date: "an RFC 3339 date such as 2026-03-01"
        case .uuid: "a UUID such as 2eb8aa08-aa98-11ea-b4aa-73b441d16380"
        }
    }

    package func accepts(_ s: String) -> Bool {
        let b = Array(s.utf8)
        switch self {
        case .date: return b.count == 10 && Self.date(b, 0) != nil
        case .dateTime: return Self.dateTime(b)
        case .uuid: return Self.uuid(b)
        }
    }

    private static func digits(_ b: [UInt8], _ at: Int, _ n: Int) -> Int? {
        guard at + n <= b.count else { return nil }
        var v = 0
        for i in at..<at + n {
            guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
            v = v * 10 + Int(b[i] - 0x30)
        }
        return v
    }

    /// `YYYY-MM-DD` at `at` → (year, month, day) when the day exists.
    private static func date(_ b: [UInt8], _ at: Int) -> (Int, Int, Int)? {
        guard let y = digits(b, at, 4), b.count > at + 4, b[at + 4] == UInt8(ascii: "-"),
              let m = digits(b, at + 5, 2), b.count > at + 7, b[at + 7] == UInt8(ascii: "-"),
              let d = digits(b, at + 8, 2), (1...12).contains(m), d >= 1
        else { return nil }
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        return d <= days ? (y, m, d) : nil
    }

    private static func dateTime(_ b: [UInt8]) -> Bool {
        guard date(b, 0) != nil, b.count >= 20, b[10] | 0x20 == UInt8(ascii: "t"),
              let hour = digits(b, 11, 2), b[13] == UInt8(ascii: ":"),
              let minute = digits(b, 14, 2), b[16] == UInt8(ascii: ":"),
              let second = digits(b, 17, 2), hour <= 23, minute <= 59, second <= 60
        else { return false }
        var i = 19
        if b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            guard i > start else { return false }
        }
        guard i < b.count else { return false }
        var offsetMinutes = 0
        if b[i] | 0x20 == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let oh = digits(b, i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"),
                  let om = digits(b, i + 4, 2), oh <= 23, om <= 59
            else { return false }
            offsetMinutes = (oh * 60 + om) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return false
        }
        guard i == b.count else { return false }
        if second == 60 {
            // A leap second is inserted at 23:59:60 UTC; local time minus the offset is UTC.
            let utc = ((hour * 60 + minute - offsetMinutes) % 1440 + 1440) % 1440
            return utc == 23 * 60 + 59
        }
        return true
    }

    private static func uuid(_ b: [UInt8]) -> Bool {
        guard b.count == 36 else { return false }
        for (i, c) in b.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return false }
            } else {
                let isHex = (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c)
                guard isHex else { return false }
            }
        }
        return true
    }
}

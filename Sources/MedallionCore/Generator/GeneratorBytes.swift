/// Byte-level writers the generator uses instead of string formatting.
///
/// The generator's budget is roughly a microsecond per event, so nothing on
/// the per-line path builds a `String`, calls `description` or touches
/// Foundation: every value is written as ASCII digits straight into the
/// caller's `[UInt8]`.
enum GenBytes {
    /// Appends a compile-time literal without creating a `String`.
    @inline(__always)
    static func literal(_ text: StaticString, to buffer: inout [UInt8]) {
        text.withUTF8Buffer { buffer.append(contentsOf: $0) }
    }

    /// Appends `count` bytes produced by `body` into scratch stack memory, then
    /// copies them with one `memcpy`-style append. Values whose width is known
    /// up front (timestamps, ids, digits) are cheaper this way than many
    /// single-byte appends, each of which re-checks the array's capacity.
    @inline(__always)
    static func fixed(
        _ count: Int, to buffer: inout [UInt8],
        _ body: (UnsafeMutablePointer<UInt8>) -> Void
    ) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { scratch in
            body(scratch.baseAddress!)
            buffer.append(contentsOf: UnsafeBufferPointer(scratch))
        }
    }

    /// Appends the decimal digits of a non-negative integer.
    @inline(__always)
    static func unsigned(_ value: UInt64, to buffer: inout [UInt8]) {
        if value < 10 {
            buffer.append(UInt8(truncatingIfNeeded: value) &+ 0x30)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { scratch in
            var v = value
            var i = 20
            while v > 0 {
                i -= 1
                scratch[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[i..<20]))
        }
    }

    /// Appends a signed integer in decimal.
    @inline(__always)
    static func signed(_ value: Int64, to buffer: inout [UInt8]) {
        if value < 0 {
            buffer.append(0x2D)  // -
            unsigned(value.magnitude, to: &buffer)
        } else {
            unsigned(UInt64(value), to: &buffer)
        }
    }

    /// Appends `units / 10^scale` as a JSON number with exactly `scale`
    /// fraction digits (`2155, scale 2` -> `21.55`).
    ///
    /// Sample readings are kept as scaled integers so that the text is exact
    /// and identical on every platform; going through `Double` would make the
    /// last digit depend on the formatting algorithm.
    @inline(__always)
    static func decimal(_ units: Int64, scale: Int, to buffer: inout [UInt8]) {
        precondition(scale >= 1 && scale <= 9)
        var magnitude = units.magnitude
        if units < 0 { buffer.append(0x2D) }
        var divisor: UInt64 = 1
        for _ in 0..<scale { divisor &*= 10 }
        unsigned(magnitude / divisor, to: &buffer)
        magnitude %= divisor
        fixed(scale + 1, to: &buffer) { p in
            p[0] = 0x2E  // .
            var rest = magnitude
            var i = scale
            while i > 0 {
                p[i] = UInt8(truncatingIfNeeded: rest % 10) &+ 0x30
                rest /= 10
                i -= 1
            }
        }
    }

    /// Lower-case hex digits, indexed by nibble.
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes `value` as `width` zero-padded decimal digits at `p`.
    @inline(__always)
    static func digits(_ value: Int, width: Int, at p: UnsafeMutablePointer<UInt8>) {
        var v = value
        var i = width
        while i > 0 {
            i -= 1
            p[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
        }
    }
}

/// The generator's entry to the core's JSON string escaping (`JSONWriter`).
///
/// Good lines must be valid JSON whatever text a tenant, site or attribute
/// holds; the byte form also lets bad lines plant invalid UTF-8 on purpose.
package enum JSONStringEscaper {
    /// Appends `"text"`, escaped.
    package static func appendQuoted(_ text: String, to buffer: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendQuoted(bytes: $0, to: &buffer) }
    }

    /// Appends `"bytes"`, escaped, without checking UTF-8. The generator uses
    /// this raw form to plant deliberately invalid UTF-8 in bad lines; the
    /// escaping rules are the same.
    package static func appendQuoted(bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        JSONWriter.appendQuoted(UnsafeRawBufferPointer(bytes), to: &buffer)
    }

    /// Convenience for byte arrays.
    package static func appendQuoted(bytes: [UInt8], to buffer: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { appendQuoted(bytes: $0, to: &buffer) }
    }
}

/// RFC 3339 UTC timestamps with millisecond precision, written as bytes.
package enum UTCTimestamp {
    /// Byte width of `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static let width = 24

    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (no quotes) for milliseconds since
    /// the Unix epoch. Years outside 0...9999 are clamped, since RFC 3339 has
    /// four-digit years only.
    @inline(__always)
    static func append(millis: Int64, to buffer: inout [UInt8]) {
        GenBytes.fixed(width, to: &buffer) { p in write(millis: millis, at: p) }
    }

    /// Writes the 24 timestamp bytes at `p`.
    @inline(__always)
    static func write(millis: Int64, at p: UnsafeMutablePointer<UInt8>) {
        let msPerDay: Int64 = 86_400_000
        var days = millis / msPerDay
        var msOfDay = millis % msPerDay
        if msOfDay < 0 {
            msOfDay += msPerDay
            days -= 1
        }
        let (y, m, d) = Timestamp.civilFromDays(Int(days))
        GenBytes.digits(Int(min(max(y, 0), 9999)), width: 4, at: p)
        p[4] = 0x2D
        GenBytes.digits(m, width: 2, at: p + 5)
        p[7] = 0x2D
        GenBytes.digits(d, width: 2, at: p + 8)
        p[10] = 0x54  // T
        let ms = Int(msOfDay)
        GenBytes.digits(ms / 3_600_000, width: 2, at: p + 11)
        p[13] = 0x3A
        GenBytes.digits(ms / 60_000 % 60, width: 2, at: p + 14)
        p[16] = 0x3A
        GenBytes.digits(ms / 1000 % 60, width: 2, at: p + 17)
        p[19] = 0x2E
        GenBytes.digits(ms % 1000, width: 3, at: p + 20)
        p[23] = 0x5A  // Z
    }

    /// The timestamp as a `String`; for configs, messages and tests only.
    package static func string(millis: Int64) -> String {
        var bytes: [UInt8] = []
        append(millis: millis, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only; `z` and `t`
    /// accepted as RFC 3339 allows) to milliseconds since the epoch; digits
    /// past milliseconds are truncated. Returns nil for anything else,
    /// including impossible dates. Meant for a `--base-time` flag, not for
    /// validating input (that is `envelope-check`'s job).
    package static func parseMillis(_ text: String) -> Int64? {
        var text = text
        let micros = text.withUTF8 { Timestamp.parseMicros(UnsafeRawBufferPointer($0)) }
        guard case .success(let value) = micros else { return nil }
        return value.floorDividedBy(1000).quotient
    }
}

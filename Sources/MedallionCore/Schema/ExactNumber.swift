/// A JSON number as an exact decimal: `±digits × 10^exponent`.
///
/// `JSONValue` keeps numbers as their text so that `1.50`, 20-digit ids and
/// `1e400` survive; the validator must not undo that by going through
/// `Double`, which rounds `9007199254740993` to `…992` and cannot hold
/// `1e400`. Comparisons, integer tests and `multipleOf` work on this exact
/// form instead. Normalised (no leading or trailing zeros in `digits`; zero is
/// `digits == []`), so equal values have equal representations and `1`,
/// `1.0` and `10e-1` compare equal.
package struct ExactNumber: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var negative: Bool
    /// Decimal digits (0...9) of the significand, most significant first.
    package var digits: [UInt8]
    /// Power of ten applied to `digits` read as an integer.
    package var exponent: Int

    /// Exponents are clamped to this magnitude when parsed, so arithmetic on
    /// them cannot overflow. Numbers beyond 10^±(2^60) do not occur in data.
    static let exponentLimit = 1 << 60

    /// Parses RFC 8259 number text (as `JSONValue.number` holds it); nil for
    /// anything else.
    package init?(_ text: String) {
        var negative = false
        var digits: [UInt8] = []
        var fractionDigits = 0
        var exponent = 0
        var utf8 = text.utf8[...]
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8 = utf8.dropFirst()
        }
        var sawDigit = false
        while let b = utf8.first, b >= 0x30, b <= 0x39 {
            digits.append(b - 0x30)
            sawDigit = true
            utf8 = utf8.dropFirst()
        }
        guard sawDigit else { return nil }
        if utf8.first == UInt8(ascii: ".") {
            utf8 = utf8.dropFirst()
            var sawFraction = false
            while let b = utf8.first, b >= 0x30, b <= 0x39 {
                digits.append(b - 0x30)
                fractionDigits += 1
                sawFraction = true
                utf8 = utf8.dropFirst()
            }
            guard sawFraction else { return nil }
        }
        if let e = utf8.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            utf8 = utf8.dropFirst()
            var expNegative = false
            if let s = utf8.first, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") {
                expNegative = s == UInt8(ascii: "-")
                utf8 = utf8.dropFirst()
            }
            var sawExp = false
            while let b = utf8.first, b >= 0x30, b <= 0x39 {
                if exponent < Self.exponentLimit { exponent = exponent * 10 + Int(b - 0x30) }
                sawExp = true
                utf8 = utf8.dropFirst()
            }
            guard sawExp else { return nil }
            if expNegative { exponent = -exponent }
        }
        guard utf8.isEmpty else { return nil }
        self.init(negative: negative, digits: digits, exponent: exponent - fractionDigits)
    }

    package init(_ value: Int) {
        self.init(String(value))!
    }

    /// Normalising initialiser: strips leading and trailing zeros.
    init(negative: Bool, digits: [UInt8], exponent: Int) {
        var digits = digits[...]
        while digits.first == 0 { digits = digits.dropFirst() }
        var exponent = exponent
        while digits.last == 0 {
            digits = digits.dropLast()
            exponent += 1
        }
        if digits.isEmpty {
            self.negative = false
            self.digits = []
            self.exponent = 0
        } else {
            self.negative = negative
            self.digits = Array(digits)
            self.exponent = max(-Self.exponentLimit, min(Self.exponentLimit, exponent))
        }
    }

    package var isZero: Bool { digits.isEmpty }

    /// True when the value has no fractional part (`1.0` and `1e2` are integers:
    /// JSON Schema defines "integer" by value, not by spelling).
    package var isInteger: Bool { exponent >= 0 }

    /// Compares magnitudes, ignoring signs.
    static func compareMagnitude(_ a: ExactNumber, _ b: ExactNumber) -> Int {
        if a.isZero || b.isZero { return (a.isZero ? 0 : 1) - (b.isZero ? 0 : 1) }
        // Position of the leading digit decides first…
        let la = a.digits.count + a.exponent, lb = b.digits.count + b.exponent
        if la != lb { return la < lb ? -1 : 1 }
        // …then the digits, the shorter one padded with zeros.
        for i in 0..<max(a.digits.count, b.digits.count) {
            let da = i < a.digits.count ? a.digits[i] : 0
            let db = i < b.digits.count ? b.digits[i] : 0
            if da != db { return da < db ? -1 : 1 }
        }
        return 0
    }

    package static func < (a: ExactNumber, b: ExactNumber) -> Bool {
        if a.negative != b.negative { return a.negative }
        let m = compareMagnitude(a, b)
        return a.negative ? m > 0 : m < 0
    }

    /// Whether `self` is an integer multiple of `divisor` (which must be
    /// positive and fit `ExactDivisor`). Exact: `0.0075` is a multiple of
    /// `0.0001`, `1e308` is not a multiple of `0.123456789`.
    package func isMultiple(of divisor: ExactDivisor) -> Bool {
        if isZero { return true }
        // self = a·10^p, divisor = b·10^q, both a and b without trailing zeros.
        // self/divisor = a·10^(p-q)/b. With p < q it would need b·10^(q-p) | a,
        // impossible since a does not end in 0.
        guard exponent >= divisor.exponent else { return false }
        let b = UInt128(divisor.significand)
        var r: UInt128 = 0
        for d in digits { r = (r * 10 + UInt128(d)) % b }
        return r * Self.powMod(10, exponent - divisor.exponent, b) % b == 0
    }

    /// `base^e mod m` by squaring; operands stay below 2^64 so products fit UInt128.
    static func powMod(_ base: UInt128, _ e: Int, _ m: UInt128) -> UInt128 {
        var result: UInt128 = 1 % m, b = base % m, e = e
        while e > 0 {
            if e & 1 == 1 { result = result * b % m }
            b = b * b % m
            e >>= 1
        }
        return result
    }

    /// The value as JSON number text (`-1.25`, `1e400`), for messages.
    package var description: String {
        if isZero { return "0" }
        let sign = negative ? "-" : ""
        let body = String(decoding: digits.map { $0 + 0x30 }, as: UTF8.self)
        if exponent >= 0 {
            return exponent <= 20 ? sign + body + String(repeating: "0", count: exponent) : "\(sign)\(body)e\(exponent)"
        }
        let point = digits.count + exponent
        if point > 0 {
            return sign + body.prefix(point) + "." + body.dropFirst(point)
        }
        if point > -20 { return sign + "0." + String(repeating: "0", count: -point) + body }
        return "\(sign)\(body)e\(exponent)"
    }
}

/// A `multipleOf` operand prepared for exact division: a significand that
/// fits 64 bits and a power of ten. Larger significands (more than 19
/// significant digits) are refused when the schema is compiled.
package struct ExactDivisor: Sendable, Hashable {
    package var significand: UInt64
    package var exponent: Int

    package init?(_ number: ExactNumber) {
        guard !number.negative, !number.isZero, number.digits.count <= 19 else { return nil }
        var v: UInt64 = 0
        for d in number.digits {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = s
        }
        significand = v
        exponent = number.exponent
    }
}

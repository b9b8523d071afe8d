/// What a JSON value is, as seen by the scanner.
package enum JSONKind: UInt8, Sendable {
    case object, array, string, number, bool, null

    package var name: String {
        switch self {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .number: "number"
        case .bool: "boolean"
        case .null: "null"
        }
    }
}

/// One member of the top-level object of a scanned document, as byte offsets
/// into the scanned buffer. Nothing is copied or decoded: a stage that only
/// routes or checks a few fields never builds a tree.
package struct JSONMember: Sendable {
    /// First byte of the key, after the opening quote.
    package var keyStart: Int
    /// Offset of the key's closing quote.
    package var keyEnd: Int
    /// The key contains a backslash escape and must be decoded before comparing.
    package var keyEscaped: Bool
    /// First byte of the value (a quote for strings).
    package var valueStart: Int
    /// One past the last byte of the value.
    package var valueEnd: Int
    package var kind: JSONKind
    /// For strings: the value contains a backslash escape.
    package var valueEscaped: Bool
}

/// Why a document is not JSON, and where.
package struct JSONSyntaxError: Error, Equatable, Sendable {
    package enum Kind: Sendable, Equatable {
        /// Bytes that are not well-formed UTF-8 (RFC 3629) inside a string.
        case invalidUTF8
        /// More nested arrays and objects than the depth limit allows.
        case tooDeep
        /// Anything else RFC 8259 does not allow.
        case syntax
    }

    package var kind: Kind
    /// Byte offset of the first offending byte.
    package var offset: Int
    /// What the scanner expected or found, for the human message.
    package var detail: String

    package var description: String { "\(detail) at byte \(offset)" }
}

/// A strict RFC 8259 scanner over raw UTF-8 bytes.
///
/// It validates a whole document in one pass — grammar, number syntax,
/// escapes, UTF-8 inside strings, a nesting limit — without allocating, and
/// records where each top-level member of an object starts and ends.
///
/// Policy choices (the `i_` cases of JSONTestSuite), documented in
/// docs/json.md: a byte-order mark is rejected; lone or mismatched UTF-16
/// surrogate escapes (`\uD800`) are rejected because they cannot be stored as
/// UTF-8; numbers of any size are accepted syntactically (their range is the
/// consumer's business); nesting deeper than `maxDepth` (default 512) is
/// rejected as `tooDeep` without recursion, so 100,000 `[` cannot overflow the
/// stack. Duplicate keys are not the scanner's concern: callers that care
/// (the envelope, `JSONValue`) check the keys it reports.
package struct JSONScanner {
    package var maxDepth: Int
    private let storage = MemberStorage()
    /// The top-level members of the last document, if it was an object. Valid
    /// until the next `scan` (a view into storage reused across lines, so
    /// recording a member costs no allocation and no uniqueness check).
    package var members: UnsafeBufferPointer<JSONMember> {
        UnsafeBufferPointer(start: storage.base, count: storage.count)
    }
    /// Open containers beyond the first 64 (the first 64 live in a register).
    private var deepStack: [Bool] = []

    package init(maxDepth: Int = 512) {
        self.maxDepth = maxDepth
    }

    /// Scans one complete document. On return `members` describes the top-level
    /// object (empty for any other kind).
    package mutating func scan(_ buffer: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONKind {
        storage.count = 0
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count > 0 else {
            throw JSONSyntaxError(kind: .syntax, offset: 0, detail: "empty input, expected a JSON value")
        }
        var cursor = Cursor(p: base, n: buffer.count)
        cursor.skipWhitespace()
        guard cursor.i < cursor.n else {
            throw JSONSyntaxError(kind: .syntax, offset: cursor.i, detail: "expected a JSON value, found only whitespace")
        }
        let kind: JSONKind
        if cursor.byte == UInt8(ascii: "{") {
            kind = .object
            try scanTopLevelObject(&cursor)
        } else {
            kind = Cursor.kind(of: cursor.byte) ?? .null
            try scanValue(&cursor, depth: 0)
        }
        cursor.skipWhitespace()
        if cursor.i != cursor.n {
            throw cursor.error("unexpected data after the JSON value")
        }
        return kind
    }

    private mutating func scanTopLevelObject(_ c: inout Cursor) throws(JSONSyntaxError) {
        guard maxDepth >= 1 else { throw JSONSyntaxError(kind: .tooDeep, offset: c.i, detail: "nesting deeper than \(maxDepth)") }
        c.i += 1
        c.skipWhitespace()
        if c.i < c.n, c.byte == UInt8(ascii: "}") {
            c.i += 1
            return
        }
        while true {
            guard c.i < c.n, c.byte == UInt8(ascii: "\"") else { throw c.error("expected '\"' to start an object key") }
            let keyStart = c.i + 1
            let keyEscaped = try c.scanString()
            let keyEnd = c.i - 1
            c.skipWhitespace()
            guard c.i < c.n, c.byte == UInt8(ascii: ":") else { throw c.error("expected ':' after an object key") }
            c.i += 1
            c.skipWhitespace()
            guard c.i < c.n else { throw c.error("expected a value after ':'") }
            let valueStart = c.i
            let kind = Cursor.kind(of: c.byte)
            var valueEscaped = false
            if kind == .string {
                valueEscaped = try c.scanString()
            } else {
                try scanValue(&c, depth: 1)
            }
            storage.append(JSONMember(
                keyStart: keyStart, keyEnd: keyEnd, keyEscaped: keyEscaped,
                valueStart: valueStart, valueEnd: c.i, kind: kind ?? .null, valueEscaped: valueEscaped))
            c.skipWhitespace()
            guard c.i < c.n else { throw c.error("unterminated object, expected ',' or '}'") }
            if c.byte == UInt8(ascii: ",") {
                c.i += 1
                c.skipWhitespace()
                continue
            }
            if c.byte == UInt8(ascii: "}") {
                c.i += 1
                return
            }
            throw c.error("expected ',' or '}' in an object")
        }
    }

    /// Scans one value of any kind at `c.i`, iteratively; `depth` is the number
    /// of containers already open around it.
    ///
    /// The stack of open containers (object or array) is a bitset in a
    /// register for the first 64 levels, where real documents live, and an
    /// array only beyond that: no allocation or reference counting per value.
    private mutating func scanValue(_ c: inout Cursor, depth: Int) throws(JSONSyntaxError) {
        var bits: UInt64 = 0  // bit 0 = innermost container is an object
        var open = 0
        deepStack.removeAll(keepingCapacity: true)
        let limit = maxDepth - depth
        while true {
            // Parse one value at c.i.
            guard c.i < c.n else { throw c.error("expected a value") }
            switch c.byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = c.byte == UInt8(ascii: "{")
                guard open < limit else {
                    throw JSONSyntaxError(kind: .tooDeep, offset: c.i, detail: "nesting deeper than \(maxDepth) levels")
                }
                c.i += 1
                c.skipWhitespace()
                guard c.i < c.n else { throw c.error(isObject ? "unterminated object" : "unterminated array") }
                if c.byte == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    c.i += 1
                    break  // an empty container is a complete value
                }
                if open < 64 {
                    bits = bits << 1 | (isObject ? 1 : 0)
                } else {
                    deepStack.append(isObject)
                }
                open += 1
                if isObject { try c.scanKeyAndColon() }
                continue  // parse the first element
            case UInt8(ascii: "\""):
                _ = try c.scanString()
            case UInt8(ascii: "t"):
                try c.expectLiteral("true")
            case UInt8(ascii: "f"):
                try c.expectLiteral("false")
            case UInt8(ascii: "n"):
                try c.expectLiteral("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try c.scanNumber()
            default:
                throw c.error(Cursor.isASCII(c.byte) ? "expected a JSON value" : "expected a JSON value, found a non-ASCII byte")
            }
            // A value is complete: close containers or move to the next element.
            while true {
                if open == 0 { return }
                let isObject = open > 64 ? deepStack[deepStack.count - 1] : bits & 1 == 1
                c.skipWhitespace()
                guard c.i < c.n else { throw c.error(isObject ? "unterminated object" : "unterminated array") }
                let b = c.byte
                if b == UInt8(ascii: ",") {
                    c.i += 1
                    c.skipWhitespace()
                    if isObject { try c.scanKeyAndColon() }
                    break  // parse the next element
                }
                if b == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    c.i += 1
                    if open > 64 {
                        deepStack.removeLast()
                    } else {
                        bits >>= 1
                    }
                    open -= 1
                    continue
                }
                throw c.error(isObject ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array")
            }
        }
    }
}

/// Growable storage for top-level members, owned by one scanner.
private final class MemberStorage {
    var base: UnsafeMutablePointer<JSONMember>
    var capacity = 32
    var count = 0

    init() { base = .allocate(capacity: capacity) }

    deinit { base.deallocate() }

    @inline(__always)
    func append(_ member: JSONMember) {
        if count == capacity { grow() }
        (base + count).initialize(to: member)
        count += 1
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<JSONMember>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }
}

/// A read position over raw bytes with the primitive scanners. Kept separate so
/// the hot loops work on a pointer and an index with no bounds checks.
private struct Cursor {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i = 0

    init(p: UnsafePointer<UInt8>, n: Int) {
        self.p = p
        self.n = n
    }

    var byte: UInt8 {
        @inline(__always) get { p[i] }
    }

    static func isASCII(_ b: UInt8) -> Bool { b < 0x80 }

    @inline(__always)
    static func kind(of b: UInt8) -> JSONKind? {
        switch b {
        case UInt8(ascii: "{"): .object
        case UInt8(ascii: "["): .array
        case UInt8(ascii: "\""): .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): .bool
        case UInt8(ascii: "n"): .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): .number
        default: nil
        }
    }

    func error(_ detail: String) -> JSONSyntaxError {
        JSONSyntaxError(kind: .syntax, offset: i, detail: i >= n ? "\(detail) (input ended)" : detail)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while i < n {
            let b = p[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    @inline(__always)
    mutating func expectLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let count = literal.utf8CodeUnitCount
        guard i + count <= n else { throw error("invalid literal, expected '\(literal)'") }
        let lp = literal.utf8Start
        for k in 0..<count where p[i + k] != lp[k] {
            i += k
            throw error("invalid literal, expected '\(literal)'")
        }
        i += count
    }

    @inline(__always)
    mutating func scanKeyAndColon() throws(JSONSyntaxError) {
        guard i < n, p[i] == UInt8(ascii: "\"") else { throw error("expected '\"' to start an object key") }
        _ = try scanString()
        skipWhitespace()
        guard i < n, p[i] == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
        i += 1
        skipWhitespace()
    }

    /// Number grammar of RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    @inline(__always)
    mutating func scanNumber() throws(JSONSyntaxError) {
        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n, isDigit(p[i]) else { throw error("invalid number: expected a digit") }
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < n, isDigit(p[i]) { i += 1 }
        }
        if i < n, p[i] == UInt8(ascii: ".") {
            i += 1
            guard i < n, isDigit(p[i]) else { throw error("invalid number: expected a digit after '.'") }
            while i < n, isDigit(p[i]) { i += 1 }
        }
        if i < n, p[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            guard i < n, isDigit(p[i]) else { throw error("invalid number: expected a digit in the exponent") }
            while i < n, isDigit(p[i]) { i += 1 }
        }
    }

    /// Scans a string starting at its opening quote and leaves `i` after the
    /// closing quote. Returns whether it contained an escape.
    @inline(__always)
    mutating func scanString() throws(JSONSyntaxError) -> Bool {
        i += 1
        var escaped = false
        while true {
            // Fast path: eight plain ASCII bytes at a time (no quote, backslash,
            // control character or high bit).
            while i + 8 <= n {
                let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101
                let highs: UInt64 = 0x8080_8080_8080_8080
                let quote = word ^ (ones &* 0x22)
                let slash = word ^ (ones &* 0x5C)
                let special = ((quote &- ones) & ~quote) | ((slash &- ones) & ~slash)
                    | ((word &- ones &* 0x20) & ~word) | word
                if special & highs != 0 { break }
                i += 8
            }
            // The special byte is near (within 8 bytes, or in the tail):
            // walk to it without re-entering the word loop per byte.
            while i < n {
                let b = p[i]
                if b &- 0x20 < 0x60, b != UInt8(ascii: "\""), b != UInt8(ascii: "\\") {
                    i += 1
                } else {
                    break
                }
            }
            guard i < n else { throw error("unterminated string") }
            let b = p[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return escaped
            }
            if b == UInt8(ascii: "\\") {
                escaped = true
                try scanEscape()
            } else if b < 0x20 {
                throw error("unescaped control character in a string")
            } else {
                try scanUTF8Sequence()
            }
        }
    }

    private mutating func scanEscape() throws(JSONSyntaxError) {
        guard i + 1 < n else { throw error("unterminated escape") }
        switch p[i + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            i += 2
        case UInt8(ascii: "u"):
            let unit = try hex4(at: i + 2)
            if unit >= 0xDC00, unit <= 0xDFFF {
                throw error("lone low surrogate escape \\u\(String(unit, radix: 16, uppercase: true))")
            }
            if unit >= 0xD800, unit <= 0xDBFF {
                guard i + 7 < n, p[i + 6] == UInt8(ascii: "\\"), p[i + 7] == UInt8(ascii: "u") else {
                    throw error("high surrogate escape not followed by a low surrogate")
                }
                let low = try hex4(at: i + 8)
                guard low >= 0xDC00, low <= 0xDFFF else {
                    throw error("high surrogate escape not followed by a low surrogate")
                }
                i += 12
            } else {
                i += 6
            }
        default:
            i += 1
            throw error("invalid escape character")
        }
    }

    private func hex4(at start: Int) throws(JSONSyntaxError) -> UInt32 {
        guard start + 4 <= n else { throw JSONSyntaxError(kind: .syntax, offset: n, detail: "truncated \\u escape (input ended)") }
        var v: UInt32 = 0
        for k in start..<(start + 4) {
            let b = p[k]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw JSONSyntaxError(kind: .syntax, offset: k, detail: "invalid hex digit in a \\u escape")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// Validates one multi-byte UTF-8 sequence at `i` (RFC 3629: no overlong
    /// forms, no surrogates, nothing above U+10FFFF).
    private mutating func scanUTF8Sequence() throws(JSONSyntaxError) {
        let length = UTF8Validation.sequenceLength(p, i, n)
        guard length > 0 else {
            throw JSONSyntaxError(kind: .invalidUTF8, offset: i, detail: "invalid UTF-8 byte 0x\(String(p[i], radix: 16, uppercase: true)) in a string")
        }
        i += length
    }
}

/// UTF-8 well-formedness (RFC 3629, Unicode Table 3-7).
package enum UTF8Validation {
    /// Length of the well-formed sequence at `i`, or 0 if it is ill-formed.
    @inline(__always)
    static func sequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let b0 = p[i]
        if b0 < 0x80 { return 1 }
        @inline(__always) func cont(_ k: Int) -> Bool { k < n && p[k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(i + 1) ? 2 : 0
        case 0xE0:
            return i + 2 < n && p[i + 1] >= 0xA0 && p[i + 1] <= 0xBF && cont(i + 2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF:
            return cont(i + 1) && cont(i + 2) ? 3 : 0
        case 0xED:
            return i + 2 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F && cont(i + 2) ? 3 : 0
        case 0xF0:
            return i + 3 < n && p[i + 1] >= 0x90 && p[i + 1] <= 0xBF && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF1...0xF3:
            return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF4:
            return i + 3 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x8F && cont(i + 2) && cont(i + 3) ? 4 : 0
        default:
            return 0
        }
    }

    /// Whether a whole buffer is well-formed UTF-8.
    package static func isValid(_ buffer: UnsafeRawBufferPointer) -> Bool {
        guard let p = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
        let n = buffer.count
        var i = 0
        while i < n {
            if i + 8 <= n, UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
                continue
            }
            let length = sequenceLength(p, i, n)
            if length == 0 { return false }
            i += length
        }
        return true
    }
}

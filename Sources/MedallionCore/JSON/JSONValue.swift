/// A small JSON tree for payloads (Silver validates and flattens them).
///
/// Built only after `JSONScanner` has validated the bytes, so building never
/// meets a syntax error and its recursion is bounded by the scanner's depth
/// limit. Policy: numbers keep their exact text (`1.50`, `1e400` and 20-digit
/// ids survive a round trip; `doubleValue`/`int64Value` convert on demand);
/// object members keep their order; a key that appears twice in one object is
/// an error naming its JSON pointer — readers disagree on which value wins,
/// so we never pick one silently.
package indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number exactly as written (valid RFC 8259 number syntax).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    package static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// Why bytes could not become a `JSONValue`.
    package enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case syntax(JSONSyntaxError)
        /// A key appears twice in one object; `pointer` is the RFC 6901 path of the second one.
        case duplicateKey(pointer: String)

        package var description: String {
            switch self {
            case .syntax(let error): "not valid JSON: \(error.description)"
            case .duplicateKey(let pointer): "duplicate key at \(pointer); each key may appear once per object"
            }
        }
    }

    /// Parses one JSON document.
    package static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512) throws(ParseError) -> JSONValue {
        var scanner = JSONScanner(maxDepth: maxDepth)
        do {
            _ = try scanner.scan(bytes)
        } catch {
            throw .syntax(error)
        }
        var builder = Builder(p: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), n: bytes.count)
        builder.skipWhitespace()
        return try builder.value()
    }

    package static func parse(_ text: String) throws(ParseError) -> JSONValue {
        var text = text
        let result: Result<JSONValue, ParseError> = text.withUTF8 { utf8 in
            Result { () throws(ParseError) -> JSONValue in try parse(UnsafeRawBufferPointer(utf8)) }
        }
        return try result.get()
    }

    /// Compact JSON text (the core's one escaping rule).
    package func write(to w: inout JSONWriter) {
        switch self {
        case .null: w.null()
        case .bool(let b): w.bool(b)
        case .number(let text): w.raw(text)
        case .string(let s): w.string(s)
        case .array(let items):
            w.beginArray()
            for item in items { item.write(to: &w) }
            w.endArray()
        case .object(let members):
            w.beginObject()
            for (key, value) in members {
                w.key(key)
                value.write(to: &w)
            }
            w.endObject()
        }
    }

    package var compactText: String {
        var w = JSONWriter()
        write(to: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// The member named `key` of an object.
    package subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    package var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    /// The number as an Int64 when it is an integer in range (no fraction, no exponent).
    package var int64Value: Int64? {
        if case .number(let text) = self { return Int64(text) }
        return nil
    }

    /// Builds a tree from bytes the scanner already validated.
    private struct Builder {
        let p: UnsafePointer<UInt8>
        let n: Int
        var i = 0

        mutating func skipWhitespace() {
            while i < n, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 }
        }

        /// The keys and indices from the root to the value being built; a
        /// JSON pointer is made from it only for an error.
        var path: [String] = []

        var pointer: String { path.map { "/" + Self.escapePointer($0) }.joined() }

        mutating func value() throws(ParseError) -> JSONValue {
            switch p[i] {
            case UInt8(ascii: "{"):
                i += 1
                skipWhitespace()
                var members: [(key: String, value: JSONValue)] = []
                var seen: Set<String>?
                while p[i] != UInt8(ascii: "}") {
                    let key = string()
                    // Small objects (payloads) check by scan; large ones switch to a set.
                    if members.count >= 16, seen == nil { seen = Set(members.map(\.key)) }
                    let duplicate = seen.map { !$0.contains(key) ? false : true } ?? members.contains { $0.key == key }
                    if duplicate { throw .duplicateKey(pointer: pointer + "/" + Self.escapePointer(key)) }
                    seen?.insert(key)
                    skipWhitespace()
                    i += 1  // ':'
                    skipWhitespace()
                    path.append(key)
                    members.append((key, try value()))
                    path.removeLast()
                    skipWhitespace()
                    if p[i] == UInt8(ascii: ",") {
                        i += 1
                        skipWhitespace()
                    }
                }
                i += 1
                return .object(members)
            case UInt8(ascii: "["):
                i += 1
                skipWhitespace()
                var items: [JSONValue] = []
                while p[i] != UInt8(ascii: "]") {
                    path.append(String(items.count))
                    items.append(try value())
                    path.removeLast()
                    skipWhitespace()
                    if p[i] == UInt8(ascii: ",") {
                        i += 1
                        skipWhitespace()
                    }
                }
                i += 1
                return .array(items)
            case UInt8(ascii: "\""):
                return .string(string())
            case UInt8(ascii: "t"):
                i += 4
                return .bool(true)
            case UInt8(ascii: "f"):
                i += 5
                return .bool(false)
            case UInt8(ascii: "n"):
                i += 4
                return .null
            default:
                let start = i
                while i < n, Self.isNumberByte(p[i]) { i += 1 }
                return .number(String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self))
            }
        }

        /// A validated string literal at `i`, decoded.
        mutating func string() -> String {
            let start = i + 1
            i = start
            while p[i] != UInt8(ascii: "\"") { i += p[i] == UInt8(ascii: "\\") ? 2 : 1 }
            let body = UnsafeRawBufferPointer(start: p + start, count: i - start)
            i += 1
            return JSONString.decode(body)
        }

        static func isNumberByte(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
        }

        /// RFC 6901: `~` → `~0`, `/` → `~1`.
        static func escapePointer(_ key: String) -> String {
            guard key.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return key }
            return key.replacing("~", with: "~0").replacing("/", with: "~1")
        }
    }
}

/// A compact JSON writer that appends to a byte buffer.
///
/// It is the only way medallion produces JSON text (DLQ records, summaries,
/// logs, Delta log actions), so escaping is decided in one place: `"` and `\`
/// are escaped, control characters become `\n`, `\t`, ... or `\u00XX`, and
/// everything else — including non-ASCII UTF-8 — is copied through unchanged.
/// Commas are inserted automatically from a small nesting stack.
package struct JSONWriter {
    package var bytes: [UInt8]
    /// One entry per open container: `true` once it holds a first element.
    private var hasElement: [Bool] = []
    private var afterKey = false

    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Clears the output but keeps its capacity, for reuse on a hot path.
    package mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        hasElement.removeAll(keepingCapacity: true)
        afterKey = false
    }

    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = hasElement.indices.last {
            if hasElement[last] { bytes.append(UInt8(ascii: ",")) }
            hasElement[last] = true
        }
    }

    package mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        hasElement.append(false)
    }

    package mutating func endObject() {
        hasElement.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    package mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        hasElement.append(false)
    }

    package mutating func endArray() {
        hasElement.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    package mutating func key(_ name: String) {
        separate()
        appendEscaped(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    package mutating func string(_ value: String) {
        separate()
        appendEscaped(value)
    }

    /// Writes UTF-8 bytes as a JSON string. The caller guarantees valid UTF-8.
    package mutating func string(utf8 value: UnsafeRawBufferPointer) {
        separate()
        appendEscaped(value)
    }

    package mutating func int(_ value: Int64) {
        separate()
        appendDecimal(value)
    }

    package mutating func int(_ value: Int) { int(Int64(value)) }

    /// Writes a finite double in Swift's shortest round-trip form; NaN and
    /// infinities have no JSON spelling and are written as `null`.
    package mutating func double(_ value: Double) {
        separate()
        if value.isFinite {
            if value == value.rounded(), abs(value) < 1e15, !(value == 0 && value.sign == .minus) {
                appendDecimal(Int64(value))
                bytes.append(contentsOf: ".0".utf8)
            } else {
                bytes.append(contentsOf: value.description.utf8)
            }
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    package mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    package mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    /// Opens a diagnostic line for stderr with the keys every stage's logs
    /// share — `ts`, `level`, `stage`, `event` — so they stay one format.
    package static func diagnostic(level: String, stage: String, event: String) -> JSONWriter {
        var w = JSONWriter()
        w.beginObject()
        w.key("ts"); w.string(Timestamp.isoMillis(wallClockMicros()))
        w.key("level"); w.string(level)
        w.key("stage"); w.string(stage)
        w.key("event"); w.string(event)
        return w
    }

    /// Inserts text that is already valid JSON (for example a value scanned from
    /// an input line) without re-serialising it.
    package mutating func raw(_ json: UnsafeRawBufferPointer) {
        separate()
        bytes.append(contentsOf: json)
    }

    package mutating func raw(_ json: String) {
        separate()
        bytes.append(contentsOf: json.utf8)
    }

    package mutating func appendDecimal(_ value: Int64) {
        Self.appendDecimal(value, to: &bytes)
    }

    /// Appends the decimal digits of `value` to raw bytes.
    package static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch
        var count = 0
        withUnsafeMutableBytes(of: &digits) { scratch in
            while magnitude > 0 {
                scratch[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(scratch[i]) }
        }
    }

    private mutating func appendEscaped(_ value: String) {
        var value = value
        value.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0)) }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func appendEscaped(_ value: UnsafeRawBufferPointer) {
        Self.appendQuoted(value, to: &bytes)
    }

    /// Appends `value` as a quoted JSON string to `bytes`. The bytes are not
    /// checked for UTF-8 (the generator plants invalid UTF-8 on purpose).
    package static func appendQuoted(_ value: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        for i in 0..<value.count {
            let b = value[i]
            guard b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") else { continue }
            if runStart < i { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[runStart..<i])) }
            runStart = i + 1
            bytes.append(UInt8(ascii: "\\"))
            switch b {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case 0x0A: bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(UInt8(ascii: "f"))
            default:
                bytes.append(contentsOf: "u00".utf8)
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 15)])
            }
        }
        if runStart < value.count {
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[runStart..<value.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

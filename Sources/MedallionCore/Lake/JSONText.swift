/// A minimal JSON text builder for `_delta_log` actions and `add.stats`.
///
/// Delta is strict about shapes (stats is a JSON *string* containing JSON,
/// schemaString likewise), so we build the text explicitly rather than through
/// `JSONSerialization`, which would also reorder keys and print `1` for `1.0`.
/// Keys are written in the order given, which keeps commit files deterministic.
struct JSONText {
    private(set) var text: String = ""
    /// Whether the next member/element needs a leading comma, one flag per open container.
    private var needsComma: [Bool] = []

    init() {}

    mutating func beginObject() {
        separate()
        text.append("{")
        needsComma.append(false)
    }

    mutating func endObject() {
        text.append("}")
        needsComma.removeLast()
    }

    mutating func beginArray() {
        separate()
        text.append("[")
        needsComma.append(false)
    }

    mutating func endArray() {
        text.append("]")
        needsComma.removeLast()
    }

    /// Writes `"key":`; the value call that follows must not add another comma.
    mutating func key(_ name: String) {
        separate()
        JSONText.appendQuoted(name, to: &text)
        text.append(":")
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = false }
    }

    mutating func string(_ value: String) {
        separate()
        JSONText.appendQuoted(value, to: &text)
    }

    mutating func stringOrNull(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    mutating func int(_ value: Int64) {
        separate()
        text.append(String(value))
    }

    mutating func bool(_ value: Bool) {
        separate()
        text.append(value ? "true" : "false")
    }

    mutating func null() {
        separate()
        text.append("null")
    }

    /// Finite doubles only (JSON has no NaN/Infinity); callers drop non-finite bounds first.
    mutating func double(_ value: Double) {
        precondition(value.isFinite, "JSON cannot hold \(value)")
        separate()
        // Swift prints the shortest round-tripping form: "1.0", "-0.0", "1e-05", "1e+16".
        text.append("\(value)")
    }

    /// Inserts already-valid JSON text as a value.
    mutating func raw(_ json: String) {
        separate()
        text.append(json)
    }

    private mutating func separate() {
        guard !needsComma.isEmpty else { return }
        if needsComma[needsComma.count - 1] { text.append(",") }
        needsComma[needsComma.count - 1] = true
    }

    /// Appends `value` as a JSON string literal, with the core's one escaping
    /// rule (`JSONWriter.appendQuoted`).
    static func appendQuoted(_ value: String, to out: inout String) {
        var bytes: [UInt8] = []
        var value = value
        value.withUTF8 { JSONWriter.appendQuoted(UnsafeRawBufferPointer($0), to: &bytes) }
        out.append(String(decoding: bytes, as: UTF8.self))
    }
}

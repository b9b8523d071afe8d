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

    /// Appends `value` as a JSON string literal, escaping quotes, backslashes and control characters.
    static func appendQuoted(_ value: String, to out: inout String) {
        out.append("\"")
        var plainStart = value.utf8.startIndex
        let utf8 = value.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == 0x22 || byte == 0x5C || byte < 0x20 {
                out.append(contentsOf: value[plainStart..<index])
                switch byte {
                case 0x22: out.append("\\\"")
                case 0x5C: out.append("\\\\")
                case 0x0A: out.append("\\n")
                case 0x0D: out.append("\\r")
                case 0x09: out.append("\\t")
                default:
                    let hex = Array("0123456789abcdef")
                    out.append("\\u00")
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xF)])
                }
                plainStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        out.append(contentsOf: value[plainStart..<utf8.endIndex])
        out.append("\"")
    }

    static func quoted(_ value: String) -> String {
        var out = ""
        appendQuoted(value, to: &out)
        return out
    }
}

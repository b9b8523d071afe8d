/// A minimal JSON text builder for `_delta_log` actions and `add.stats`.
///
/// Delta is strict about shapes (stats is a JSON *string* containing JSON,
/// schemaString likewise), so we build the text explicitly rather than through
/// `JSONSerialization`, which would also reorder keys and print `1` for `1.0`.
/// Keys are written in the order given, which keeps commit files deterministic.
struct JSONText {
    /// The structure (commas, nesting, escaping) is the core `JSONWriter`'s;
    /// this type only keeps the Delta-specific choices (finite doubles in
    /// Swift's shortest form, `-0.0` included) and hands out a `String`.
    private var writer = JSONWriter(capacity: 512)

    init() {}

    var text: String { String(decoding: writer.bytes, as: UTF8.self) }

    mutating func beginObject() { writer.beginObject() }
    mutating func endObject() { writer.endObject() }
    mutating func beginArray() { writer.beginArray() }
    mutating func endArray() { writer.endArray() }
    mutating func key(_ name: String) { writer.key(name) }
    mutating func string(_ value: String) { writer.string(value) }
    mutating func int(_ value: Int64) { writer.int(value) }
    mutating func bool(_ value: Bool) { writer.bool(value) }
    mutating func null() { writer.null() }

    mutating func stringOrNull(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    /// Finite doubles only (JSON has no NaN/Infinity); callers drop non-finite bounds first.
    mutating func double(_ value: Double) {
        precondition(value.isFinite, "JSON cannot hold \(value)")
        // Swift prints the shortest round-tripping form: "1.0", "-0.0", "1e-05", "1e+16".
        writer.raw("\(value)")
    }

    /// Inserts already-valid JSON text as a value.
    mutating func raw(_ json: String) { writer.raw(json) }
}

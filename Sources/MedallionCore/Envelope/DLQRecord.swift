/// A rejected record as written to the DLQ stream (format in docs/dlq.md).
///
/// The raw line is always kept: as a JSON string in `raw` when it is valid
/// UTF-8, otherwise byte for byte as base64 in `raw_base64`. A line over the
/// length limit keeps a 4 KiB prefix, with `raw_truncated: true` and its full
/// `raw_length`, so the record itself stays bounded.
package struct DLQRecord {
    package var stage: String
    package var rejection: Rejection
    package var raw: UnsafeRawBufferPointer
    package var rawLength: Int
    package var rawTruncated: Bool
    package var input: String
    package var lineNumber: Int
    /// The record's `_source` value as raw JSON, when it could be read.
    package var source: UnsafeRawBufferPointer?
    package var tenantID: String?
    package var eventType: String?
    package var timeMicros: Int64
    /// The writing stage's instance when several run (`silver-validate.acme`); written as `instance`.
    package var instance: String?

    package init(stage: String, rejection: Rejection, raw: UnsafeRawBufferPointer, rawLength: Int, rawTruncated: Bool,
                 input: String, lineNumber: Int, source: UnsafeRawBufferPointer? = nil,
                 tenantID: String? = nil, eventType: String? = nil, timeMicros: Int64) {
        self.stage = stage
        self.rejection = rejection
        self.raw = raw
        self.rawLength = rawLength
        self.rawTruncated = rawTruncated
        self.input = input
        self.lineNumber = lineNumber
        self.source = source
        self.tenantID = tenantID
        self.eventType = eventType
        self.timeMicros = timeMicros
    }

    /// The version of this record layout; bumped only for incompatible changes.
    package static let formatVersion = 1

    package func encode(into w: inout JSONWriter) {
        w.beginObject()
        w.key("dlq_version"); w.int(Self.formatVersion)
        w.key("stage"); w.string(stage)
        if let instance {
            w.key("instance"); w.string(instance)
        }
        w.key("reason"); w.string(rejection.reason.rawValue)
        w.key("message"); w.string(rejection.message)
        w.key("field")
        if let field = rejection.field { w.string(field) } else { w.null() }
        if let rule = rejection.rule {
            w.key("rule"); w.string(rule)
        }
        w.key("tenant_id")
        if let tenantID { w.string(tenantID) } else { w.null() }
        w.key("event_type")
        if let eventType { w.string(eventType) } else { w.null() }
        w.key("source")
        if let source { w.raw(source) } else { w.null() }
        w.key("input"); w.string(input)
        w.key("line"); w.int(lineNumber)
        w.key("time")
        var stamp: [UInt8] = []
        Timestamp.appendISOMillis(timeMicros, to: &stamp)
        stamp.withUnsafeBytes { w.string(utf8: $0) }
        w.key("raw_length"); w.int(rawLength)
        w.key("raw_truncated"); w.bool(rawTruncated)
        // A truncated prefix may end inside a multi-byte character: trim to a
        // character boundary before deciding, so the prefix of a UTF-8 line
        // is still kept as text.
        let text = rawTruncated ? Self.trimIncompleteSequence(raw) : raw
        if UTF8Validation.isValid(text) {
            w.key("raw"); w.string(utf8: text)
        } else {
            w.key("raw_base64")
            var encoded: [UInt8] = []
            Base64.encode(raw, into: &encoded)
            encoded.withUnsafeBytes { w.string(utf8: $0) }
        }
        w.endObject()
    }

    /// Drops up to three trailing bytes of an incomplete UTF-8 sequence.
    static func trimIncompleteSequence(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var end = bytes.count
        var back = 0
        while end > 0, back < 3, bytes[end - 1] & 0xC0 == 0x80 {
            end -= 1
            back += 1
        }
        if end > 0, bytes[end - 1] >= 0xC0 {
            let lead = bytes[end - 1]
            let need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
            if need > back + 1 { return UnsafeRawBufferPointer(rebasing: bytes[0..<(end - 1)]) }
        }
        return bytes
    }
}

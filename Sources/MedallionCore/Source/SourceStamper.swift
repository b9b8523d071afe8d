#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns one source record (a Kafka value, a replayed line, a Capture body)
/// into one output line: a JSON object with its `_source` position and,
/// when known and absent, its `ingest_time_utc`.
///
/// Works on raw bytes: the record is scanned once (syntax, UTF-8, top-level
/// keys) and the new members are written in front of the sender's, whose
/// bytes are copied untouched. No tree is built, nothing is re-encoded.
package struct SourceStamper {
    /// What to do with a `_source` the record already carries.
    package enum ExistingSource: Sendable {
        /// Keep it and add nothing (replays of our own output keep their positions).
        case keep
        /// The broker's position is authoritative: rename the sender's key to
        /// `_origin` (same length, so in place) and add ours.
        case renameToOrigin
    }

    package enum Outcome {
        /// The line to emit is in `line`.
        case emit
        /// The record cannot become an event; nothing was written to `line`.
        case rejected(Rejection)
    }

    private var scanner = JSONScanner()
    /// The output line of the last `.emit`, without its `\n`.
    package private(set) var line: [UInt8] = []
    private var sourcePrefix: [UInt8] = []
    private let existing: ExistingSource

    /// - Parameter sourceID: the `source` value of every `_source` this stamper writes.
    package init(sourceID: String, existing: ExistingSource) {
        self.existing = existing
        line.reserveCapacity(1 << 16)
        sourcePrefix = Array(#"{"_source":{"source":"#.utf8)
        var prefix = sourcePrefix
        Array(sourceID.utf8).withUnsafeBytes { JSONWriter.appendQuoted($0, to: &prefix) }
        sourcePrefix = prefix
        sourcePrefix += Array(#","partition":"#.utf8)
    }

    /// Shapes one record. `ingestMillis` (broker or Capture time) is written
    /// as `ingest_time_utc` only when the record has none.
    package mutating func stamp(_ record: UnsafeRawBufferPointer, partition: Int64, offset: Int64,
                                ingestMillis: Int64?) -> Outcome {
        line.removeAll(keepingCapacity: true)
        let kind: JSONKind
        do {
            kind = try scanner.scan(record)
        } catch {
            return .rejected(Self.rejection(for: error))
        }
        guard kind == .object else {
            return .rejected(Rejection(.notAnObject, "the record is a JSON \(kind.name), not an object"))
        }
        var hasSource = false
        var hasOrigin = false
        var sourceKeyAt = -1
        var hasIngest = false
        for m in scanner.members where !m.keyEscaped {
            let keyLength = m.keyEnd - m.keyStart
            if keyLength == 7 {
                if Self.equals(record, m.keyStart, "_source") {
                    hasSource = true
                    sourceKeyAt = m.keyStart
                } else if Self.equals(record, m.keyStart, "_origin") {
                    hasOrigin = true
                }
            } else if keyLength == 15, Self.equals(record, m.keyStart, "ingest_time_utc") {
                hasIngest = true
            }
        }
        // The body after the opening brace, and whether the object has members.
        guard let base = record.baseAddress else { return .rejected(Rejection(.invalidJSON, "the record is empty")) }
        var open = 0
        while record[open] != UInt8(ascii: "{") { open += 1 }
        var end = record.count
        while end > open, record[end - 1] != UInt8(ascii: "}") { end -= 1 }
        let empty = scanner.members.isEmpty

        if hasSource, existing == .keep {
            if hasIngest || ingestMillis == nil {
                appendBody(base, from: open, to: end, sourceKeyAt: -1)
                return .emit
            }
            line.append(UInt8(ascii: "{"))
            appendIngest(ingestMillis!)
            if !empty { line.append(UInt8(ascii: ",")) }
            appendBody(base, from: open + 1, to: end, sourceKeyAt: -1)
            return .emit
        }
        if hasSource, hasOrigin {
            return .rejected(Rejection(.duplicateField, field: "_origin",
                "the record carries both _source and _origin; the broker's position cannot be added without losing one"))
        }
        line += sourcePrefix
        appendDecimal(partition)
        line += Array(#","offset":"#.utf8)
        appendDecimal(offset)
        line.append(UInt8(ascii: "}"))
        if !hasIngest, let ingestMillis {
            line.append(UInt8(ascii: ","))
            appendIngest(ingestMillis)
        }
        if !empty { line.append(UInt8(ascii: ",")) }
        appendBody(base, from: open + 1, to: end, sourceKeyAt: hasSource ? sourceKeyAt : -1)
        return .emit
    }

    /// Copies `record[from..<to]`; a raw `\n`/`\r` (only possible as
    /// whitespace in valid JSON) becomes a space so the output stays one line;
    /// a `_source` key at `sourceKeyAt` becomes `_origin`.
    private mutating func appendBody(_ base: UnsafeRawPointer, from: Int, to: Int, sourceKeyAt: Int) {
        let start = line.count
        line.append(contentsOf: UnsafeRawBufferPointer(start: base + from, count: to - from))
        if memchr(base + from, 0x0A, to - from) != nil || memchr(base + from, 0x0D, to - from) != nil {
            for i in start..<line.count where line[i] == 0x0A || line[i] == 0x0D { line[i] = 0x20 }
        }
        if sourceKeyAt >= from {
            let at = start + sourceKeyAt - from
            for (i, b) in "_origin".utf8.enumerated() { line[at + i] = b }
        }
    }

    private mutating func appendIngest(_ millis: Int64) {
        line += Array(#""ingest_time_utc":""#.utf8)
        Timestamp.appendISOMillis(millis * 1000, to: &line)
        line.append(UInt8(ascii: "\""))
    }

    private mutating func appendDecimal(_ value: Int64) {
        if value < 0 {
            line.append(UInt8(ascii: "-"))
            appendDecimal(-value)
            return
        }
        if value >= 10 { appendDecimal(value / 10) }
        line.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    @inline(__always)
    private static func equals(_ record: UnsafeRawBufferPointer, _ at: Int, _ text: StaticString) -> Bool {
        memcmp(record.baseAddress! + at, text.utf8Start, text.utf8CodeUnitCount) == 0
    }

    /// The DLQ reason for a record that is not JSON.
    package static func rejection(for error: JSONSyntaxError) -> Rejection {
        switch error.kind {
        case .invalidUTF8: Rejection(.invalidUTF8, "the record is not valid UTF-8: \(error.description)")
        case .tooDeep: Rejection(.tooDeep, "the record nests deeper than 512 levels")
        case .syntax: Rejection(.invalidJSON, "the record is not JSON: \(error.description)")
        }
    }
}

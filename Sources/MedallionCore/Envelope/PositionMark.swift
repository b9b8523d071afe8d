/// A position mark: a control line, not a record, saying that the stage
/// that wrote it has written everything it will for the records of one
/// source partition up to `offset`.
///
/// On a data stream: `{"_mark":{"source":S,"partition":P,"offset":O}}`
/// (eh-source emits them each time it stores offsets; every stage forwards
/// them in place). On a DLQ stream the same mark carries the writing stage:
/// `{"_mark":{...},"stage":"envelope-check"}`. Sinks record a mark's
/// position in their `txn` actions like a stored record's, so a sink that
/// sees few records (the DLQ above all) still advances with the source, and
/// a restart replays only what was in flight (docs/architecture: exactly
/// once, through pipes).
package struct PositionMark: Sendable, Equatable {
    package var source: String
    package var partition: Int64
    package var offset: Int64
    /// The stage whose DLQ stream carries the mark (DLQ streams only).
    package var stage: String?

    package init(source: String, partition: Int64, offset: Int64, stage: String? = nil) {
        self.source = source
        self.partition = partition
        self.offset = offset
        self.stage = stage
    }

    /// Parses a mark line; nil for anything else (marks are rare: a tree is fine here).
    package static func parse(_ line: UnsafeRawBufferPointer) -> PositionMark? {
        guard line.count < 4096, case .object(let members)? = try? JSONValue.parse(line),
              case .object(let mark)? = members.first(where: { $0.key == "_mark" })?.value
        else { return nil }
        func member(_ key: String) -> JSONValue? { mark.first { $0.key == key }?.value }
        guard case .string(let source)? = member("source"), !source.isEmpty,
              let partition = member("partition")?.int64Value, let offset = member("offset")?.int64Value
        else { return nil }
        var stage: String?
        if case .string(let s)? = members.first(where: { $0.key == "stage" })?.value { stage = s }
        return PositionMark(source: source, partition: partition, offset: offset, stage: stage)
    }

    /// The mark as a line (without the newline), with `stage` when given.
    package func encoded(stage: String? = nil) -> [UInt8] {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("_mark")
        w.beginObject()
        w.key("source"); w.string(source)
        w.key("partition"); w.int(partition)
        w.key("offset"); w.int(offset)
        w.endObject()
        if let stage {
            w.key("stage"); w.string(stage)
        }
        w.endObject()
        return w.bytes
    }
}

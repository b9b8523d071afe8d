/// A record's `_source` position: which source it came from, which
/// partition, at which offset. Sinks turn the highest stored offset per
/// (source, partition) into a Delta `txn` action, which is what makes a
/// restart skip what is already stored.
///
/// Accepted shape: `{"source": "<id>", "partition": <int or digit string>, "offset": <int>}`;
/// other keys are ignored. Anything else means "no usable position": the
/// record is still stored, but cannot be deduplicated on replay.
package struct SourcePosition {
    /// Byte range of the source id's contents (inside its quotes) in the line.
    package var sourceRange: Range<Int>
    package var partition: Int64
    package var offset: Int64

    package static func parse(_ line: UnsafeRawBufferPointer, value: Range<Int>, scanner: inout JSONScanner) -> SourcePosition? {
        let body = UnsafeRawBufferPointer(rebasing: line[value])
        guard (try? scanner.scan(body)) == .object else { return nil }
        var source: Range<Int>?
        var partition: Int64?
        var offset: Int64?
        for m in scanner.members {
            let key = UnsafeRawBufferPointer(rebasing: body[m.keyStart..<m.keyEnd])
            let raw = UnsafeRawBufferPointer(rebasing: body[m.valueStart..<m.valueEnd])
            switch key.count {
            case 6 where key.elementsEqual("source".utf8):
                guard m.kind == .string, !m.valueEscaped, raw.count > 2 else { return nil }
                source = (value.lowerBound + m.valueStart + 1)..<(value.lowerBound + m.valueEnd - 1)
            case 9 where key.elementsEqual("partition".utf8):
                if m.kind == .number {
                    partition = parseInt(raw)
                } else if m.kind == .string, !m.valueEscaped {
                    partition = parseInt(UnsafeRawBufferPointer(rebasing: raw[1..<(raw.count - 1)]))
                }
            case 6 where key.elementsEqual("offset".utf8):
                if m.kind == .number {
                    offset = parseInt(raw)
                } else if m.kind == .string, !m.valueEscaped {
                    offset = parseInt(UnsafeRawBufferPointer(rebasing: raw[1..<(raw.count - 1)]))
                }
            default: continue
            }
        }
        guard let source, let partition, let offset, partition >= 0, offset >= 0 else { return nil }
        return SourcePosition(sourceRange: source, partition: partition, offset: offset)
    }

    /// A non-negative decimal integer without sign, fraction or exponent; `nil` otherwise or on overflow.
    package static func parseInt(_ digits: UnsafeRawBufferPointer) -> Int64? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var v: Int64 = 0
        for b in digits {
            let d = Int64(b) - 48
            guard d >= 0, d <= 9 else { return nil }
            v = v * 10 + d
        }
        return v
    }
}

/// `envelope-check`: the first gate. Valid envelopes pass through byte for
/// byte (only a trailing `\r` is dropped); everything else becomes a DLQ
/// record with a reason; position marks are forwarded untouched and
/// copied to the DLQ stream (stamped with the stage) so the DLQ sink advances too.
package enum EnvelopeCheckStage {
    package static func run(_ runtime: StageRuntime, policy: EnvelopePolicy) throws(StageError) {
        var checker = EnvelopeChecker(policy: policy)
        let reader = runtime.reader
        let output = runtime.output
        while let line = try reader.next() {
            if line.tooLong {
                runtime.countInput()
                try runtime.reject(line, Rejection(.lineTooLong,
                    "line \(line.number) is \(line.length) bytes; the limit is \(reader.maxLineLength) (--max-line-bytes)"))
                continue
            }
            switch checker.check(line.bytes) {
            case .valid:
                runtime.countInput()
                try output.writeLine(line.bytes)
            case .mark:
                runtime.countMark()
                try output.writeLine(line.bytes)
                if let mark = PositionMark.parse(line.bytes) { try runtime.markDLQ(mark) }
            case .rejected(let rejection):
                runtime.countInput()
                let source = checker.sourceRange.map { UnsafeRawBufferPointer(rebasing: line.bytes[$0]) }
                try runtime.reject(line, rejection, source: source,
                                   tenantID: checker.stringValue(.tenantID, in: line.bytes),
                                   eventType: checker.stringValue(.eventType, in: line.bytes))
            }
        }
        try runtime.flush()
    }
}

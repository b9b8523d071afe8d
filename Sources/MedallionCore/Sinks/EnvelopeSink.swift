/// A sink that takes envelopes (bronze-sink, silver-validate): they share one
/// read loop and differ in what they do with a valid envelope and a mark.
protocol EnvelopeSink: AnyObject {
    var options: SinkOptions { get }
    var checker: EnvelopeChecker { get set }
    var batch: BatchCounters { get set }
    /// Lines to write to stdout once the batch is committed.
    var forward: [UInt8] { get set }
    /// Takes a valid envelope (already counted as input); stores and forwards it, or rejects it.
    func accept(_ line: Line, _ runtime: StageRuntime) throws(StageError)
    /// Records a position mark's position for the next commit.
    func record(_ mark: PositionMark)
    /// Commits the batch, then forwards it.
    func commit(_ runtime: StageRuntime) throws(StageError)
}

extension EnvelopeSink {
    /// Framing, the envelope check, rejects, marks (forwarded in place, copied
    /// to the DLQ stream, recorded), and a commit per `--batch-rows`,
    /// `--batch-bytes` or `--flush-interval` (also when the input goes quiet).
    func runLoop(_ runtime: StageRuntime) throws(StageError) {
        let reader = runtime.reader
        reader.source.idleMillis = Int32(max(50, min(options.flushIntervalSeconds * 1000, 60_000)))
        reader.source.onIdle = { [unowned self, unowned runtime] () throws(StageError) in
            if self.batch.inputRows > 0 || !self.forward.isEmpty { try self.commit(runtime) }
        }
        batch.start()
        while let line = try reader.next() {
            batch.inputRows += 1
            if line.tooLong {
                runtime.countInput()
                batch.dlqRows += 1
                try runtime.reject(line, Rejection(.lineTooLong,
                    "line \(line.number) is \(line.length) bytes; the limit is \(reader.maxLineLength) (--max-line-bytes)"))
                continue
            }
            switch checker.check(line.bytes) {
            case .mark:
                batch.inputRows -= 1
                runtime.countMark()
                batch.marks += 1
                forward.append(contentsOf: line.bytes)
                forward.append(0x0A)
                if let mark = PositionMark.parse(line.bytes) {
                    record(mark)
                    try runtime.markDLQ(mark)
                }
            case .rejected(let rejection):
                runtime.countInput()
                batch.dlqRows += 1
                let source = checker.sourceRange.map { UnsafeRawBufferPointer(rebasing: line.bytes[$0]) }
                try runtime.reject(line, rejection, source: source,
                                   tenantID: checker.stringValue(.tenantID, in: line.bytes),
                                   eventType: checker.stringValue(.eventType, in: line.bytes))
            case .valid:
                runtime.countInput()
                try accept(line, runtime)
            }
            if batch.storedRows >= options.batchRows || batch.bytes >= options.batchBytes
                || (batch.inputRows & 1023 == 0 && batch.age >= options.flushIntervalSeconds) {
                try commit(runtime)
            }
        }
        try commit(runtime)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings of `eh-source` shared by every mode.
package struct EHSourceOptions: Sendable {
    /// Where records come from.
    package enum Mode: Sendable {
        /// Live: a Kafka topic (Event Hubs' Kafka endpoint) in a consumer group.
        case kafka(KafkaConsumerSettings, topic: String, resume: LakeResume?)
        /// NDJSON files (or `-`), in order.
        case replay(paths: [String], follow: Bool)
        /// `SampleGenerator` events.
        case generate(GeneratorConfig)
        /// Event Hubs Capture Avro files under a directory.
        case capture(directory: String)
    }

    /// `--resume-from-lake`: start each partition after what the sinks stored.
    package struct LakeResume: Sendable {
        package var lakeRoots: [String]
        /// Only this sink's txns (`nil`: any sink that wrote the table).
        package var sinkID: String?

        package init(lakeRoots: [String], sinkID: String?) {
            self.lakeRoots = lakeRoots
            self.sinkID = sinkID
        }
    }

    package var mode: Mode
    /// The `source` of every `_source` written; default per mode
    /// (`kafka:<bootstrap>/<topic>`, `file:<path>`, `capture:<namespace>/<hub>`).
    package var sourceID: String?
    package var maxRecords: Int?
    /// Stop after this long without a record (live and `--follow`).
    package var idleExitSeconds: Double?
    /// Exit 75 when every broker stayed unreachable this long.
    package var maxRetrySeconds = 300.0
    /// Records per second (0 = unlimited).
    package var rate = 0.0
    package var captureTo: String?
    /// Live: write a position mark per partition each time offsets are stored.
    package var marks = true

    package init(mode: Mode) { self.mode = mode }
}

/// `eh-source`: the entry of every pipeline. Reads a live topic, a replay, a
/// Capture archive or the generator, and writes one JSON object per line,
/// each with its `_source` position; a record that is not a JSON object goes
/// to the DLQ with its bytes.
package final class EHSource {
    private let options: EHSourceOptions
    private let runtime: StageRuntime
    private var capture: CaptureWriter?
    private var emittedCount = 0
    private var limiter: RateLimiter?
    /// An error raised inside a librdkafka callback, rethrown after `poll`.
    private var deferredError: StageError?
    /// Live: the last offset emitted per partition since the last position mark.
    private var unmarked: [Int32: Int64] = [:]

    package init(options: EHSourceOptions, runtime: StageRuntime) throws(StageError) {
        self.options = options
        self.runtime = runtime
        if let path = options.captureTo { capture = try CaptureWriter(path: path) }
        if options.rate > 0 { limiter = RateLimiter(perSecond: options.rate) }
    }

    package func run() throws(StageError) {
        defer { try? capture?.flush() }
        switch options.mode {
        case .kafka(let settings, let topic, let resume):
            try runKafka(settings, topic: topic, resume: resume)
        case .replay(let paths, let follow):
            try runReplay(paths: paths, follow: follow)
        case .generate(let config):
            try runGenerator(config)
        case .capture(let directory):
            try runCapture(directory: directory)
        }
        try flush()
    }

    private var reachedLimit: Bool {
        if let max = options.maxRecords { return runtime.rowsIn >= max }
        return false
    }

    private func flush() throws(StageError) {
        try runtime.flush()
        try capture?.flush()
    }

    /// Writes one shaped record or its DLQ record, then paces the stream.
    @inline(__always)
    private func deliver(_ outcome: SourceStamper.Outcome, stamper: SourceStamper, raw: UnsafeRawBufferPointer,
                         input: String, number: Int, position: () -> [UInt8]) throws(StageError) {
        runtime.countInput()
        switch outcome {
        case .emit:
            try stamper.line.withRawBytes { (line) throws(StageError) in try runtime.output.writeLine(line) }
        case .rejected(let rejection):
            let source = position()
            try source.withRawBytes { (s) throws(StageError) in
                try runtime.reject(raw: raw, length: raw.count, tooLong: false, input: input, lineNumber: number,
                                   rejection, source: s)
            }
        }
        if let limiter { try limiter.pace(count: runtime.rowsIn) { () throws(StageError) in try runtime.flush() } }
    }

    // MARK: Kafka

    private func runKafka(_ settings: KafkaConsumerSettings, topic: String, resume: EHSourceOptions.LakeResume?) throws(StageError) {
        let consumer = try KafkaConsumer(settings: settings, topic: topic)
        let sourceID = options.sourceID ?? "kafka:\(consumer.bootstrap)/\(topic)"
        var stamper = SourceStamper(sourceID: sourceID, existing: .renameToOrigin)
        consumer.log = { [runtime] level, event, message in runtime.log(level: level, event: event, message) }
        if let resume {
            let start = settings.start
            consumer.startOffset = { [runtime] partition in
                // Re-read on every assignment: after a rebalance the table may
                // hold what another instance stored meanwhile.
                do throws(StageError) {
                    var all: [LakePositions] = []
                    for root in resume.lakeRoots {
                        all.append(try LakePositions.pipeline(lakeRoot: root, source: sourceID, sinkID: resume.sinkID))
                    }
                    if let stored = LakePositions.lowest(all).offsets[Int64(partition)] {
                        // -1: a sink may lack this partition's records: from the beginning, whatever --start says.
                        return stored < 0 ? -2 /* RD_KAFKA_OFFSET_BEGINNING */ : stored + 1
                    }
                } catch {
                    runtime.log(level: "error", event: "resume_failed", error.message)
                }
                return start == .earliest ? -2 /* RD_KAFKA_OFFSET_BEGINNING */ : -1 /* RD_KAFKA_OFFSET_END */
            }
        }
        consumer.beforeRevoke = { [unowned self] in
            do throws(StageError) {
                try self.emitMarks(sourceID: sourceID)
                try self.flush()
            } catch {
                if self.deferredError == nil { self.deferredError = error }
            }
        }
        defer { consumer.close() }
        var sinceStore = 0
        var lastActivity = monotonicSeconds()
        var everAssigned = false
        var errorsSeen = 0
        var rebalancesSeen = 0
        var positionBuffer: [UInt8] = []
        while !Signals.stopRequested, !reachedLimit {
            if let error = deferredError { throw error }
            switch consumer.poll(timeoutMillis: 100) {
            case .idle:
                try emitMarks(sourceID: sourceID)
                try flush()
                consumer.storeOffsets()
                consumer.commitStored()
                sinceStore = 0
                let now = monotonicSeconds()
                if !consumer.assignment.isEmpty || consumer.rebalances > 0 {
                    if !everAssigned { everAssigned = true; lastActivity = now }
                }
                // Idle means a quiet topic, not a struggling broker or a group
                // in motion: errors, outages and rebalances restart the idle
                // clock (newly assigned partitions may hold a backlog).
                if consumer.brokerErrors != errorsSeen || consumer.unreachableSince != nil || consumer.rebalances != rebalancesSeen {
                    errorsSeen = consumer.brokerErrors
                    rebalancesSeen = consumer.rebalances
                    lastActivity = now
                }
                if let down = consumer.unreachableSince, now - down >= options.maxRetrySeconds {
                    throw StageError(.unavailable,
                        "the Kafka brokers at \(consumer.bootstrap) stayed unreachable for \(Int(now - down)) s (--max-retry-seconds \(Int(options.maxRetrySeconds))); check the address, the network and the namespace, then restart")
                }
                if let limit = options.idleExitSeconds, everAssigned, now - lastActivity >= limit {
                    runtime.log(level: "info", event: "idle_exit", "no record for \(limit) s (--idle-exit-seconds); stopping")
                    return
                }
            case .record(let record):
                lastActivity = monotonicSeconds()
                everAssigned = true
                runtime.externalBytesIn += record.value.count
                let outcome = stamper.stamp(record.value, partition: Int64(record.partition), offset: record.offset,
                                            ingestMillis: record.timestampMillis)
                if let capture {
                    if case .emit = outcome {
                        try stamper.line.withRawBytes { (l) throws(StageError) in try capture.write(l) }
                    } else {
                        try capture.write(record.value)
                    }
                }
                try deliver(outcome, stamper: stamper, raw: record.value, input: sourceID, number: runtime.rowsIn + 1) {
                    positionBuffer = SourceStamper.positionJSON(sourceID: sourceID, partition: Int64(record.partition), offset: record.offset)
                    return positionBuffer
                }
                consumer.emitted(partition: record.partition, offset: record.offset)
                if options.marks { unmarked[record.partition] = record.offset }
                sinceStore += 1
                if sinceStore >= 4096 {
                    try emitMarks(sourceID: sourceID)
                    try flush()
                    consumer.storeOffsets()
                    sinceStore = 0
                }
            }
        }
        try emitMarks(sourceID: sourceID)
        try flush()
        consumer.storeOffsets()
    }

    /// Writes a position mark for each partition emitted since the last ones,
    /// after its records (on stdout and, when open, the DLQ stream): the sinks
    /// downstream record them, so their positions advance with the source even
    /// where they store nothing (docs/eh-source.md, "Position marks").
    private func emitMarks(sourceID: String) throws(StageError) {
        guard !unmarked.isEmpty else { return }
        for (partition, offset) in unmarked.sorted(by: { $0.key < $1.key }) {
            let mark = PositionMark(source: sourceID, partition: Int64(partition), offset: offset)
            runtime.countMark()
            try runtime.output.writeMark(mark.encoded())
            try runtime.markDLQ(mark)
        }
        unmarked.removeAll(keepingCapacity: true)
    }

    // MARK: NDJSON replay

    private func runReplay(paths: [String], follow: Bool) throws(StageError) {
        var sources: [InputSource] = []
        for path in paths { sources.append(try InputSource(path: path)) }  // a missing file fails before any output
        for source in sources {
            if Signals.stopRequested || reachedLimit { break }
            source.follow = follow
            source.followIdleSeconds = options.idleExitSeconds
            let sourceID = options.sourceID ?? "file:\(source.name)"
            var stamper = SourceStamper(sourceID: sourceID, existing: .keep)
            let reader = LineReader(source: source, maxLineLength: runtime.reader.maxLineLength)
            reader.beforeRead = { [unowned self] () throws(StageError) in try self.flush() }
            defer { runtime.externalBytesIn += reader.bytesRead }
            while !reachedLimit, let line = try reader.next() {
                try capture?.write(line.bytes)
                if line.tooLong {
                    runtime.countInput()
                    let position = SourceStamper.positionJSON(sourceID: sourceID, partition: 0, offset: Int64(line.number))
                    try position.withRawBytes { (s) throws(StageError) in
                        try runtime.reject(raw: line.bytes, length: line.length, tooLong: true, input: source.name,
                                           lineNumber: line.number, Rejection(.lineTooLong,
                            "line \(line.number) is \(line.length) bytes; the limit is \(reader.maxLineLength) (--max-line-bytes)"),
                                           source: s)
                    }
                    continue
                }
                let outcome = stamper.stamp(line.bytes, partition: 0, offset: Int64(line.number), ingestMillis: nil)
                try deliver(outcome, stamper: stamper, raw: line.bytes, input: source.name, number: line.number) {
                    SourceStamper.positionJSON(sourceID: sourceID, partition: 0, offset: Int64(line.number))
                }
            }
        }
    }

    // MARK: Generator

    private func runGenerator(_ config: GeneratorConfig) throws(StageError) {
        var generator: SampleGenerator
        do {
            generator = try SampleGenerator(config)
        } catch {
            throw StageError(.config, "--generate: \(error.description)")
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        while generator.linesEmitted < config.count, !Signals.stopRequested, !reachedLimit {
            buffer.removeAll(keepingCapacity: true)
            _ = generator.appendLine(to: &buffer)
            // The generator writes the line and its '\n'; its lines carry their own _source.
            let count = buffer.last == 0x0A ? buffer.count - 1 : buffer.count
            try buffer.withRawBytes { (b) throws(StageError) in
                let line = UnsafeRawBufferPointer(rebasing: b[0..<count])
                try capture?.write(line)
                try runtime.output.writeLine(line)
            }
            runtime.countInput()
            if let limiter { try limiter.pace(count: runtime.rowsIn) { () throws(StageError) in try runtime.flush() } }
        }
    }

    // MARK: Capture

    /// Capture replay: each file's events in order, the Body as the record,
    /// `SequenceNumber` as the offset, `EnqueuedTimeUtc` as ingest time. A
    /// block that cannot be decoded becomes one `corrupt_capture_block` DLQ
    /// record (counted as one input row) and the file goes on at the next
    /// block when its framing allows. No wall clock: replays are repeatable.
    private func runCapture(directory: String) throws(StageError) {
        let layout = try CaptureLayout.scan(directory: directory)
        var stampers: [String: SourceStamper] = [:]
        var badTimes = 0
        for file in layout.files {
            if Signals.stopRequested || reachedLimit { break }
            let sourceID = options.sourceID ?? file.sourceID
            var stamper = stampers[sourceID] ?? SourceStamper(sourceID: sourceID, existing: .renameToOrigin)
            defer { stampers[sourceID] = stamper }
            let avro = try AvroCaptureFile(path: file.path)
            if avro.isEmpty { continue }
            blocks: while !reachedLimit, !Signals.stopRequested {
                switch avro.nextBlock() {
                case .end:
                    break blocks
                case .corrupt(let message, let raw, let resumable):
                    runtime.countInput()
                    runtime.externalBytesIn += raw.count
                    let prefix = UnsafeRawBufferPointer(rebasing: raw[0..<min(raw.count, LineReader.prefixLimit)])
                    try runtime.reject(raw: prefix, length: raw.count, tooLong: raw.count > prefix.count, input: file.path,
                                       lineNumber: avro.blockIndex,
                                       Rejection(.corruptCaptureBlock, "\(file.path): \(message)\(resumable ? "" : "; the rest of the file cannot be framed and is skipped")"))
                    runtime.log(level: "error", event: "corrupt_capture_block", "\(file.path): \(message)")
                    if !resumable { break blocks }
                case .events(let events):
                    for event in events {
                        if reachedLimit { break }
                        var ingest: Int64?
                        if let text = event.enqueuedTime {
                            ingest = EnqueuedTime.parseMillis(text)
                            if ingest == nil {
                                badTimes += 1
                                if badTimes <= 3 { runtime.log(level: "warning", event: "bad_enqueued_time", "\(file.path): EnqueuedTimeUtc '\(text.prefix(64))' is not a time; ingest_time_utc left as sent") }
                            }
                        }
                        let body = event.body ?? UnsafeRawBufferPointer(start: nil, count: 0)
                        runtime.externalBytesIn += body.count
                        let outcome = stamper.stamp(body, partition: file.partition, offset: event.sequenceNumber, ingestMillis: ingest)
                        try capture?.write(body)
                        try deliver(outcome, stamper: stamper, raw: body, input: file.path, number: Int(event.sequenceNumber)) {
                            SourceStamper.positionJSON(sourceID: sourceID, partition: file.partition, offset: event.sequenceNumber)
                        }
                    }
                }
            }
        }
    }
}

/// Paces a stream to `perSecond` records per second against the monotonic
/// clock (never the output: a rate-limited replay is byte-identical to a fast one).
package struct RateLimiter {
    private let perSecond: Double
    private let start = monotonicSeconds()

    package init(perSecond: Double) { self.perSecond = perSecond }

    /// Sleeps until `count` records are due; flushes first, so what was sent
    /// is seen downstream while we wait.
    package func pace(count: Int, flush: () throws(StageError) -> Void) throws(StageError) {
        let due = start + Double(count) / perSecond
        let now = monotonicSeconds()
        guard due > now + 0.001 else { return }
        try flush()
        let wait = due - now
        usleep(useconds_t(min(wait, 1) * 1_000_000))
    }
}

extension SourceStamper {
    /// `{"source":"<id>","partition":P,"offset":O}` for a DLQ record's `source`.
    package static func positionJSON(sourceID: String, partition: Int64, offset: Int64) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("source"); w.string(sourceID)
        w.key("partition"); w.int(partition)
        w.key("offset"); w.int(offset)
        w.endObject()
        return w.bytes
    }
}

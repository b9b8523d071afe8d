/// What every filter shares: its input framing, its stdout and DLQ writers,
/// the row counters behind the conservation law, and the summary line.
///
/// The DLQ stream defaults to `./<stage>.dlq.ndjson` (created on the first
/// reject, appended to, and named in the summary) so that a user running a
/// filter by hand never loses a reject and can see where it went; `--dlq`
/// names a file or a FIFO, opened at start so a FIFO reader sees EOF when we exit.
package final class StageRuntime {
    package struct Options {
        package var stage: String
        package var input = "-"
        /// Further inputs (dlq-sink reads several streams at once).
        package var moreInputs: [String] = []
        package var dlqPath: String?
        package var maxLineBytes = 1 << 20
        package var lineBuffered = false
        /// What the summary names as the input, when it is not a path
        /// (eh-source: a Kafka topic, a Capture directory, several files).
        package var summaryInput: String?
        /// Which instance of the stage writes the DLQ stream, when several run
        /// (silver-validate per tenant on one shared stream): written into DLQ
        /// records and marks so dlq-sink keeps their positions apart.
        package var dlqInstance: String?

        package init(stage: String) { self.stage = stage }

        package var defaultDLQPath: String { "\(stage).dlq.ndjson" }
    }

    package let options: Options
    /// The input, for single-input filters.
    package var reader: LineReader { singleReader! }
    private let singleReader: LineReader?
    /// The inputs, when several are given.
    package let multiReader: MultiInputReader?
    package let output: OutputWriter
    private var dlq: OutputWriter?
    package var dlqPath: String { options.dlqPath ?? options.defaultDLQPath }
    private var record = JSONWriter(capacity: 8192)
    private let startedAt = monotonicSeconds()

    package private(set) var rowsIn = 0
    package private(set) var rowsDLQ = 0
    package private(set) var marks = 0
    /// Bytes read by inputs the stage opens itself (eh-source), for the summary.
    package var externalBytesIn = 0

    package init(options: Options) throws(StageError) {
        self.options = options
        if options.moreInputs.isEmpty {
            singleReader = LineReader(source: try InputSource(path: options.input), maxLineLength: options.maxLineBytes)
            multiReader = nil
        } else {
            singleReader = nil
            multiReader = try MultiInputReader(paths: [options.input] + options.moreInputs, maxLineLength: options.maxLineBytes)
        }
        output = OutputWriter(fd: 1, name: "stdout", lineBuffered: options.lineBuffered)
        if let path = options.dlqPath {
            dlq = try OutputWriter(appendingTo: path, lineBuffered: options.lineBuffered)
        }
        singleReader?.beforeRead = { [unowned self] () throws(StageError) in try self.flush() }
    }

    /// Copies a position mark to the DLQ stream, stamped with this stage, once
    /// every reject of the records before it has been written there. Only to
    /// an open stream: a default DLQ file is not created for marks alone.
    ///
    /// The DLQ is flushed around the mark so that lines still pending in its
    /// buffer are always rejects: the summary can then count exactly the
    /// rejects a failed write did not deliver.
    package func markDLQ(_ mark: PositionMark) throws(StageError) {
        guard let dlq else { return }
        try dlq.flush()
        try dlq.writeLine(mark.encoded(stage: options.dlqInstance ?? options.stage))
        try dlq.flush()
        marksDeliveredToDLQ += 1
    }

    /// Marks handed to the kernel on the DLQ stream (each flushed on its own,
    /// so the DLQ's delivered lines are these plus the delivered rejects).
    private var marksDeliveredToDLQ = 0

    /// Rejects written to the DLQ stream and handed to the kernel.
    private var rowsDLQDelivered: Int {
        max(0, (dlq?.deliveredLines ?? 0) - marksDeliveredToDLQ)
    }

    /// Counts one input record (marks are not records).
    @inline(__always) package func countInput(_ count: Int = 1) { rowsIn += count }
    @inline(__always) package func countMark() { marks += 1 }

    /// Writes a DLQ record for `line`.
    package func reject(_ line: Line, _ rejection: Rejection, source: UnsafeRawBufferPointer? = nil,
                        tenantID: String? = nil, eventType: String? = nil) throws(StageError) {
        try reject(raw: line.bytes, length: line.length, tooLong: line.tooLong, input: options.input, lineNumber: line.number,
                   rejection, source: source, tenantID: tenantID, eventType: eventType)
    }

    package func reject(raw: UnsafeRawBufferPointer, length: Int, tooLong: Bool, input: String, lineNumber: Int,
                        _ rejection: Rejection, source: UnsafeRawBufferPointer? = nil,
                        tenantID: String? = nil, eventType: String? = nil) throws(StageError) {
        var entry = DLQRecord(
            stage: options.stage, rejection: rejection, raw: raw, rawLength: length,
            rawTruncated: tooLong, input: input, lineNumber: lineNumber, source: source,
            tenantID: tenantID, eventType: eventType, timeMicros: wallClockMicros())
        entry.instance = options.dlqInstance
        record.reset()
        entry.encode(into: &record)
        if dlq == nil { dlq = try OutputWriter(appendingTo: dlqPath, lineBuffered: options.lineBuffered) }
        try dlq!.writeLine(record.bytes)
        rowsDLQ += 1
    }

    /// Hands everything buffered to the kernel: stdout and the DLQ.
    package func flush() throws(StageError) {
        try output.flush()
        try dlq?.flush()
    }

    /// Prints the one-line JSON summary on stderr. `in = out + dlq` holds for
    /// a completed run; after a broken pipe the rows not delivered are
    /// reported as `rows_undelivered` rather than counted as output.
    package func emitSummary(status: String, error: String? = nil) {
        let abandoned = singleReader?.abandonedBytes ?? 0
        if abandoned > 0 {
            log(level: "warn", event: "stopped_mid_line",
                "stopped with \(abandoned) byte(s) of an incomplete line read; it is not a record and was neither processed nor rejected (a source that resumes from the sinks' positions, such as eh-source --resume-from-lake, replays it)")
        }
        let seconds = monotonicSeconds() - startedAt
        var counts = SummaryCounts()
        counts.rowsIn = rowsIn
        counts.rowsOut = max(0, output.deliveredLines - output.deliveredMarks)
        // A reject whose DLQ write failed is not delivered either: never
        // counted as handled, so in = out + dlq + undelivered stays true.
        counts.rowsDLQ = rowsDLQDelivered
        counts.marks = marks
        counts.partialLineBytes = abandoned
        counts.bytesIn = (singleReader?.bytesRead ?? multiReader?.bytesRead ?? 0) + externalBytesIn
        counts.bytesOut = output.bytesWritten
        counts.seconds = seconds
        Self.writeSummary(stage: options.stage, status: status,
                          input: options.summaryInput ?? ([options.input] + options.moreInputs).joined(separator: ","),
                          counts, dlq: rowsDLQ > 0 || options.dlqPath != nil ? dlqPath : "", error: error)
    }

    /// The summary of a stage that could not start (missing input, a DLQ
    /// that cannot be created, a configuration error) or was stopped while
    /// opening a FIFO: nothing was read, and a supervisor or a script still
    /// finds the one summary line it expects.
    package static func emitNotStartedSummary(stage: String, input: String, error: String? = nil, status: String = "failed") {
        writeSummary(stage: stage, status: status, input: input, SummaryCounts(), dlq: "", error: error)
    }

    /// What a summary line counts.
    private struct SummaryCounts {
        var rowsIn = 0, rowsOut = 0, rowsDLQ = 0, marks = 0, partialLineBytes = 0, bytesIn = 0, bytesOut = 0
        var seconds = 0.0
    }

    /// The one place the summary line's fields are written (docs/cli.md, "Diagnostics").
    private static func writeSummary(stage: String, status: String, input: String, _ c: SummaryCounts, dlq: String, error: String?) {
        var w = JSONWriter.diagnostic(level: status == "ok" || status == "stopped" ? "info" : "error", stage: stage, event: "summary")
        w.key("status"); w.string(status)
        w.key("input"); w.string(input)
        w.key("rows_in"); w.int(c.rowsIn)
        w.key("rows_out"); w.int(c.rowsOut)
        w.key("rows_dlq"); w.int(c.rowsDLQ)
        let undelivered = c.rowsIn - c.rowsOut - c.rowsDLQ
        if undelivered != 0 { w.key("rows_undelivered"); w.int(undelivered) }
        w.key("marks"); w.int(c.marks)
        if c.partialLineBytes > 0 { w.key("partial_line_bytes"); w.int(c.partialLineBytes) }
        w.key("bytes_in"); w.int(c.bytesIn)
        w.key("bytes_out"); w.int(c.bytesOut)
        w.key("seconds"); w.double((c.seconds * 1000).rounded() / 1000)
        w.key("rows_per_second"); w.int(c.seconds > 0 ? Int(Double(c.rowsIn) / c.seconds) : 0)
        w.key("dlq"); w.string(dlq)
        if let error { w.key("error"); w.string(error) }
        w.endObject()
        writeDiagnostic(w.bytes)
    }

    /// Logs one diagnostic event on stderr.
    package func log(level: String, event: String, _ message: String) {
        var w = JSONWriter.diagnostic(level: level, stage: options.stage, event: event)
        w.key("msg"); w.string(message)
        w.endObject()
        writeDiagnostic(w.bytes)
    }
}

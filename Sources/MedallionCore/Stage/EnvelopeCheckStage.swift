import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `envelope-check`: the first gate. Valid envelopes pass through byte for
/// byte (only a trailing `\r` is dropped); everything else becomes a DLQ
/// record with a reason; position marks are forwarded untouched and
/// copied to the DLQ stream (stamped with the stage) so the DLQ sink advances too.
///
/// Lines are taken in batches of what the input has ready. A big batch is
/// checked on several threads (each with its own checker, over its own slice
/// of the batch); then one thread writes the results in input order, so the
/// output, the DLQ and every counter are exactly what a sequential run gives.
/// Checking is most of the work and needs no shared state, so on a 2-core
/// machine this is what keeps the gate well ahead of its upstream.
package enum EnvelopeCheckStage {
    /// Batches smaller than this are checked on the calling thread: handing
    /// work to another thread costs more than a few lines take.
    static let parallelThreshold = 256

    package static func run(_ runtime: StageRuntime, policy: EnvelopePolicy, threads: Int = EnvelopeCheckStage.defaultThreads) throws(StageError) {
        let reader = runtime.reader
        let output = runtime.output
        let lanes = (0..<max(1, threads)).map { _ in CheckLane(policy: policy) }
        let batch = LineBatch()
        let helpers = HelperThreads(count: lanes.count - 1)
        defer { helpers.stop() }
        while try reader.nextLines(into: &batch.lines, max: 16_384) {
            let count = batch.lines.count
            batch.prepare()
            if lanes.count > 1, count >= parallelThreshold {
                // The calling thread also reads the input and writes the results, so
                // lane 0 (which it checks itself) takes a smaller slice.
                let bounds = Self.slices(count, lanes: lanes.count)
                helpers.run { i in lanes[i + 1].check(batch, bounds[i + 1]..<bounds[i + 2]) }
                lanes[0].check(batch, bounds[0]..<bounds[1])
                helpers.wait()
            } else {
                lanes[0].check(batch, 0..<count)
            }
            // Lines that pass are written straight from the input buffer: a run of
            // neighbouring lines (each still followed by its own `\n`) is one write.
            var run = PassRun()
            for i in 0..<count {
                let line = batch.lines[i]
                switch batch.verdicts[i] {
                case .valid:
                    runtime.countInput()
                    try run.pass(line, to: output)
                case .mark:
                    runtime.countMark()
                    try run.pass(line, to: output, mark: true)
                    if let mark = PositionMark.parse(line.bytes) { try runtime.markDLQ(mark) }
                case .tooLong:
                    runtime.countInput()
                    try runtime.reject(line, Rejection(.lineTooLong,
                        "line \(line.number) is \(line.length) bytes; the limit is \(reader.maxLineLength) (--max-line-bytes)"))
                case .rejected(let detail):
                    runtime.countInput()
                    let source = detail.sourceRange.map { UnsafeRawBufferPointer(rebasing: line.bytes[$0]) }
                    try runtime.reject(line, detail.rejection, source: source, tenantID: detail.tenantID, eventType: detail.eventType)
                }
            }
            try run.end(output)
        }
        try runtime.flush()
    }

    /// Slice boundaries: lane 0 gets 70% of an equal share, the others split the rest.
    static func slices(_ count: Int, lanes: Int) -> [Int] {
        let first = count * 7 / (10 * lanes)
        let rest = count - first
        var bounds = [0, first]
        for i in 1..<lanes { bounds.append(first + rest * i / (lanes - 1)) }
        return bounds
    }

    /// One checking thread per core, at most four (beyond that the pipe feeding
    /// the stage is the limit).
    package static var defaultThreads: Int { min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) }
}

/// Consecutive passing lines, as one span of the input buffer.
private struct PassRun {
    private var start: UnsafeRawPointer?
    private var end: UnsafeRawPointer?
    private var lines = 0
    private var marks = 0

    /// Adds a line that passes, byte for byte: to the span when it directly
    /// follows it with its own `\n` (no `\r` dropped), else on its own.
    mutating func pass(_ line: Line, to output: OutputWriter, mark: Bool = false) throws(StageError) {
        let base = line.bytes.baseAddress!
        let length = line.bytes.count
        guard line.terminated, !line.tooLong, base.load(fromByteOffset: length, as: UInt8.self) == 0x0A else {
            try end(output)
            if mark { try output.writeMark(Array(line.bytes)) } else { try output.writeLine(line.bytes) }
            return
        }
        if lines > 0, end == base {
            end = base + length + 1
            lines += 1
            if mark { marks += 1 }
            return
        }
        try self.end(output)
        start = base
        end = base + length + 1
        lines = 1
        marks = mark ? 1 : 0
    }

    /// Writes the span (before the input buffer is reused).
    mutating func end(_ output: OutputWriter) throws(StageError) {
        guard lines > 0, let start, let end else { return }
        try output.writeRaw(UnsafeRawBufferPointer(start: start, count: start.distance(to: end)), lines: lines, marks: marks)
        lines = 0
        marks = 0
    }
}

/// Long-lived helper threads for data-parallel steps: `run` hands each one
/// its index, `wait` returns when all are done. Threads are started once (a
/// thread per batch would cost more than a batch takes to check).
final class HelperThreads: @unchecked Sendable {
    private let count: Int
    private let start: [DispatchSemaphore]
    private let done = DispatchSemaphore(value: 0)
    private var work: (@Sendable (Int) -> Void)?
    private var stopping = false

    init(count: Int) {
        self.count = count
        start = (0..<count).map { _ in DispatchSemaphore(value: 0) }
        // Stop signals must reach the main thread, which may be blocked in read()
        // on an idle pipe and has to be woken by them: the helpers are created
        // with every signal blocked (a new thread inherits its creator's mask).
        var all = sigset_t(), previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        for i in 0..<count {
            let thread = Thread { [self] in self.loop(i) }
            thread.stackSize = 1 << 20
            thread.start()
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    private func loop(_ index: Int) {
        while true {
            start[index].wait()
            if stopping { return }
            work?(index)
            done.signal()
        }
    }

    /// Starts `body(i)` on helper `i`, for every helper.
    func run(_ body: @escaping @Sendable (Int) -> Void) {
        work = body
        for s in start { s.signal() }
    }

    func wait() {
        for _ in 0..<count { done.wait() }
        work = nil
    }

    func stop() {
        stopping = true
        for s in start { s.signal() }
    }
}

/// What checking one line found.
enum LineVerdict {
    case valid
    case mark
    case tooLong
    case rejected(RejectDetail)
}

/// A rejected line's reason and what the DLQ record keeps of it (computed by
/// the checking thread, while the line's checker state is at hand).
final class RejectDetail {
    let rejection: Rejection
    let sourceRange: Range<Int>?
    let tenantID: String?
    let eventType: String?

    init(rejection: Rejection, sourceRange: Range<Int>?, tenantID: String?, eventType: String?) {
        self.rejection = rejection
        self.sourceRange = sourceRange
        self.tenantID = tenantID
        self.eventType = eventType
    }
}

/// A batch of lines (views into the reader's buffer) and their verdicts.
/// Shared by the checking threads, each writing only its own slice of
/// `verdicts`, and read by the writing thread after they are all done.
final class LineBatch: @unchecked Sendable {
    var lines: [Line] = []
    private(set) var verdicts: UnsafeMutableBufferPointer<LineVerdict> = .allocate(capacity: 0)

    /// Makes room for one verdict per line (before the threads start).
    func prepare() {
        guard verdicts.count < lines.count else { return }
        verdicts.deinitialize()
        verdicts.deallocate()
        verdicts = .allocate(capacity: max(lines.count, 1024))
        verdicts.initialize(repeating: .valid)
    }

    func set(_ i: Int, _ verdict: LineVerdict) { verdicts[i] = verdict }

    deinit {
        verdicts.deinitialize()
        verdicts.deallocate()
    }
}

/// One thread's checker; used by one thread at a time.
final class CheckLane: @unchecked Sendable {
    private var checker: EnvelopeChecker

    init(policy: EnvelopePolicy) { checker = EnvelopeChecker(policy: policy) }

    func check(_ batch: LineBatch, _ range: Range<Int>) {
        for i in range {
            let line = batch.lines[i]
            if line.tooLong {
                batch.set(i, .tooLong)
                continue
            }
            switch checker.check(line.bytes) {
            case .valid: batch.set(i, .valid)
            case .mark: batch.set(i, .mark)
            case .rejected(let rejection):
                batch.set(i, .rejected(RejectDetail(
                    rejection: rejection, sourceRange: checker.sourceRange,
                    tenantID: checker.stringValue(.tenantID, in: line.bytes),
                    eventType: checker.stringValue(.eventType, in: line.bytes))))
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One framed input line. `bytes` points into the reader's buffer and is valid
/// only until the next call to `LineReader.next()`.
package struct Line {
    /// The line without its `\n` (and without a `\r` before it). For a line
    /// over the length limit: only its first `LineReader.prefixLimit` bytes.
    package var bytes: UnsafeRawBufferPointer
    /// 1-based line number in the input.
    package var number: Int
    /// The full length in bytes, even when `bytes` holds only a prefix.
    package var length: Int
    /// The line was longer than the limit and `bytes` is only a prefix.
    package var tooLong: Bool
    /// The line ended with `\n` (false for a last line cut off at EOF).
    package var terminated: Bool
}

/// NDJSON framing on a raw file descriptor.
///
/// Reads in large blocks into one buffer and hands out lines as views into it:
/// no copy and no allocation per line. A partial line at the end of the buffer
/// is moved to the front before the next read and never rescanned. A line
/// longer than `maxLineLength` does not grow the buffer: its first
/// `prefixLimit` bytes are kept for the DLQ record, the rest is counted and
/// skipped, and the stream goes on. Memory is therefore bounded by
/// `maxLineLength + readSize`, whatever the input.
package final class LineReader {
    package static let prefixLimit = 4096

    package let source: InputSource
    package let maxLineLength: Int
    private let readSize: Int
    private let capacity: Int
    private let buffer: UnsafeMutableRawPointer
    private var start = 0
    private var end = 0
    /// Where the search for the next `\n` resumes (avoids rescanning).
    private var scanFrom = 0
    private var ended = false
    private var lineNumber = 0
    /// Holds the kept prefix of an over-long line (the main buffer is reused).
    private let prefix: UnsafeMutableRawPointer
    private var prefixCount = 0
    /// Called before every read that may block, so a stage can flush its
    /// output first: records never sit in our buffer while we wait for input.
    package var beforeRead: (() throws(StageError) -> Void)?
    /// Total bytes read from the source, including framing.
    package private(set) var bytesRead = 0

    package init(source: InputSource, maxLineLength: Int = 1 << 20, readSize: Int = 1 << 20) {
        self.source = source
        self.maxLineLength = max(1, maxLineLength)
        self.readSize = max(4096, readSize)
        capacity = self.maxLineLength + self.readSize + 1
        buffer = .allocate(byteCount: capacity, alignment: 64)
        prefix = .allocate(byteCount: Self.prefixLimit, alignment: 16)
    }

    deinit {
        buffer.deallocate()
        prefix.deallocate()
    }

    private func keepPrefix(from offset: Int, count: Int) {
        prefixCount = min(Self.prefixLimit, count)
        prefix.copyMemory(from: buffer + offset, byteCount: prefixCount)
    }

    private var keptPrefix: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: prefix, count: prefixCount) }

    /// The next line, or `nil` at the end of the input.
    package func next() throws(StageError) -> Line? {
        while true {
            if let newline = findNewline() {
                let lineStart = start
                start = newline + 1
                scanFrom = start
                return makeLine(from: lineStart, to: newline, terminated: true)
            }
            scanFrom = end
            if end - start > maxLineLength {
                return try skipOversizedLine()
            }
            if ended {
                guard start < end else { return nil }
                let lineStart = start
                start = end
                return makeLine(from: lineStart, to: end, terminated: false)
            }
            try fill()
        }
    }

    /// The complete lines available now, at least one unless the input has
    /// ended (then false). While more input is ready without waiting and the
    /// buffer has room, it is read first, so a batch is big enough to check
    /// on several threads; nothing ever waits for input while lines are in
    /// hand. The lines are views valid until the next call.
    package func nextLines(into lines: inout [Line], max: Int, readAhead: Int = 1 << 19) throws(StageError) -> Bool {
        lines.removeAll(keepingCapacity: true)
        while !ended, end - start < readAhead, capacity - (end - start) >= readSize, source.hasDataReady {
            try fill()
        }
        while lines.count < max, let newline = findNewline() {
            let lineStart = start
            start = newline + 1
            scanFrom = start
            let line = makeLine(from: lineStart, to: newline, terminated: true)
            lines.append(line)
            if line.tooLong { break }
        }
        if !lines.isEmpty { return true }
        guard let line = try next() else { return false }
        lines.append(line)
        return true
    }

    private func findNewline() -> Int? {
        guard scanFrom < end, let hit = memchr(buffer + scanFrom, 0x0A, end - scanFrom) else { return nil }
        return buffer.distance(to: hit)
    }

    private func makeLine(from lineStart: Int, to lineEnd: Int, terminated: Bool) -> Line {
        lineNumber += 1
        var stop = lineEnd
        if stop > lineStart, buffer.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D { stop -= 1 }
        let length = stop - lineStart
        if length > maxLineLength {
            keepPrefix(from: lineStart, count: length)
            return Line(bytes: keptPrefix, number: lineNumber, length: length, tooLong: true, terminated: terminated)
        }
        return Line(bytes: UnsafeRawBufferPointer(start: buffer + lineStart, count: length),
                    number: lineNumber, length: length, tooLong: false, terminated: terminated)
    }

    /// Keeps a prefix of an over-long line and discards the rest up to its `\n`.
    private func skipOversizedLine() throws(StageError) -> Line? {
        lineNumber += 1
        keepPrefix(from: start, count: end - start)
        var length = end - start
        start = 0
        end = 0
        scanFrom = 0
        while true {
            if ended {
                if Signals.stopRequested {
                    // Stopped before the end of this line: like a short fragment, it is not
                    // a record yet (the source replays it); its size is reported.
                    abandonedBytes += length
                    lineNumber -= 1
                    return nil
                }
                return Line(bytes: keptPrefix, number: lineNumber, length: length, tooLong: true, terminated: false)
            }
            try fill()
            if let newline = findNewline() {
                length += newline - start
                start = newline + 1
                scanFrom = start
                return Line(bytes: keptPrefix, number: lineNumber, length: length, tooLong: true, terminated: true)
            }
            length += end - start
            start = 0
            end = 0
            scanFrom = 0
        }
    }

    /// Bytes of an incomplete line left unprocessed because a stop signal came
    /// before its newline (0 otherwise).
    package private(set) var abandonedBytes = 0

    /// Moves the partial line to the front and reads one more block.
    private func fill() throws(StageError) {
        if start > 0 {
            let pending = end - start
            if pending > 0 { memmove(buffer, buffer + start, pending) }
            scanFrom -= start
            end = pending
            start = 0
        }
        try beforeRead?()
        let room = capacity - end
        let count = try source.read(into: UnsafeMutableRawBufferPointer(start: buffer + end, count: min(room, readSize)))
        if count == 0 {
            ended = true
            // Stopped by a signal with half a line in hand: its rest is still in the
            // pipe (or never came). It is not a record, so it is neither processed nor
            // rejected; the source replays it on restart. The summary reports it.
            // Complete lines still in the buffer (read ahead) are handed out as
            // usual; only what follows the last newline is set aside.
            if Signals.stopRequested, end > start {
                var keep = end
                while keep > start, buffer.load(fromByteOffset: keep - 1, as: UInt8.self) != 0x0A { keep -= 1 }
                abandonedBytes += end - keep
                end = keep
                if scanFrom > end { scanFrom = end }
            }
        } else {
            end += count
            bytesRead += count
        }
    }
}

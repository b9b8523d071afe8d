import Foundation

/// Reads several NDJSON inputs at once (one thread each) into one bounded queue.
///
/// `dlq-sink` reads one DLQ stream per stage — usually FIFOs — and must never
/// wait on one while another fills up and blocks its writer. Each input gets a
/// thread with its own `LineReader`; lines are copied into a queue of at most
/// `capacity` items (readers wait when it is full, so memory stays bounded).
/// DLQ traffic is low, so a copy per line is fine here; the hot filters keep
/// the zero-copy single-input path.
package final class MultiInputReader: @unchecked Sendable {
    package struct Item: Sendable {
        package var bytes: [UInt8]
        package var input: String
        package var number: Int
        package var length: Int
        package var tooLong: Bool
    }

    private let condition = NSCondition()
    private var queue: [Item] = []
    private var head = 0
    private var running = 0
    private var failure: StageError?
    private let capacity: Int
    private var sources: [InputSource]
    private let maxLineLength: Int
    /// Bytes read by all inputs (guarded by `condition`).
    private var bytes = 0

    /// Opens every input first, so a missing one fails before anything is read.
    package init(paths: [String], maxLineLength: Int, capacity: Int = 8192) throws(StageError) {
        sources = []
        for path in paths { sources.append(try InputSource(path: path)) }
        self.maxLineLength = maxLineLength
        self.capacity = capacity
    }

    package func start() {
        condition.lock()
        running = sources.count
        condition.unlock()
        for source in sources {
            let thread = Thread { [self] in self.pump(source) }
            thread.start()
        }
        sources = []
    }

    private func pump(_ source: InputSource) {
        let reader = LineReader(source: source, maxLineLength: maxLineLength, readSize: 1 << 16)
        var lastCount = 0
        do {
            while let line = try reader.next() {
                let item = Item(bytes: Array(line.bytes), input: source.name, number: line.number,
                                length: line.length, tooLong: line.tooLong)
                condition.lock()
                while queue.count - head >= capacity { condition.wait() }
                queue.append(item)
                bytes += reader.bytesRead - lastCount
                lastCount = reader.bytesRead
                condition.broadcast()
                condition.unlock()
            }
        } catch {
            condition.lock()
            if failure == nil { failure = error }
            condition.unlock()
        }
        condition.lock()
        bytes += reader.bytesRead - lastCount
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    package enum Next {
        case item(Item)
        /// Nothing arrived within the timeout.
        case idle
        /// Every input has ended.
        case end
    }

    /// The next line from any input, waiting at most `timeout` seconds.
    package func next(timeout: Double) throws(StageError) -> Next {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while head == queue.count {
            if let failure { throw failure }
            if running == 0 { return .end }
            if !condition.wait(until: deadline) { return .idle }
        }
        let item = queue[head]
        head += 1
        if head > 4096, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return .item(item)
    }

    package var bytesRead: Int {
        condition.lock()
        defer { condition.unlock() }
        return bytes
    }
}

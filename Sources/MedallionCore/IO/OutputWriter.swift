#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered, checked writer on a raw file descriptor.
///
/// `print` on Linux buffers fully on a pipe and, with SIGPIPE ignored, drops
/// `EPIPE` silently; this writer instead keeps its own buffer, writes with
/// `write(2)` until every byte is out, and turns `EPIPE` into
/// `StageError(.brokenPipe)` so a stage can stop without claiming that
/// undelivered records were delivered. Lines are only counted as delivered
/// once `flush()` has handed them to the kernel.
package final class OutputWriter {
    package let name: String
    private let fd: Int32
    private let ownsDescriptor: Bool
    private let capacity: Int
    private let buffer: UnsafeMutableRawPointer
    private var count = 0
    /// Flush after every line (`--line-buffered`), for interactive use.
    package var lineBuffered: Bool
    package private(set) var bytesWritten = 0
    /// Lines appended since the last successful flush.
    package private(set) var pendingLines = 0
    /// Lines handed to the kernel.
    package private(set) var deliveredLines = 0
    /// Of those, position marks (control lines, not records), so a summary
    /// counts delivered records exactly even when a write fails.
    package private(set) var deliveredMarks = 0
    private var pendingMarks = 0

    package init(fd: Int32, name: String, capacity: Int = 1 << 18, lineBuffered: Bool = false, ownsDescriptor: Bool = false) {
        self.fd = fd
        self.name = name
        self.capacity = max(capacity, 4096)
        self.lineBuffered = lineBuffered
        self.ownsDescriptor = ownsDescriptor
        buffer = .allocate(byteCount: self.capacity, alignment: 64)
        growPipeBuffer(fd)
    }

    /// Opens `path` for appending (creating it with mode 0644); a FIFO is
    /// opened for writing, which waits until a reader opens its end.
    package convenience init(appendingTo path: String, lineBuffered: Bool = false) throws(StageError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            throw StageError(.cantCreate, "cannot open '\(path)' for writing: \(errnoText(code))")
        }
        self.init(fd: fd, name: path, lineBuffered: lineBuffered, ownsDescriptor: true)
    }

    deinit {
        buffer.deallocate()
        if ownsDescriptor { close(fd) }
    }

    /// Appends one line and its `\n`.
    @inline(__always)
    package func writeLine(_ bytes: UnsafeRawBufferPointer) throws(StageError) {
        if count + bytes.count + 1 > capacity {
            try flush()
            if bytes.count + 1 > capacity {
                // Larger than the buffer: write it straight through, then the newline.
                try writeAll(bytes)
                buffer.storeBytes(of: 0x0A, as: UInt8.self)
                count = 1
                pendingLines += 1
                try flush()
                return
            }
        }
        if bytes.count > 0 {
            (buffer + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        count += bytes.count
        buffer.storeBytes(of: 0x0A, toByteOffset: count, as: UInt8.self)
        count += 1
        pendingLines += 1
        if lineBuffered { try flush() }
    }

    /// Appends a block of complete lines (each ending in `\n`) at once, for
    /// sinks that forward a committed batch.
    package func writeRaw(_ bytes: UnsafeRawBufferPointer, lines: Int, marks: Int = 0) throws(StageError) {
        try flush()
        try writeAll(bytes)
        pendingLines += lines
        pendingMarks += marks
        try flush()
    }

    /// Appends one position mark line (counted apart from records).
    package func writeMark(_ bytes: [UInt8]) throws(StageError) {
        try writeLine(bytes)
        pendingMarks += 1
        if lineBuffered { try flush() }
    }

    package func writeLine(_ bytes: [UInt8]) throws(StageError) {
        try bytes.withRawBytes { (raw) throws(StageError) in try writeLine(raw) }
    }

    /// Hands everything buffered to the kernel.
    package func flush() throws(StageError) {
        if count > 0 {
            try writeAll(UnsafeRawBufferPointer(start: buffer, count: count))
            count = 0
        }
        deliveredLines += pendingLines
        pendingLines = 0
        deliveredMarks += pendingMarks
        pendingMarks = 0
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(StageError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written >= 0 {
                offset += written
                bytesWritten += written
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EPIPE {
                throw StageError(.brokenPipe, "the reader of '\(name)' closed the pipe (EPIPE); stopping")
            }
            throw StageError(.io, "writing '\(name)' failed: \(errnoText(code))")
        }
    }
}

/// Writes one diagnostic line (already JSON) to stderr, unbuffered, so logs
/// from several stages interleave by whole lines.
package func writeDiagnostic(_ json: [UInt8]) {
    var line = json
    line.append(0x0A)
    line.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = write(2, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return  // nowhere left to report a failing stderr
            }
            offset += written
        }
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for bodies with a typed `StageError` throw (the
    /// standard one only rethrows untyped errors).
    package func withRawBytes<R>(_ body: (UnsafeRawBufferPointer) throws(StageError) -> R) throws(StageError) -> R {
        let result: Result<R, StageError> = withUnsafeBytes { raw in
            Result { () throws(StageError) -> R in try body(raw) }
        }
        return try result.get()
    }
}

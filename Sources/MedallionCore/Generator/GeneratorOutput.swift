#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why writing generated lines failed. `errno` is kept so the CLI can map
/// EPIPE and friends to exit code 74 (I/O error) as the stage contract says.
package enum GeneratorWriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `open(2)` of the output path failed.
    case open(path: String, errno: Int32)
    /// `write(2)` failed (EPIPE when the reader went away).
    case write(errno: Int32)

    package var description: String {
        switch self {
        case let .open(path, e): "cannot open \(path): \(String(cString: strerror(e)))"
        case let .write(e): "write failed: \(String(cString: strerror(e)))"
        }
    }
}

extension SampleGenerator {
    /// Writes `lines` lines (default: the rest of `config.count`) to `fd` in
    /// chunks of about `chunkBytes`.
    ///
    /// One large `write(2)` per chunk instead of one per line: a syscall per
    /// 460-byte line would cost more than generating it. The buffer is reused,
    /// so memory stays at about one chunk (plus one oversized line, if any).
    /// The descriptor is not closed. A caller writing to a pipe should ignore
    /// SIGPIPE so that a closed reader surfaces here as EPIPE.
    package mutating func write(
        to fd: Int32, lines: Int? = nil, chunkBytes: Int = 1 << 20
    ) throws(GeneratorWriteError) {
        var remaining = lines ?? max(config.count - linesEmitted, 0)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkBytes + 64 * 1024)
        while remaining > 0 {
            while remaining > 0 && buffer.count < chunkBytes {
                appendLine(to: &buffer)
                remaining -= 1
            }
            try Self.writeAll(buffer, to: fd)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    /// Creates or truncates `path` (mode 0644) and writes `lines` lines
    /// (default: the rest of `config.count`) to it.
    package mutating func write(
        toPath path: String, lines: Int? = nil, chunkBytes: Int = 1 << 20
    ) throws(GeneratorWriteError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .open(path: path, errno: errno) }
        defer { close(fd) }
        try write(to: fd, lines: lines, chunkBytes: chunkBytes)
    }

    /// `write(2)` until every byte is out, retrying EINTR and short writes.
    static func writeAll(_ bytes: [UInt8], to fd: Int32) throws(GeneratorWriteError) {
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if failure != 0 { throw .write(errno: failure) }
    }
}

/// `write(2)` under a name that the `write(to:)` methods above do not shadow.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}

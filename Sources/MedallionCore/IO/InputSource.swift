#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZstd

/// Where a stage's bytes come from: a file descriptor (stdin, a file, a FIFO),
/// optionally through a zstd decompressor for `*.zst` captures.
/// Used by one thread at a time; `MultiInputReader` hands each source to its own thread.
package final class InputSource: @unchecked Sendable {
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// A display name for messages: the path, or `-` for stdin.
    package let name: String
    private let zstd: ZstdReader?
    /// Called when no input arrived for `idleMillis`, so a sink can commit a
    /// partial batch on a quiet stream (`--flush-interval`).
    package var onIdle: (() throws(StageError) -> Void)?
    package var idleMillis: Int32 = 1000
    /// Tail a growing file (`eh-source --follow`): at its end, wait for more
    /// instead of ending, until a stop signal or `followIdleSeconds` without data.
    package var follow = false
    package var followIdleSeconds: Double?
    private var followIdleSince: Double?

    /// Opens `path` (`-` = stdin). A path ending in `.zst` is decompressed.
    /// - Throws: `StageError(.noInput)` naming the path when it cannot be opened.
    package init(path: String) throws(StageError) {
        name = path
        if path == "-" {
            fd = 0
            ownsDescriptor = false
        } else {
            let opened = open(path, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else {
                let code = errno
                throw StageError(.noInput, "cannot open input '\(path)': \(errnoText(code))")
            }
            var info = stat()
            if fstat(opened, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                close(opened)
                throw StageError(.noInput, "input '\(path)' is a directory; give a file, a FIFO or '-' for stdin")
            }
            fd = opened
            ownsDescriptor = true
        }
        zstd = path.hasSuffix(".zst") ? ZstdReader() : nil
        growPipeBuffer(fd)
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }

    /// Whether a read would return at once: a regular file always, a pipe or
    /// FIFO when bytes are waiting. Lets a reader gather a bigger batch
    /// without ever waiting for input it could already be processing.
    package var hasDataReady: Bool {
        if Signals.stopRequested || follow { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0 && pfd.revents & Int16(POLLIN) != 0
    }

    /// Reads up to `buffer.count` bytes; 0 means end of input. A stop signal
    /// received while blocked also ends the input (see `Signals`).
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(StageError) -> Int {
        if let zstd {
            return try zstd.read(into: buffer) { raw throws(StageError) in try self.readRaw(into: raw) }
        }
        return try readRaw(into: buffer)
    }

    private func readRaw(into buffer: UnsafeMutableRawBufferPointer) throws(StageError) -> Int {
        while true {
            if Signals.stopRequested { return 0 }
            if let onIdle {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, idleMillis)
                if ready == 0 {
                    try onIdle()
                    continue
                }
                if ready < 0, errno == EINTR { continue }
            }
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count == 0, follow {
                let now = monotonicSeconds()
                let since = followIdleSince ?? now
                followIdleSince = since
                if let limit = followIdleSeconds, now - since >= limit { return 0 }
                usleep(50_000)
                continue
            }
            if count > 0 { followIdleSince = nil }
            if count >= 0 { return count }
            let code = errno
            if code == EINTR { continue }  // loops back to the stop check
            throw StageError(.io, "reading '\(name)' failed: \(errnoText(code))")
        }
    }
}

/// Streaming zstd decompression with bounded buffers (one input block, the
/// caller's output buffer): memory does not grow with the file.
private final class ZstdReader {
    private let context: OpaquePointer
    private let compressed: UnsafeMutableRawBufferPointer
    private var position = 0
    private var filled = 0
    private var inputEnded = false
    /// The last call filled the output: the decoder may hold more to flush.
    private var pendingFlush = false
    /// Non-zero while a frame is incomplete.
    private var lastResult = 0

    init() {
        context = ZSTD_createDStream()
        ZSTD_initDStream(context)
        compressed = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDStream(context)
        compressed.deallocate()
    }

    func read(
        into out: UnsafeMutableRawBufferPointer,
        source: (UnsafeMutableRawBufferPointer) throws(StageError) -> Int
    ) throws(StageError) -> Int {
        while true {
            if position == filled, !inputEnded, !pendingFlush {
                filled = try source(compressed)
                position = 0
                if filled == 0 { inputEnded = true }
            }
            if inputEnded, position == filled, !pendingFlush {
                // A stop signal ends the input where it is: mid-frame is expected then.
                if lastResult != 0, !Signals.stopRequested {
                    throw StageError(.io, "the .zst input ended in the middle of a frame (truncated file?)")
                }
                return 0
            }
            var input = ZSTD_inBuffer(src: compressed.baseAddress, size: filled, pos: position)
            var output = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
            let result = ZSTD_decompressStream(context, &output, &input)
            if ZSTD_isError(result) != 0 {
                throw StageError(.io, "zstd decompression failed: \(String(cString: ZSTD_getErrorName(result))); is the input a complete .zst file?")
            }
            lastResult = result
            pendingFlush = output.pos == output.size
            position = input.pos
            if output.pos > 0 { return output.pos }
        }
    }
}

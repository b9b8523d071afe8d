import CZstd

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--capture-to FILE.ndjson.zst`: a zstd-compressed copy of what a source
/// read, one record per line, for replaying a live incident later.
///
/// Streaming compression (level 1, ~320 MB/s on one core) into a fixed
/// buffer. Every `flush()` ends a zstd frame: concatenated frames are one
/// valid `.zst` file, so the copy is readable up to the last flush even if
/// the process is killed.
package final class CaptureWriter {
    package let path: String
    private let context: OpaquePointer
    private let file: OutputWriter
    private var pending: [UInt8] = []
    private let chunk = 1 << 20
    private var out: [UInt8]

    /// Creates (truncates) `path`.
    /// - Throws: `StageError(.cantCreate)` naming the path.
    package init(path: String) throws(StageError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            throw StageError(.cantCreate, "--capture-to: cannot create '\(path)': \(errnoText(code))")
        }
        file = OutputWriter(fd: fd, name: path, ownsDescriptor: true)
        context = ZSTD_createCCtx()
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, 1)
        out = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        pending.reserveCapacity(chunk + 65536)
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    /// Appends one record and a newline.
    @inline(__always)
    package func write(_ record: UnsafeRawBufferPointer) throws(StageError) {
        pending.append(contentsOf: record)
        pending.append(0x0A)
        if pending.count >= chunk { try compress(end: false) }
    }

    /// Compresses what is pending and ends the frame.
    package func flush() throws(StageError) {
        try compress(end: true)
        try file.flush()
    }

    private func compress(end: Bool) throws(StageError) {
        if pending.isEmpty && !end { return }
        if pending.isEmpty && end && !frameOpen { return }
        try pending.withRawBytes { (src) throws(StageError) in
            var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            let mode = end ? ZSTD_e_end : ZSTD_e_continue
            while true {
                let remaining: Int = out.withUnsafeMutableBytes { dst in
                    var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    let r = ZSTD_compressStream2(context, &output, &input, mode)
                    outCount = output.pos
                    return r
                }
                if ZSTD_isError(remaining) != 0 {
                    throw StageError(.io, "--capture-to '\(path)': zstd failed: \(String(cString: ZSTD_getErrorName(remaining)))")
                }
                if outCount > 0 {
                    try out.withRawBytes { (o) throws(StageError) in
                        try file.writeRaw(UnsafeRawBufferPointer(rebasing: o[0..<outCount]), lines: 0)
                    }
                }
                if end ? remaining == 0 : input.pos == input.size { break }
            }
        }
        frameOpen = !end
        pending.removeAll(keepingCapacity: true)
    }
    private var outCount = 0
    private var frameOpen = false
}

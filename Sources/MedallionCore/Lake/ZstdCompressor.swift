import CZstd

/// Owns one libzstd compression context and reuses it for every page of a file.
///
/// `ZSTD_compressCCtx` on a reused context avoids re-allocating zstd's tables per
/// page, which matters with ~1 MiB pages. The type is `~Copyable` so the context
/// has exactly one owner and is freed exactly once.
struct ZstdCompressor: ~Copyable {
    private let context: OpaquePointer
    let level: Int32

    init(level: Int32) throws(LakeError) {
        guard let ctx = ZSTD_createCCtx() else {
            throw LakeError(.compression, "libzstd could not allocate a compression context; the process may be out of memory.")
        }
        context = ctx
        self.level = level
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    /// Compresses `source` into the front of `destination` as one zstd frame and returns
    /// the compressed length. `destination` only grows, so one scratch buffer serves a file.
    func compress(_ source: UnsafeRawBufferPointer, into destination: inout [UInt8], file: String) throws(LakeError) -> Int {
        let bound = ZSTD_compressBound(source.count)
        if destination.count < bound {
            destination = [UInt8](repeating: 0, count: bound)
        }
        let written = destination.withUnsafeMutableBytes { dst in
            ZSTD_compressCCtx(context, dst.baseAddress, dst.count, source.baseAddress, source.count, level)
        }
        if ZSTD_isError(written) != 0 {
            let reason = String(cString: ZSTD_getErrorName(written))
            throw LakeError(.compression, "Compressing a Parquet page with zstd level \(level) failed.", path: file, cause: reason)
        }
        return written
    }
}

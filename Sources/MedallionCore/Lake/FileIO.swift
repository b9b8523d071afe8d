import Glibc

/// Thin, typed-throwing wrappers over the POSIX calls the Lake needs.
///
/// Commit atomicity rests on exact semantics (`link` failing with EEXIST,
/// `O_EXCL`, `fsync` of directories), so we call Glibc directly instead of going
/// through Foundation, and retry EINTR everywhere.
enum FileIO {
    static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code)) + " (errno \(code))"
    }

    /// Wall-clock milliseconds since the epoch, for `modificationTime`, `createdTime`, `timestamp`.
    static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Creates `path` and any missing parents; each new directory's parent is fsynced
    /// so the directory entry survives a crash before the commit that references it.
    static func makeDirectories(_ path: String) throws(LakeError) {
        var isDir = false
        if exists(path, isDirectory: &isDir) {
            if isDir { return }
            throw LakeError(.io, "Expected a directory but found a file; move it away or pick another table path.", path: path)
        }
        let parent = parentDirectory(of: path)
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 {
            let code = errno
            if code == EEXIST, exists(path, isDirectory: &isDir), isDir { return }  // lost a harmless race
            throw LakeError(.io, "Could not create directory; check permissions and free space.", path: path, cause: errnoText(code))
        }
        try syncDirectory(parent)
    }

    static func exists(_ path: String, isDirectory: inout Bool) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        return true
    }

    static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// fsyncs a directory so renames/links/creates inside it are durable.
    static func syncDirectory(_ path: String) throws(LakeError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw LakeError(.io, "Could not open directory to fsync it.", path: path, cause: errnoText())
        }
        defer { close(fd) }
        if fsync(fd) != 0 {
            throw LakeError(.io, "fsync of directory failed; the disk may be failing or full.", path: path, cause: errnoText())
        }
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(LakeError) {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw LakeError(.io, "Writing failed; check free space on the table's disk.", path: path, cause: errnoText())
            }
            offset += n
        }
    }

    /// Creates `path` exclusively (it must not exist), writes `bytes`, fsyncs and closes.
    static func writeNewFile(_ path: String, _ bytes: [UInt8]) throws(LakeError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw LakeError(.io, "Could not create file.", path: path, cause: errnoText())
        }
        do throws(LakeError) {
            try withRawBytes(bytes) { (raw) throws(LakeError) in try writeAll(fd, raw, path: path) }
            if fsync(fd) != 0 {
                throw LakeError(.io, "fsync failed; the data may not be on disk.", path: path, cause: errnoText())
            }
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        close(fd)
    }

    /// Reads a whole file, or returns nil if it does not exist.
    static func readFileIfExists(_ path: String) throws(LakeError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw LakeError(.io, "Could not open file for reading.", path: path, cause: errnoText())
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LakeError(.io, "Reading failed.", path: path, cause: errnoText())
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Names in a directory (without "." and ".."), or nil if it does not exist.
    static func listDirectory(_ path: String) throws(LakeError) -> [String]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return nil }
            throw LakeError(.io, "Could not list directory.", path: path, cause: errnoText())
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// Runs `body` over the bytes of `array` while keeping the typed error.
///
/// `Array.withUnsafeBytes` is `rethrows`, which widens a typed `LakeError` to
/// `any Error`; routing through `Result` keeps the type.
@inline(__always)
func withRawBytes<R>(
    _ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(LakeError) -> R
) throws(LakeError) -> R {
    let result: Result<R, LakeError> = array.withUnsafeBytes { raw in
        Result { () throws(LakeError) -> R in try body(raw) }
    }
    return try result.get()
}

/// A buffered, exclusively-created output file that knows its exact byte offset.
///
/// Parquet needs absolute page offsets for the footer and Delta needs the exact
/// size, so the offset is tracked here rather than asked of the kernel. `~Copyable`:
/// one owner closes the descriptor; if the owner never calls ``close()``, `deinit`
/// closes it and deletes the partial file.
struct FileOutput: ~Copyable {
    let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit: Int
    /// Bytes written so far (buffered or not): the offset of the next byte.
    private(set) var offset: Int64 = 0
    private var closed = false

    init(creatingExclusively path: String, bufferSize: Int = 1 << 20) throws(LakeError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw LakeError(.io, "Could not create data file; check the table directory's permissions.", path: path, cause: FileIO.errnoText())
        }
        self.fd = fd
        self.path = path
        self.bufferLimit = bufferSize
        buffer.reserveCapacity(bufferSize)
    }

    deinit {
        if !closed {
            Glibc.close(fd)
            unlink(path)
        }
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(LakeError) {
        offset += Int64(bytes.count)
        if buffer.count + bytes.count <= bufferLimit {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count >= bufferLimit {
            try FileIO.writeAll(fd, bytes, path: path)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    mutating func write(_ bytes: [UInt8]) throws(LakeError) {
        try withRawBytes(bytes) { (raw) throws(LakeError) in try write(raw) }
    }

    mutating func flush() throws(LakeError) {
        guard !buffer.isEmpty else { return }
        let fd = self.fd, path = self.path
        try withRawBytes(buffer) { (raw) throws(LakeError) in try FileIO.writeAll(fd, raw, path: path) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, fsyncs and closes; after this the file is complete on disk.
    mutating func close() throws(LakeError) {
        try flush()
        if fsync(fd) != 0 {
            throw LakeError(.io, "fsync of data file failed; the disk may be full or failing.", path: path, cause: FileIO.errnoText())
        }
        if Glibc.close(fd) != 0 {
            closed = true
            throw LakeError(.io, "close of data file failed.", path: path, cause: FileIO.errnoText())
        }
        closed = true
    }
}

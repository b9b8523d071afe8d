#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The text of an errno value, for messages.
package func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}

/// Wall-clock time as microseconds since the Unix epoch.
package func wallClockMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
}

/// A monotonic clock in seconds, for durations in summaries.
package func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Grows a pipe's kernel buffer (64 KiB by default) to 1 MiB when `fd` is a
/// pipe or FIFO, so each `read(2)`/`write(2)` moves more bytes and the two
/// processes of a pipeline switch less often. Best effort: 1 MiB is Linux's
/// default `pipe-max-size` for unprivileged processes; failure changes nothing.
package func growPipeBuffer(_ fd: Int32) {
    #if os(Linux)
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFIFO else { return }
    _ = fcntl(fd, 1031 /* F_SETPIPE_SZ */, 1 << 20)
    #endif
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Graceful-stop handling shared by every filter.
///
/// SIGTERM and SIGINT set a flag and, because the handlers are installed
/// without `SA_RESTART`, a `read(2)` blocked on an idle pipe returns `EINTR`
/// at once; the reader then treats the input as ended, the stage finishes the
/// batch in hand, flushes, commits and exits 0 — what supervisord's
/// `stopsignal=TERM` expects. SIGPIPE is ignored so that a closed downstream
/// pipe surfaces as `EPIPE` from `write(2)`, which the writer reports, instead
/// of killing the process mid-commit.
package enum Signals {
    private static let stop = Atomic<Bool>(false)

    /// Whether SIGTERM or SIGINT has been received.
    package static var stopRequested: Bool { stop.load(ordering: .relaxed) }

    package static func install() {
        signal(SIGPIPE, SIG_IGN)
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = { _ in Signals.stop.store(true, ordering: .relaxed) }
        #else
        action.__sigaction_u.__sa_handler = { _ in Signals.stop.store(true, ordering: .relaxed) }
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: a blocked read must wake up
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
    }
}

/// The exit statuses every medallion executable uses (BSD sysexits), so that a
/// supervisor or a shell script can tell "bad data" from "bad config" from
/// "downstream went away" without parsing text.
package enum ExitStatus: Int32, Sendable {
    case ok = 0
    case usage = 64
    case dataError = 65
    case noInput = 66
    case software = 70
    case cantCreate = 73
    case ioError = 74
    case tempFail = 75
    case config = 78
}

/// The one error type a stage surfaces to its command line.
///
/// Modelled on NIOFS's `FileSystemError`: a stable code that maps to one exit
/// status, and a sentence for a human that says what went wrong and, where we
/// know it, how to fix it.
package struct StageError: Error, CustomStringConvertible, Sendable {
    package enum Code: Sendable, Equatable {
        /// A required input file or FIFO does not exist or cannot be opened.
        case noInput
        /// Reading or writing failed (disk full, EIO, ...).
        case io
        /// The process downstream closed its end of our output pipe.
        case brokenPipe
        /// A configuration value or flag is wrong.
        case config
        /// A data error that must stop the stage (for example a `fail` rule).
        case data
        /// A file or directory could not be created.
        case cantCreate
        /// A bug in medallion: please report it.
        case software
        /// A peer (the Kafka brokers) stayed unreachable past the retry limit;
        /// a supervisor should restart the stage later.
        case unavailable
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }

    package var exitStatus: ExitStatus {
        switch code {
        case .noInput: .noInput
        case .io, .brokenPipe: .ioError
        case .config: .config
        case .data: .dataError
        case .cantCreate: .cantCreate
        case .software: .software
        case .unavailable: .tempFail
        }
    }
}

extension StageError {
    /// Maps a Lake (Parquet/Delta) failure to the stage contract's exit codes:
    /// I/O problems exit 74, a damaged data file 65, a table whose schema or
    /// log we must not touch 78, a bug 70.
    package init(_ error: LakeError) {
        let code: Code = switch error.code {
        case .io, .compression: .io
        case .schemaMismatch, .corruptLog, .unsupported, .commitConflict: .config
        case .invalidArgument: .software
        case .corruptFile: .data
        }
        self.init(code, error.description)
    }
}

/// The one error type of the Lake (Parquet + Delta Lake) writer.
///
/// Modelled on NIOFS's `FileSystemError`: a machine-readable ``Code`` the caller
/// maps to an exit status, plus a sentence that names the table or file and says
/// what to do. Every throwing function in `Lake/` uses typed `throws(LakeError)`
/// so callers never have to guess which errors can surface.
package struct LakeError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; stable for programmatic handling.
    package enum Code: String, Sendable, Equatable {
        /// A system call on a table file or directory failed (disk full, permissions, ...).
        case io
        /// The caller passed something the writer refuses (wrong column count, bad name, ...).
        case invalidArgument
        /// The table's schema or partition columns differ from what the writer expects.
        case schemaMismatch
        /// `_delta_log` holds something we cannot replay (gap, bad JSON, missing metaData).
        case corruptLog
        /// A data file is damaged or not what the log says (size, magic, footer, pages).
        case corruptFile
        /// A concurrent writer changed the table in a way an append cannot ride over.
        case commitConflict
        /// libzstd refused to compress a page.
        case compression
        /// The table uses a feature this writer does not implement (checkpoints, nested types, ...).
        case unsupported
    }

    package var code: Code
    /// A human sentence: what went wrong and what to do about it.
    package var message: String
    /// The table directory or file the error is about, if any.
    package var path: String?
    /// The underlying cause (an errno description, a libzstd message), if any.
    package var cause: String?

    package init(_ code: Code, _ message: String, path: String? = nil, cause: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.cause = cause
    }

    package var description: String {
        var text = message
        if let path { text += " [path: \(path)]" }
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}

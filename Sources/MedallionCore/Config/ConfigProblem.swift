/// One mistake in the configuration tree, located precisely enough to fix
/// it without reading code: the file (relative to the tree's root), the line,
/// the key path inside the file, what is wrong and what to do about it.
///
/// Problems are collected, never thrown one by one: a user who fixes a tree
/// should see every mistake in one run of `medallion check`, not one per run.
package struct ConfigProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// Path relative to the configuration root, e.g. `configs/tenants/acme/tenant.yaml`.
    package var file: String
    /// 1-based line; 1 when the problem concerns the whole file.
    package var line: Int
    /// Dotted key path inside the file (`eventhubs.hub`, `rules[2].field`);
    /// empty when the problem concerns the whole file.
    package var keyPath: String
    package var message: String
    package var fix: String

    package init(file: String, line: Int, keyPath: String, message: String, fix: String) {
        self.file = file
        self.line = max(line, 1)
        self.keyPath = keyPath
        self.message = message
        self.fix = fix
    }

    /// `file:line: error: key.path: message (fix: ...)`, the format compilers
    /// use, so editors and CI annotate the line.
    package var description: String { formatted(root: ".") }

    /// The same line with `file` shown relative to the directory the user
    /// named with `--config`, so the path works from the user's shell.
    package func formatted(root: String) -> String {
        let path = ConfigPath.join(root, file)
        let key = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(path):\(line): error: \(key)\(message) (fix: \(fix))"
    }
}

/// A configuration that cannot be used, with every problem found in it.
/// Exit status 78 (EX_CONFIG) in every executable.
package struct ConfigError: Error, Sendable, CustomStringConvertible {
    package var problems: [ConfigProblem]

    package init(_ problems: [ConfigProblem]) { self.problems = problems }

    package var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Path helpers for the tree: plain string joins, because configuration
/// paths are shown to users exactly as they would type them.
package enum ConfigPath {
    package static func join(_ root: String, _ relative: String) -> String {
        if root.isEmpty || root == "." { return relative }
        return root.hasSuffix("/") ? root + relative : root + "/" + relative
    }
}

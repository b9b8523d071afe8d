/// Storage roots: where the tables of a tenant and environment live.
package enum LakeRoot {
    /// The scheme of a root written as a URL (`abfss://container@account...`,
    /// `s3://...`), or nil for a local path. The sinks write local paths
    /// only; a URL root must be mounted first.
    package static func urlScheme(_ root: String) -> String? {
        guard let range = root.range(of: "://") else { return nil }
        let scheme = root[..<range.lowerBound]
        guard let first = scheme.first, first.isLetter,
              scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }) else { return nil }
        return String(scheme)
    }
}

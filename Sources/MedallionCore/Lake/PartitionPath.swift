/// Hive-style partition directories and the URI form Delta stores in `add.path`.
///
/// Two encodings are stacked (spec §1.4): the directory segment escapes every byte
/// outside `[A-Za-z0-9._-]` as `%XX`, and the log path URI-encodes the whole
/// relative path again (in practice `%` → `%25`), because readers decode it once.
/// Because every segment is `name=value` with `/` always escaped, a segment can
/// never be `.`, `..` or contain a separator: no value can leave the table directory.
package enum PartitionPath {
    /// The directory name Hive and Delta use for a null (or empty) partition value.
    package static let nullDirectoryValue = "__HIVE_DEFAULT_PARTITION__"

    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    @inline(__always)
    private static func isHiveSafe(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || b == 0x2E || b == 0x5F || b == 0x2D  // . _ -
    }

    /// Escapes a partition value (or column name) for a directory segment:
    /// keeps `[A-Za-z0-9._-]`, writes every other UTF-8 byte as uppercase `%XX`.
    package static func hiveEscape(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for b in value.utf8 {
            if isHiveSafe(b) {
                out.append(b)
            } else {
                out.append(0x25)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Delta treats an empty partition value exactly like null; normalize early so the
    /// directory, the log and our own stats agree.
    package static func normalize(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// The relative directory (no leading or trailing `/`) for one partition, e.g.
    /// `tenant_id=b%20c%2Fd/ingest_date=__HIVE_DEFAULT_PARTITION__`. Empty when unpartitioned.
    package static func directory(columns: [String], values: [String?]) -> String {
        precondition(columns.count == values.count, "one partition value per partition column")
        var segments: [String] = []
        segments.reserveCapacity(columns.count)
        for (column, value) in zip(columns, values) {
            let escaped = normalize(value).map(hiveEscape) ?? nullDirectoryValue
            segments.append(hiveEscape(column) + "=" + escaped)
        }
        return segments.joined(separator: "/")
    }

    /// URI-encodes a relative path for `add.path`: keeps RFC 2396 path characters that
    /// Hive escaping can produce (`A-Za-z0-9 . _ - / =`) and percent-encodes the rest,
    /// so every `%` from the Hive step becomes `%25`.
    package static func uriEncode(_ relativePath: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(relativePath.utf8.count + 16)
        for b in relativePath.utf8 {
            if isHiveSafe(b) || b == 0x2F || b == 0x3D {  // '/' '='
                out.append(b)
            } else {
                out.append(0x25)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` sequences once (what readers do with `add.path`); nil on a malformed escape.
    package static func percentDecode(_ text: String) -> String? {
        var out: [UInt8] = []
        var bytes = text.utf8.makeIterator()
        while let b = bytes.next() {
            if b != 0x25 {
                out.append(b)
                continue
            }
            guard let h = bytes.next(), let l = bytes.next(), let hi = hexValue(h), let lo = hexValue(l) else {
                return nil
            }
            out.append(hi << 4 | lo)
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// Checks that a non-null partition value is in the canonical text form readers parse
    /// for `type` (spec §1.4: a date written as `2024/05/17` or a bare number for a date
    /// is rejected by readers). Returns a sentence describing the problem, or nil.
    package static func formatProblem(_ value: String, type: DeltaType) -> String? {
        let bytes = Array(value.utf8)
        func digits(_ r: Range<Int>) -> Bool { bytes[r].allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        switch type {
        case .string, .binary:
            return nil
        case .date:
            if bytes.count == 10, digits(0..<4), bytes[4] == 0x2D, digits(5..<7), bytes[7] == 0x2D, digits(8..<10) { return nil }
            return "'\(value)' is not a date in YYYY-MM-DD form"
        case .integer:
            return Int32(value) == nil ? "'\(value)' is not a 32-bit decimal integer" : nil
        case .long:
            return Int64(value) == nil ? "'\(value)' is not a 64-bit decimal integer" : nil
        case .double:
            return Double(value).map { $0.isFinite } == true ? nil : "'\(value)' is not a finite decimal number"
        case .boolean:
            return value == "true" || value == "false" ? nil : "'\(value)' is not true or false"
        case .timestamp:
            // `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC, the form delta-rs writes.
            if bytes.count >= 19, digits(0..<4), bytes[4] == 0x2D, digits(5..<7), bytes[7] == 0x2D, digits(8..<10),
                bytes[10] == 0x20, digits(11..<13), bytes[13] == 0x3A, digits(14..<16), bytes[16] == 0x3A,
                digits(17..<19), bytes.count == 19 || (bytes[19] == 0x2E && bytes.count > 20 && bytes.count <= 26 && digits(20..<bytes.count))
            {
                return nil
            }
            return "'\(value)' is not a timestamp in 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) form"
        }
    }

    /// Whether a column may be a partition column: its name must survive Hive escaping
    /// unchanged and must not start with `_` or `.` (readers skip such directories).
    package static func isValidPartitionColumnName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first != 0x5F, first != 0x2E else { return false }
        return name.utf8.allSatisfy(isHiveSafe)
    }
}

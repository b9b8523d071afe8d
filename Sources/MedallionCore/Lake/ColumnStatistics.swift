import Glibc

/// A min or max bound in its physical form.
package enum StatValue: Sendable, Equatable {
    case int64(Int64)
    case int32(Int32)
    case double(Double)
    case bool(Bool)
    /// UTF-8 text for `string`, raw bytes for `binary`.
    case bytes([UInt8])

    /// The PLAIN encoding without length prefix, as Parquet `Statistics.min_value/max_value` want.
    var parquetBytes: [UInt8] {
        switch self {
        case .int64(let v): return withUnsafeBytes(of: v.littleEndian) { Array($0) }
        case .int32(let v): return withUnsafeBytes(of: v.littleEndian) { Array($0) }
        case .double(let v): return withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) }
        case .bool(let v): return [v ? 1 : 0]
        case .bytes(let v): return v
        }
    }

    /// Ordering that Parquet and Delta use: signed for numbers, unsigned byte-wise for strings.
    static func less(_ a: StatValue, _ b: StatValue) -> Bool {
        switch (a, b) {
        case (.int64(let x), .int64(let y)): return x < y
        case (.int32(let x), .int32(let y)): return x < y
        case (.double(let x), .double(let y)): return x < y
        case (.bool(let x), .bool(let y)): return !x && y
        case (.bytes(let x), .bytes(let y)): return x.lexicographicallyPrecedes(y)
        default: preconditionFailure("comparing statistics of different types")
        }
    }
}

/// Per-column statistics of a file (or column chunk): null count and true bounds.
///
/// Bounds are exact here; the Delta `stats` formatter truncates them (timestamps to
/// milliseconds, strings to 32 characters) in a direction that keeps them true.
/// `min`/`max` are nil when the column is all null or when a NaN makes bounds
/// meaningless (readers would otherwise skip files that hold NaN rows).
package struct ColumnStatistics: Sendable, Equatable {
    package var nullCount: Int = 0
    package var min: StatValue?
    package var max: StatValue?
    /// A NaN was seen: bounds are withheld for the whole file.
    package var sawNaN: Bool = false

    package init(nullCount: Int = 0, min: StatValue? = nil, max: StatValue? = nil, sawNaN: Bool = false) {
        self.nullCount = nullCount
        self.min = min
        self.max = max
        self.sawNaN = sawNaN
    }

    /// Folds the statistics of another chunk of the same column into this one.
    mutating func merge(_ other: ColumnStatistics) {
        nullCount += other.nullCount
        sawNaN = sawNaN || other.sawNaN
        if let m = other.min { min = min.map { StatValue.less(m, $0) ? m : $0 } ?? m }
        if let m = other.max { max = max.map { StatValue.less($0, m) ? m : $0 } ?? m }
    }

    /// Bounds safe to publish: none after a NaN; zeros signed as Parquet asks (-0.0 min, +0.0 max).
    var publishedBounds: (min: StatValue, max: StatValue)? {
        guard !sawNaN, var lo = min, var hi = max else { return nil }
        if case .double(let d) = lo, d == 0 { lo = .double(-0.0) }
        if case .double(let d) = hi, d == 0 { hi = .double(0.0) }
        return (lo, hi)
    }

    /// Computes statistics for the dense values `values` of `column` covering `rows`.
    static func compute(_ column: ColumnBuffer, rows: Range<Int>, values: Range<Int>) -> ColumnStatistics {
        var stats = ColumnStatistics(nullCount: rows.count - values.count)
        guard !values.isEmpty else { return stats }
        switch column.type {
        case .long, .timestamp:
            column.int64Values.withUnsafeBufferPointer { p in
                var lo = p[values.lowerBound], hi = lo
                for i in values { let v = p[i]; if v < lo { lo = v }; if v > hi { hi = v } }
                stats.min = .int64(lo); stats.max = .int64(hi)
            }
        case .integer, .date:
            column.int32Values.withUnsafeBufferPointer { p in
                var lo = p[values.lowerBound], hi = lo
                for i in values { let v = p[i]; if v < lo { lo = v }; if v > hi { hi = v } }
                stats.min = .int32(lo); stats.max = .int32(hi)
            }
        case .double:
            column.doubleValues.withUnsafeBufferPointer { p in
                var lo = Double.infinity, hi = -Double.infinity, any = false
                for i in values {
                    let v = p[i]
                    if v.isNaN { stats.sawNaN = true; continue }
                    any = true
                    if v < lo { lo = v }
                    if v > hi { hi = v }
                }
                if any { stats.min = .double(lo); stats.max = .double(hi) }
            }
        case .boolean:
            column.boolValues.withUnsafeBufferPointer { p in
                var ones = 0
                for i in values { ones &+= Int(p[i]) }
                stats.min = .bool(ones == values.count)
                stats.max = .bool(ones > 0)
            }
        case .string, .binary:
            column.stringBytes.withUnsafeBufferPointer { bytes in
                var lo = column.stringRange(values.lowerBound), hi = lo
                for i in values.dropFirst() {
                    let r = column.stringRange(i)
                    if compareBytes(bytes, r, lo) < 0 { lo = r }
                    if compareBytes(bytes, r, hi) > 0 { hi = r }
                }
                stats.min = .bytes(Array(bytes[lo]))
                stats.max = .bytes(Array(bytes[hi]))
            }
        }
        return stats
    }

    /// Unsigned byte-wise three-way comparison of two ranges of the same buffer.
    @inline(__always)
    static func compareBytes(_ base: UnsafeBufferPointer<UInt8>, _ a: Range<Int>, _ b: Range<Int>) -> Int {
        let common = Swift.min(a.count, b.count)
        if common > 0, let start = base.baseAddress {
            let c = memcmpBytes(start + a.lowerBound, start + b.lowerBound, common)
            if c != 0 { return c }
        }
        return a.count - b.count
    }

    @inline(__always)
    private static func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Int {
        Int(memcmp(a, b, n))
    }
}

/// One decoded value, for generic code and tests. Hot loops should prefer the typed
/// accessors of ``ParquetColumn`` / ``DeltaBatch``, which do not box.
package enum ParquetValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    /// INT32: Delta `integer`, and `date` as days since 1970-01-01.
    case int32(Int32)
    /// INT64: Delta `long`, and `timestamp` as microseconds since the epoch (UTC).
    case int64(Int64)
    case double(Double)
    /// BYTE_ARRAY annotated as UTF-8 (Delta `string`), and Delta partition values.
    case string(String)
    /// BYTE_ARRAY without a string annotation (Delta `binary`).
    case binary([UInt8])

    package var isNull: Bool { if case .null = self { true } else { false } }

    package var description: String {
        switch self {
        case .null: "null"
        case .bool(let v): "\(v)"
        case .int32(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .double(let v): "\(v)"
        case .string(let v): "\"\(v)\""
        case .binary(let v): "binary(\(v.count) bytes)"
        }
    }
}

/// The values of one column for one row group, stored densely by row.
///
/// Like ``ColumnBuffer`` but row-indexed: every row has a slot in the array of its
/// physical type (a null row holds 0 / an empty byte range), so `row` indexes
/// every accessor directly. Byte strings live back to back in one `[UInt8]`.
package struct ParquetColumn: Sendable {
    package let name: String
    package let physicalType: ParquetPhysicalType
    /// BYTE_ARRAY annotated as UTF-8.
    package let isString: Bool
    package private(set) var count: Int = 0
    package private(set) var nullCount: Int = 0

    /// One entry per row (false = null) once the first null is seen; empty while none is.
    private var validity: [Bool] = []
    var int32s: [Int32] = []
    var int64s: [Int64] = []
    var doubles: [Double] = []
    var bools: [Bool] = []
    var bytes: [UInt8] = []
    /// End offset in `bytes` of each row's value (start = previous end, or 0).
    var ends: [Int] = []

    package init(name: String, physicalType: ParquetPhysicalType, isString: Bool) {
        self.name = name
        self.physicalType = physicalType
        self.isString = isString
    }

    mutating func reserveCapacity(_ rows: Int) {
        switch physicalType {
        case .int32: int32s.reserveCapacity(rows)
        case .int64: int64s.reserveCapacity(rows)
        case .double: doubles.reserveCapacity(rows)
        case .boolean: bools.reserveCapacity(rows)
        case .byteArray: ends.reserveCapacity(rows)
        case .int96, .float, .fixedLenByteArray: break
        }
    }

    // MARK: building (decoder side)

    @inline(__always)
    mutating func markPresent() {
        if !validity.isEmpty { validity.append(true) }
        count += 1
    }

    /// Appends a null row: a zero slot in the value array and a false validity bit.
    mutating func appendNull() {
        if validity.isEmpty { validity = [Bool](repeating: true, count: count) }
        validity.append(false)
        switch physicalType {
        case .int32: int32s.append(0)
        case .int64: int64s.append(0)
        case .double: doubles.append(0)
        case .boolean: bools.append(false)
        case .byteArray: ends.append(bytes.count)
        case .int96, .float, .fixedLenByteArray: break
        }
        count += 1
        nullCount += 1
    }

    /// Appends a copy of row `row` of `other` (same physical type), e.g. a dictionary entry.
    @inline(__always)
    mutating func appendValue(from other: ParquetColumn, row: Int) {
        switch physicalType {
        case .int32: int32s.append(other.int32s[row])
        case .int64: int64s.append(other.int64s[row])
        case .double: doubles.append(other.doubles[row])
        case .boolean: bools.append(other.bools[row])
        case .byteArray:
            let r = other.byteRange(row)
            bytes.append(contentsOf: other.bytes[r])
            ends.append(bytes.count)
        case .int96, .float, .fixedLenByteArray: break
        }
        markPresent()
    }

    @inline(__always)
    func byteRange(_ row: Int) -> Range<Int> {
        (row == 0 ? 0 : ends[row - 1])..<ends[row]
    }

    // MARK: accessors (row must be in 0..<count)

    @inline(__always)
    package func isNull(_ row: Int) -> Bool {
        !validity.isEmpty && !validity[row]
    }

    package func int32(_ row: Int) -> Int32? {
        precondition(physicalType == .int32, "int32(_:) on \(physicalType) column '\(name)'")
        return isNull(row) ? nil : int32s[row]
    }

    package func int64(_ row: Int) -> Int64? {
        precondition(physicalType == .int64, "int64(_:) on \(physicalType) column '\(name)'")
        return isNull(row) ? nil : int64s[row]
    }

    package func double(_ row: Int) -> Double? {
        precondition(physicalType == .double, "double(_:) on \(physicalType) column '\(name)'")
        return isNull(row) ? nil : doubles[row]
    }

    package func bool(_ row: Int) -> Bool? {
        precondition(physicalType == .boolean, "bool(_:) on \(physicalType) column '\(name)'")
        return isNull(row) ? nil : bools[row]
    }

    /// The raw bytes of a BYTE_ARRAY value (no copy of the storage).
    package func bytes(_ row: Int) -> ArraySlice<UInt8>? {
        precondition(physicalType == .byteArray, "bytes(_:) on \(physicalType) column '\(name)'")
        return isNull(row) ? nil : bytes[byteRange(row)]
    }

    /// A BYTE_ARRAY value as text; invalid UTF-8 is repaired with U+FFFD (use
    /// ``bytes(_:)`` when the exact bytes matter).
    package func string(_ row: Int) -> String? {
        guard let slice = bytes(row) else { return nil }
        return String(decoding: slice, as: UTF8.self)
    }

    /// Calls `body` with the raw bytes of a BYTE_ARRAY value, or returns nil for null.
    package func withBytes<R>(_ row: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        precondition(physicalType == .byteArray, "withBytes(_:_:) on \(physicalType) column '\(name)'")
        if isNull(row) { return nil }
        let r = byteRange(row)
        return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[r])) }
    }

    /// The value of `row` boxed as a ``ParquetValue``.
    package func value(_ row: Int) -> ParquetValue {
        if isNull(row) { return .null }
        switch physicalType {
        case .int32: return .int32(int32s[row])
        case .int64: return .int64(int64s[row])
        case .double: return .double(doubles[row])
        case .boolean: return .bool(bools[row])
        case .byteArray:
            let slice = bytes[byteRange(row)]
            return isString ? .string(String(decoding: slice, as: UTF8.self)) : .binary(Array(slice))
        case .int96, .float, .fixedLenByteArray: return .null
        }
    }
}

/// The selected columns of one row group.
package struct ParquetRowGroup: Sendable {
    package let index: Int
    package let numRows: Int
    /// In the order requested.
    package let columns: [ParquetColumn]

    package func column(named name: String) -> ParquetColumn? {
        columns.first { $0.name == name }
    }
}

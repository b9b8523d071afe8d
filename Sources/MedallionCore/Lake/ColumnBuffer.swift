/// One column's values for one Parquet file (or row group), filled row by row.
///
/// Values are kept dense (nulls take no value slot) in the array that matches
/// the physical type, so encoding a page is a straight copy. Strings are one
/// contiguous `[UInt8]` plus `UInt32` end offsets: no `String`, no allocation per
/// value. `definitionLevels` (1 = present, 0 = null) exists only for nullable
/// columns. A buffer is meant to be flushed well before 4 GiB of string bytes
/// (row groups target 64–128 MiB); appending past that traps.
package struct ColumnBuffer: Sendable {
    package let type: DeltaType
    package let nullable: Bool

    /// One byte per row for nullable columns: 1 present, 0 null. Empty otherwise.
    private(set) var definitionLevels: [UInt8] = []
    /// long and timestamp values.
    private(set) var int64Values: [Int64] = []
    /// integer and date values.
    private(set) var int32Values: [Int32] = []
    private(set) var doubleValues: [Double] = []
    /// booleans as 0/1 bytes; bit-packed only when a page is built.
    private(set) var boolValues: [UInt8] = []
    /// string/binary bytes, back to back.
    private(set) var stringBytes: [UInt8] = []
    /// End offset of each string value in `stringBytes` (the start is the previous end, or 0).
    private(set) var stringEnds: [UInt32] = []

    /// Number of rows, nulls included.
    package private(set) var count: Int = 0
    package private(set) var nullCount: Int = 0

    package init(type: DeltaType, nullable: Bool) {
        self.type = type
        self.nullable = nullable
    }

    /// Rows that hold a value.
    package var valueCount: Int { count - nullCount }

    /// Approximate uncompressed PLAIN size in bytes; compare it with the row-group target.
    package var byteSize: Int {
        let levels = definitionLevels.count / 8
        switch type {
        case .string, .binary: return stringBytes.count + 4 * stringEnds.count + levels
        case .long, .timestamp, .double: return 8 * valueCount + levels
        case .integer, .date: return 4 * valueCount + levels
        case .boolean: return valueCount / 8 + levels
        }
    }

    /// Reserves room for `rows` more rows (and `stringBytes` more bytes for strings).
    package mutating func reserveCapacity(rows: Int, stringBytes bytes: Int = 0) {
        if nullable { definitionLevels.reserveCapacity(count + rows) }
        switch type {
        case .string, .binary:
            stringEnds.reserveCapacity(stringEnds.count + rows)
            stringBytes.reserveCapacity(stringBytes.count + bytes)
        case .long, .timestamp: int64Values.reserveCapacity(int64Values.count + rows)
        case .integer, .date: int32Values.reserveCapacity(int32Values.count + rows)
        case .double: doubleValues.reserveCapacity(doubleValues.count + rows)
        case .boolean: boolValues.reserveCapacity(boolValues.count + rows)
        }
    }

    /// Empties the buffer for the next row group, keeping the allocations.
    package mutating func removeAll(keepingCapacity: Bool = true) {
        definitionLevels.removeAll(keepingCapacity: keepingCapacity)
        int64Values.removeAll(keepingCapacity: keepingCapacity)
        int32Values.removeAll(keepingCapacity: keepingCapacity)
        doubleValues.removeAll(keepingCapacity: keepingCapacity)
        boolValues.removeAll(keepingCapacity: keepingCapacity)
        stringBytes.removeAll(keepingCapacity: keepingCapacity)
        stringEnds.removeAll(keepingCapacity: keepingCapacity)
        count = 0
        nullCount = 0
    }

    // MARK: appending

    package mutating func appendNull() {
        precondition(nullable, "appendNull() on a non-nullable \(type.deltaName) column")
        definitionLevels.append(0)
        count += 1
        nullCount += 1
    }

    @inline(__always)
    private mutating func markPresent() {
        if nullable { definitionLevels.append(1) }
        count += 1
    }

    /// Appends UTF-8 bytes (for `string`, the caller guarantees valid UTF-8) or raw bytes (`binary`).
    package mutating func append(string bytes: UnsafeRawBufferPointer) {
        precondition(type == .string || type == .binary, "append(string:) on a \(type.deltaName) column")
        stringBytes.append(contentsOf: bytes)
        precondition(stringBytes.count <= Int(UInt32.max), "ColumnBuffer holds more than 4 GiB; flush row groups earlier")
        stringEnds.append(UInt32(truncatingIfNeeded: stringBytes.count))
        markPresent()
    }

    /// Convenience for tests and cold paths; hot paths should pass raw bytes.
    package mutating func append(string value: String) {
        var value = value
        value.withUTF8 { append(string: UnsafeRawBufferPointer($0)) }
    }

    package mutating func append(int64 value: Int64) {
        precondition(type == .long, "append(int64:) on a \(type.deltaName) column")
        int64Values.append(value)
        markPresent()
    }

    package mutating func append(timestampMicros value: Int64) {
        precondition(type == .timestamp, "append(timestampMicros:) on a \(type.deltaName) column")
        int64Values.append(value)
        markPresent()
    }

    package mutating func append(int32 value: Int32) {
        precondition(type == .integer, "append(int32:) on a \(type.deltaName) column")
        int32Values.append(value)
        markPresent()
    }

    package mutating func append(dateDays value: Int32) {
        precondition(type == .date, "append(dateDays:) on a \(type.deltaName) column")
        int32Values.append(value)
        markPresent()
    }

    package mutating func append(double value: Double) {
        precondition(type == .double, "append(double:) on a \(type.deltaName) column")
        doubleValues.append(value)
        markPresent()
    }

    package mutating func append(bool value: Bool) {
        precondition(type == .boolean, "append(bool:) on a \(type.deltaName) column")
        boolValues.append(value ? 1 : 0)
        markPresent()
    }

    // MARK: reading (encoder side)

    /// Byte range of string value number `index` (dense value index, not row index).
    @inline(__always)
    func stringRange(_ index: Int) -> Range<Int> {
        let start = index == 0 ? 0 : Int(stringEnds[index - 1])
        return start..<Int(stringEnds[index])
    }

    /// Number of present values among rows `rows` (all of them for non-nullable columns).
    func valueCount(inRows rows: Range<Int>) -> Int {
        guard nullable else { return rows.count }
        var present = 0
        definitionLevels.withUnsafeBufferPointer { levels in
            for i in rows { present &+= Int(levels[i]) }
        }
        return present
    }
}

extension Array where Element == ColumnBuffer {
    /// Total ``ColumnBuffer/byteSize`` of one file's column buffers: compare it with
    /// `ParquetWriteOptions.rowGroupTargetBytes` to decide when to write a row group.
    ///
    /// Reads each buffer in place; `reduce` would copy every `ColumnBuffer` (and retain
    /// its arrays), which is measurable when checked per row.
    package var byteSize: Int {
        var total = 0
        for i in indices { total += self[i].byteSize }
        return total
    }
}

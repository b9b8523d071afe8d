/// A write-only encoder for the Thrift compact protocol, limited to what Parquet
/// footers and page headers use.
///
/// Parquet metadata is tiny compared with page data, so this favours obviously
/// correct code over cleverness; it still appends into one `[UInt8]` with no
/// per-field allocation. Field ids inside a struct must be written in increasing
/// order (the short header form encodes the delta from the previous id).
struct ThriftCompactWriter {
    /// Compact-protocol type nibbles (spec §2.2).
    enum FieldType: UInt8 {
        case boolTrue = 1, boolFalse = 2, i8 = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
        case binary = 8, list = 9, set = 10, map = 11, structure = 12
    }

    private(set) var bytes: [UInt8]
    /// Id of the previous field in the struct being written; deltas are relative to it.
    private var lastFieldId: Int16 = 0
    /// Saved `lastFieldId`s of enclosing structs: a nested struct restarts from 0.
    private var enclosing: [Int16] = []

    init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Forgets all written bytes but keeps the allocation, so page headers reuse one buffer.
    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        lastFieldId = 0
        enclosing.removeAll(keepingCapacity: true)
    }

    // MARK: primitives

    /// Unsigned LEB128: 7 bits per byte, low group first.
    mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zigzag maps small negative numbers to small unsigned ones before the varint.
    mutating func writeZigzag(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func writeFieldHeader(_ id: Int16, _ type: FieldType) {
        let delta = Int(id) - Int(lastFieldId)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta << 4) | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            writeZigzag(Int64(id))
        }
        lastFieldId = id
    }

    // MARK: fields

    mutating func writeI32(_ id: Int16, _ value: Int32) {
        writeFieldHeader(id, .i32)
        writeZigzag(Int64(value))
    }

    mutating func writeI16(_ id: Int16, _ value: Int16) {
        writeFieldHeader(id, .i16)
        writeZigzag(Int64(value))
    }

    mutating func writeI64(_ id: Int16, _ value: Int64) {
        writeFieldHeader(id, .i64)
        writeZigzag(value)
    }

    /// An i8 is one raw byte, not a varint.
    mutating func writeI8(_ id: Int16, _ value: Int8) {
        writeFieldHeader(id, .i8)
        bytes.append(UInt8(bitPattern: value))
    }

    /// A bool field carries its value in the type nibble and has no payload.
    mutating func writeBool(_ id: Int16, _ value: Bool) {
        writeFieldHeader(id, value ? .boolTrue : .boolFalse)
    }

    mutating func writeBinary(_ id: Int16, _ value: some Collection<UInt8>) {
        writeFieldHeader(id, .binary)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func writeString(_ id: Int16, _ value: String) {
        writeBinary(id, value.utf8)
    }

    /// Opens a struct-typed field; close it with ``endStruct()``.
    mutating func beginStruct(_ id: Int16) {
        writeFieldHeader(id, .structure)
        enclosing.append(lastFieldId)
        lastFieldId = 0
    }

    /// Writes the stop byte of the current struct and returns to the enclosing one.
    mutating func endStruct() {
        bytes.append(0)
        lastFieldId = enclosing.popLast() ?? 0
    }

    /// Opens a struct that is a list element (no field header); close it with ``endStruct()``.
    mutating func beginListElementStruct() {
        enclosing.append(lastFieldId)
        lastFieldId = 0
    }

    /// Writes the header of a list-typed field: `(size<<4)|elem`, or `F0|elem` plus a varint size.
    mutating func writeListHeader(_ id: Int16, elementType: FieldType, count: Int) {
        writeFieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count << 4) | elementType.rawValue)
        } else {
            bytes.append(0xF0 | elementType.rawValue)
            writeVarint(UInt64(count))
        }
    }

    /// A list element of type i32 (also used for enums).
    mutating func writeI32Element(_ value: Int32) {
        writeZigzag(Int64(value))
    }

    mutating func writeBinaryElement(_ value: some Collection<UInt8>) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// The stop byte that ends a top-level struct.
    mutating func writeStop() {
        bytes.append(0)
    }
}

/// A bounds-checked decoder for the Thrift compact protocol, limited to what
/// Parquet footers and page headers use (spec §2.2).
///
/// The input is untrusted: every read checks the remaining bytes and throws a
/// `LakeError(.corruptFile)` naming the file and the absolute byte offset, never
/// traps. Lists are checked against the remaining bytes before anything is
/// allocated (every element takes at least one byte), and nesting is capped, so
/// hostile input can neither exhaust memory nor the stack.
struct ThriftCompactReader {
    /// Compact-protocol type nibbles; same codes as ``ThriftCompactWriter/FieldType``.
    enum FieldType: UInt8 {
        case boolTrue = 1, boolFalse = 2, i8 = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
        case binary = 8, list = 9, set = 10, map = 11, structure = 12
    }

    /// Deepest struct/list nesting accepted (Parquet metadata needs about 6).
    static let maxDepth = 64

    private let bytes: [UInt8]
    /// Index of the next byte to read.
    private(set) var position: Int
    private let end: Int
    /// Absolute file offset of `bytes[0]`, for error messages.
    let baseOffset: Int64
    /// The file being decoded, for error messages.
    let path: String
    /// What is being decoded ("footer", "page header"), for error messages.
    let context: String

    init(_ bytes: [UInt8], range: Range<Int>? = nil, baseOffset: Int64, path: String, context: String) {
        self.bytes = bytes
        let r = range ?? 0..<bytes.count
        self.position = max(0, min(r.lowerBound, bytes.count))
        self.end = max(position, min(r.upperBound, bytes.count))
        self.baseOffset = baseOffset
        self.path = path
        self.context = context
    }

    var remaining: Int { end - position }
    var absoluteOffset: Int64 { baseOffset + Int64(position) }

    func corrupt(_ what: String, at index: Int? = nil) -> LakeError {
        let offset = baseOffset + Int64(index ?? position)
        return LakeError(
            .corruptFile,
            "Parquet \(context) is corrupt at byte offset \(offset): \(what). The file is damaged or was not written by a Parquet writer.",
            path: path)
    }

    // MARK: primitives

    mutating func readByte() throws(LakeError) -> UInt8 {
        guard position < end else { throw corrupt("unexpected end of data") }
        let b = bytes[position]
        position += 1
        return b
    }

    /// Unsigned LEB128, at most 10 bytes; rejects bits beyond 64.
    mutating func readVarint() throws(LakeError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try readByte()
            if shift == 63 && b > 1 { throw corrupt("varint overflows 64 bits", at: start) }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw corrupt("varint longer than 10 bytes", at: start) }
        }
    }

    mutating func readZigzag64() throws(LakeError) -> Int64 {
        let v = try readVarint()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    mutating func readI32() throws(LakeError) -> Int32 {
        let start = position
        let v = try readZigzag64()
        guard let r = Int32(exactly: v) else { throw corrupt("i32 value \(v) out of range", at: start) }
        return r
    }

    mutating func readI16() throws(LakeError) -> Int16 {
        let start = position
        let v = try readZigzag64()
        guard let r = Int16(exactly: v) else { throw corrupt("i16 value \(v) out of range", at: start) }
        return r
    }

    mutating func readI64() throws(LakeError) -> Int64 { try readZigzag64() }

    mutating func readDouble() throws(LakeError) -> Double {
        guard remaining >= 8 else { throw corrupt("truncated double") }
        var bits: UInt64 = 0
        for k in 0..<8 { bits |= UInt64(bytes[position + k]) << (8 * UInt64(k)) }
        position += 8
        return Double(bitPattern: bits)
    }

    /// A length-prefixed byte string; the length must fit in what is left.
    mutating func readBinary() throws(LakeError) -> [UInt8] {
        let start = position
        let n = try readVarint()
        guard n <= UInt64(remaining) else {
            throw corrupt("byte string of length \(n) runs past the end (\(remaining) bytes left)", at: start)
        }
        let r = Array(bytes[position..<(position + Int(n))])
        position += Int(n)
        return r
    }

    /// A string; invalid UTF-8 is repaired with U+FFFD (names are only compared and printed).
    mutating func readString() throws(LakeError) -> String {
        String(decoding: try readBinary(), as: UTF8.self)
    }

    func fieldType(_ nibble: UInt8, at index: Int) throws(LakeError) -> FieldType {
        guard let t = FieldType(rawValue: nibble) else { throw corrupt("unknown Thrift type code \(nibble)", at: index) }
        return t
    }

    // MARK: structure

    /// Reads the next field header of the current struct; nil at its stop byte.
    /// `lastId` is the previous field id of this struct (0 at its start); it is updated.
    mutating func readFieldHeader(lastId: inout Int16) throws(LakeError) -> (id: Int16, type: FieldType)? {
        let start = position
        let b = try readByte()
        if b == 0 { return nil }
        let type = try fieldType(b & 0x0F, at: start)
        let delta = Int16(b >> 4)
        let id: Int16
        if delta == 0 {
            id = try readI16()
        } else {
            let (sum, overflow) = lastId.addingReportingOverflow(delta)
            guard !overflow else { throw corrupt("field id overflows", at: start) }
            id = sum
        }
        lastId = id
        return (id, type)
    }

    /// Reads a list (or set) header: element type and count. The count is checked
    /// against the remaining bytes (each element takes at least one byte).
    mutating func readListHeader() throws(LakeError) -> (elementType: FieldType, count: Int) {
        let start = position
        let b = try readByte()
        var count = UInt64(b >> 4)
        if count == 15 { count = try readVarint() }
        let type: FieldType
        if b & 0x0F == 2 {
            type = .boolTrue  // some writers use 2 for bool elements; both mean "one byte per element"
        } else {
            type = try fieldType(b & 0x0F, at: start)
        }
        guard count <= UInt64(remaining) else {
            throw corrupt("list of \(count) elements cannot fit in the \(remaining) bytes left", at: start)
        }
        return (type, Int(count))
    }

    /// Reads a list field's header and checks the element type.
    mutating func readListHeader(expecting expected: FieldType) throws(LakeError) -> Int {
        let start = position
        let (type, count) = try readListHeader()
        guard type == expected || count == 0 else {
            throw corrupt("list holds Thrift type \(type.rawValue), expected \(expected.rawValue)", at: start)
        }
        return count
    }

    /// Skips one value of `type`. `inList` selects the list encoding of booleans
    /// (one byte) instead of the field encoding (no payload).
    mutating func skip(_ type: FieldType, inList: Bool = false, depth: Int = 0) throws(LakeError) {
        guard depth < Self.maxDepth else { throw corrupt("nesting deeper than \(Self.maxDepth) levels") }
        switch type {
        case .boolTrue, .boolFalse:
            if inList { _ = try readByte() }
        case .i8:
            _ = try readByte()
        case .i16, .i32, .i64:
            _ = try readVarint()
        case .double:
            guard remaining >= 8 else { throw corrupt("truncated double") }
            position += 8
        case .binary:
            let start = position
            let n = try readVarint()
            guard n <= UInt64(remaining) else { throw corrupt("byte string runs past the end", at: start) }
            position += Int(n)
        case .list, .set:
            let (elementType, count) = try readListHeader()
            for _ in 0..<count { try skip(elementType, inList: true, depth: depth + 1) }
        case .map:
            let start = position
            let count = try readVarint()
            guard count > 0 else { return }
            guard count <= UInt64(remaining) else { throw corrupt("map of \(count) entries cannot fit", at: start) }
            let kv = try readByte()
            let keyType = try fieldType(kv >> 4, at: position - 1)
            let valueType = try fieldType(kv & 0x0F, at: position - 1)
            for _ in 0..<Int(count) {
                try skip(keyType, inList: true, depth: depth + 1)
                try skip(valueType, inList: true, depth: depth + 1)
            }
        case .structure:
            var last: Int16 = 0
            while let (_, fieldType) = try readFieldHeader(lastId: &last) {
                try skip(fieldType, depth: depth + 1)
            }
        }
    }

    // MARK: typed field helpers

    /// The value of a bool field (carried in the type nibble).
    func boolValue(_ type: FieldType) -> Bool { type == .boolTrue }
}

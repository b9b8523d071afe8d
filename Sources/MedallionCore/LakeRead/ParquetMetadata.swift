/// The parts of a Parquet footer (`FileMetaData`) and page headers the reader needs,
/// decoded from the Thrift compact protocol (field ids from apache/parquet-format
/// `parquet.thrift`, spec §2.3). Unknown fields of any type are skipped.

/// Parquet physical types (all of them, so unsupported ones can be named in errors).
package enum ParquetPhysicalType: Int32, Sendable, Equatable, CustomStringConvertible {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7

    package var description: String {
        switch self {
        case .boolean: "BOOLEAN"
        case .int32: "INT32"
        case .int64: "INT64"
        case .int96: "INT96"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .byteArray: "BYTE_ARRAY"
        case .fixedLenByteArray: "FIXED_LEN_BYTE_ARRAY"
        }
    }

    /// Whether the reader decodes this type.
    package var isSupported: Bool {
        switch self {
        case .boolean, .int32, .int64, .double, .byteArray: true
        case .int96, .float, .fixedLenByteArray: false
        }
    }

    /// The physical type our writer uses for a Delta type.
    package init(_ type: DeltaType) {
        switch type {
        case .string, .binary: self = .byteArray
        case .integer, .date: self = .int32
        case .long, .timestamp: self = .int64
        case .double: self = .double
        case .boolean: self = .boolean
        }
    }
}

/// One leaf column of a flat Parquet schema.
package struct ParquetColumnDescriptor: Sendable, Equatable {
    package var name: String
    /// nil if the schema element had no type (only possible for unsupported nested schemas).
    package var physicalType: ParquetPhysicalType
    /// OPTIONAL columns have definition levels (max level 1); REQUIRED ones do not.
    package var optional: Bool
    /// `converted_type` (UTF8 = 0, DATE = 6, TIMESTAMP_MICROS = 10, ...), if any.
    package var convertedType: Int32?
    /// Whether the logicalType union is STRING (field 1).
    package var logicalString: Bool
    /// Position among the leaves: the index of its chunk in every row group.
    package var index: Int

    /// BYTE_ARRAY annotated as text (converted UTF8 or logical STRING).
    package var isString: Bool {
        physicalType == .byteArray && (convertedType == 0 || logicalString)
    }
}

/// One column chunk's `ColumnMetaData`.
struct ParquetColumnChunkMeta: Sendable {
    var physicalType: Int32
    var pathInSchema: [String]
    /// ColumnMetaData.encodings (informational: pages carry their own encoding).
    var encodings: [Int32]
    var codec: Int32
    var numValues: Int64
    var totalCompressedSize: Int64
    var dataPageOffset: Int64
    var dictionaryPageOffset: Int64?
}

struct ParquetRowGroupMeta: Sendable {
    var numRows: Int64
    var columns: [ParquetColumnChunkMeta]
}

/// A decoded footer.
package struct ParquetFileMetaData: Sendable {
    package var version: Int32
    package var numRows: Int64
    package var createdBy: String?
    /// Leaf columns in schema order.
    package var columns: [ParquetColumnDescriptor]
    var rowGroups: [ParquetRowGroupMeta]

    package var rowGroupCount: Int { rowGroups.count }
    /// The encodings listed for a column chunk (PLAIN 0, RLE 3, RLE_DICTIONARY 8, ...).
    package func encodings(rowGroup: Int, column: Int) -> [Int32] { rowGroups[rowGroup].columns[column].encodings }
    /// The compression codec of a column chunk (UNCOMPRESSED 0, ZSTD 6, ...).
    package func codec(rowGroup: Int, column: Int) -> Int32 { rowGroups[rowGroup].columns[column].codec }
    package func rowCount(ofRowGroup index: Int) -> Int64 { rowGroups[index].numRows }
}

extension ParquetFileMetaData {
    /// Decodes `FileMetaData` and checks it describes a flat schema whose row groups
    /// have one chunk per leaf.
    static func decode(_ r: inout ThriftCompactReader) throws(LakeError) -> ParquetFileMetaData {
        var version: Int32 = 0
        var numRows: Int64?
        var createdBy: String?
        var elements: [SchemaElement]?
        var rowGroups: [ParquetRowGroupMeta]?
        var last: Int16 = 0
        while let (id, type) = try r.readFieldHeader(lastId: &last) {
            switch (id, type) {
            case (1, .i32): version = try r.readI32()
            case (2, .list):
                let n = try r.readListHeader(expecting: .structure)
                var list: [SchemaElement] = []
                list.reserveCapacity(n)
                for _ in 0..<n { list.append(try SchemaElement.decode(&r)) }
                elements = list
            case (3, .i64): numRows = try r.readI64()
            case (4, .list):
                let n = try r.readListHeader(expecting: .structure)
                var list: [ParquetRowGroupMeta] = []
                list.reserveCapacity(n)
                for _ in 0..<n { list.append(try decodeRowGroup(&r)) }
                rowGroups = list
            case (6, .binary): createdBy = try r.readString()
            default: try r.skip(type)
            }
        }
        guard let elements, let numRows, let rowGroups else {
            throw r.corrupt("FileMetaData lacks schema, num_rows or row_groups")
        }
        guard numRows >= 0 else { throw r.corrupt("negative num_rows \(numRows)") }
        let columns = try flatColumns(elements, reader: r)
        var total: Int64 = 0
        for (g, group) in rowGroups.enumerated() {
            guard group.numRows >= 0 else { throw r.corrupt("row group \(g) has negative num_rows") }
            total = total &+ group.numRows
            guard group.columns.count == columns.count else {
                throw r.corrupt("row group \(g) has \(group.columns.count) column chunks for \(columns.count) schema columns")
            }
            for (c, chunk) in group.columns.enumerated() {
                if !chunk.pathInSchema.isEmpty && chunk.pathInSchema != [columns[c].name] {
                    throw r.corrupt("row group \(g) chunk \(c) is for column '\(chunk.pathInSchema.joined(separator: "."))', expected '\(columns[c].name)'")
                }
                if chunk.physicalType != columns[c].physicalType.rawValue {
                    throw r.corrupt("row group \(g) chunk \(c) has physical type \(chunk.physicalType), the schema says \(columns[c].physicalType)")
                }
            }
        }
        guard total == numRows else {
            throw r.corrupt("num_rows \(numRows) differs from the row groups' total \(total)")
        }
        return ParquetFileMetaData(
            version: version, numRows: numRows, createdBy: createdBy, columns: columns, rowGroups: rowGroups)
    }

    struct SchemaElement {
        var type: Int32?
        var repetition: Int32?
        var name: String = ""
        var numChildren: Int32?
        var convertedType: Int32?
        var logicalString = false

        static func decode(_ r: inout ThriftCompactReader) throws(LakeError) -> SchemaElement {
            var e = SchemaElement()
            var last: Int16 = 0
            while let (id, type) = try r.readFieldHeader(lastId: &last) {
                switch (id, type) {
                case (1, .i32): e.type = try r.readI32()
                case (3, .i32): e.repetition = try r.readI32()
                case (4, .binary): e.name = try r.readString()
                case (5, .i32): e.numChildren = try r.readI32()
                case (6, .i32): e.convertedType = try r.readI32()
                case (10, .structure):
                    // LogicalType union: only STRING (field 1) matters to us.
                    var inner: Int16 = 0
                    while let (lid, ltype) = try r.readFieldHeader(lastId: &inner) {
                        if lid == 1 && ltype == .structure { e.logicalString = true }
                        try r.skip(ltype)
                    }
                default: try r.skip(type)
                }
            }
            return e
        }
    }

    /// Element 0 is the root; every other element must be a primitive leaf (no nesting).
    private static func flatColumns(_ elements: [SchemaElement], reader r: ThriftCompactReader) throws(LakeError) -> [ParquetColumnDescriptor] {
        guard let root = elements.first else { throw r.corrupt("the schema is empty (no root element)") }
        let children = Int(root.numChildren ?? 0)
        guard children == elements.count - 1 else {
            throw LakeError(
                .unsupported,
                "The Parquet schema is nested (root has \(children) children but there are \(elements.count - 1) elements); this reader supports flat schemas only.",
                path: r.path)
        }
        var columns: [ParquetColumnDescriptor] = []
        columns.reserveCapacity(children)
        for (i, e) in elements.dropFirst().enumerated() {
            if let n = e.numChildren, n > 0 || e.type == nil {
                throw LakeError(.unsupported, "Column '\(e.name)' is a group (nested); this reader supports flat schemas only.", path: r.path)
            }
            guard let raw = e.type else { throw r.corrupt("schema element '\(e.name)' has no type") }
            guard let physical = ParquetPhysicalType(rawValue: raw) else {
                throw r.corrupt("column '\(e.name)' has unknown physical type \(raw)")
            }
            let repetition = e.repetition ?? 0
            if repetition == 2 {
                throw LakeError(.unsupported, "Column '\(e.name)' is REPEATED; this reader supports flat schemas only.", path: r.path)
            }
            guard repetition == 0 || repetition == 1 else { throw r.corrupt("column '\(e.name)' has repetition \(repetition)") }
            columns.append(ParquetColumnDescriptor(
                name: e.name, physicalType: physical, optional: repetition == 1,
                convertedType: e.convertedType, logicalString: e.logicalString, index: i))
        }
        return columns
    }

    private static func decodeRowGroup(_ r: inout ThriftCompactReader) throws(LakeError) -> ParquetRowGroupMeta {
        var columns: [ParquetColumnChunkMeta]?
        var numRows: Int64?
        var last: Int16 = 0
        while let (id, type) = try r.readFieldHeader(lastId: &last) {
            switch (id, type) {
            case (1, .list):
                let n = try r.readListHeader(expecting: .structure)
                var list: [ParquetColumnChunkMeta] = []
                list.reserveCapacity(n)
                for _ in 0..<n { list.append(try decodeColumnChunk(&r)) }
                columns = list
            case (3, .i64): numRows = try r.readI64()
            default: try r.skip(type)
            }
        }
        guard let columns, let numRows else { throw r.corrupt("RowGroup lacks columns or num_rows") }
        return ParquetRowGroupMeta(numRows: numRows, columns: columns)
    }

    private static func decodeColumnChunk(_ r: inout ThriftCompactReader) throws(LakeError) -> ParquetColumnChunkMeta {
        var meta: ParquetColumnChunkMeta?
        var externalFile = false
        var last: Int16 = 0
        while let (id, type) = try r.readFieldHeader(lastId: &last) {
            switch (id, type) {
            case (1, .binary):
                externalFile = !(try r.readBinary()).isEmpty
            case (3, .structure): meta = try decodeColumnMetaData(&r)
            default: try r.skip(type)
            }
        }
        if externalFile {
            throw LakeError(.unsupported, "A column chunk lives in another file (ColumnChunk.file_path); this reader does not follow such references.", path: r.path)
        }
        guard let meta else { throw r.corrupt("ColumnChunk lacks meta_data") }
        return meta
    }

    private static func decodeColumnMetaData(_ r: inout ThriftCompactReader) throws(LakeError) -> ParquetColumnChunkMeta {
        var physical: Int32?, codec: Int32?, numValues: Int64?, compressed: Int64?, dataOffset: Int64?
        var dictOffset: Int64?
        var path: [String] = []
        var encodings: [Int32] = []
        var last: Int16 = 0
        while let (id, type) = try r.readFieldHeader(lastId: &last) {
            switch (id, type) {
            case (1, .i32): physical = try r.readI32()
            case (3, .list):
                let n = try r.readListHeader(expecting: .binary)
                for _ in 0..<n { path.append(try r.readString()) }
            case (2, .list):
                let n = try r.readListHeader(expecting: .i32)
                for _ in 0..<n { encodings.append(try r.readI32()) }
            case (4, .i32): codec = try r.readI32()
            case (5, .i64): numValues = try r.readI64()
            case (7, .i64): compressed = try r.readI64()
            case (9, .i64): dataOffset = try r.readI64()
            case (11, .i64): dictOffset = try r.readI64()
            default: try r.skip(type)
            }
        }
        guard let physical, let codec, let numValues, let compressed, let dataOffset else {
            throw r.corrupt("ColumnMetaData lacks type, codec, num_values, total_compressed_size or data_page_offset")
        }
        guard numValues >= 0, compressed >= 0, dataOffset >= 0 else {
            throw r.corrupt("ColumnMetaData has a negative size or offset")
        }
        return ParquetColumnChunkMeta(
            physicalType: physical, pathInSchema: path, encodings: encodings, codec: codec, numValues: numValues,
            totalCompressedSize: compressed, dataPageOffset: dataOffset, dictionaryPageOffset: dictOffset)
    }
}

/// A decoded `PageHeader` (only the fields the reader uses).
struct ParquetPageHeader {
    enum Kind {
        /// DataPage v1: levels are inside the compressed body, each with a 4-byte length prefix.
        case dataV1(numValues: Int, encoding: Int32, definitionLevelEncoding: Int32)
        /// DataPage v2: levels precede the (possibly) compressed values, uncompressed and unprefixed.
        case dataV2(numValues: Int, numNulls: Int, encoding: Int32, definitionLevelsLength: Int, repetitionLevelsLength: Int, isCompressed: Bool)
        case dictionary(numValues: Int, encoding: Int32)
        /// Index pages and unknown page types: skipped.
        case other(Int32)
    }

    var kind: Kind
    var uncompressedSize: Int
    var compressedSize: Int

    static func decode(_ r: inout ThriftCompactReader) throws(LakeError) -> ParquetPageHeader {
        var pageType: Int32?, uncompressed: Int32?, compressed: Int32?
        var v1: (Int32, Int32, Int32)?
        var v2: (Int32, Int32, Int32, Int32, Int32, Bool)?
        var dict: (Int32, Int32)?
        var last: Int16 = 0
        while let (id, type) = try r.readFieldHeader(lastId: &last) {
            switch (id, type) {
            case (1, .i32): pageType = try r.readI32()
            case (2, .i32): uncompressed = try r.readI32()
            case (3, .i32): compressed = try r.readI32()
            case (5, .structure):
                var n: Int32?, enc: Int32?, defEnc: Int32 = 3
                var l: Int16 = 0
                while let (fid, ft) = try r.readFieldHeader(lastId: &l) {
                    switch (fid, ft) {
                    case (1, .i32): n = try r.readI32()
                    case (2, .i32): enc = try r.readI32()
                    case (3, .i32): defEnc = try r.readI32()
                    default: try r.skip(ft)
                    }
                }
                guard let n, let enc else { throw r.corrupt("DataPageHeader lacks num_values or encoding") }
                v1 = (n, enc, defEnc)
            case (7, .structure):
                var n: Int32?, enc: Int32 = 0
                var l: Int16 = 0
                while let (fid, ft) = try r.readFieldHeader(lastId: &l) {
                    switch (fid, ft) {
                    case (1, .i32): n = try r.readI32()
                    case (2, .i32): enc = try r.readI32()
                    default: try r.skip(ft)
                    }
                }
                guard let n else { throw r.corrupt("DictionaryPageHeader lacks num_values") }
                dict = (n, enc)
            case (8, .structure):
                var n: Int32?, nulls: Int32?, enc: Int32?, defLen: Int32?, repLen: Int32?
                var isCompressed = true
                var l: Int16 = 0
                while let (fid, ft) = try r.readFieldHeader(lastId: &l) {
                    switch (fid, ft) {
                    case (1, .i32): n = try r.readI32()
                    case (2, .i32): nulls = try r.readI32()
                    case (4, .i32): enc = try r.readI32()
                    case (5, .i32): defLen = try r.readI32()
                    case (6, .i32): repLen = try r.readI32()
                    case (7, .boolTrue), (7, .boolFalse): isCompressed = r.boolValue(ft)
                    default: try r.skip(ft)
                    }
                }
                guard let n, let nulls, let enc, let defLen, let repLen else {
                    throw r.corrupt("DataPageHeaderV2 lacks a required field")
                }
                v2 = (n, nulls, enc, defLen, repLen, isCompressed)
            default: try r.skip(type)
            }
        }
        guard let pageType, let uncompressed, let compressed else {
            throw r.corrupt("PageHeader lacks type, uncompressed_page_size or compressed_page_size")
        }
        guard uncompressed >= 0, compressed >= 0 else { throw r.corrupt("PageHeader has a negative page size") }
        let kind: Kind
        switch pageType {
        case 0:
            guard let v1 else { throw r.corrupt("DATA_PAGE without data_page_header") }
            guard v1.0 >= 0 else { throw r.corrupt("negative num_values") }
            kind = .dataV1(numValues: Int(v1.0), encoding: v1.1, definitionLevelEncoding: v1.2)
        case 2:
            guard let dict else { throw r.corrupt("DICTIONARY_PAGE without dictionary_page_header") }
            guard dict.0 >= 0 else { throw r.corrupt("negative dictionary size") }
            kind = .dictionary(numValues: Int(dict.0), encoding: dict.1)
        case 3:
            guard let v2 else { throw r.corrupt("DATA_PAGE_V2 without data_page_header_v2") }
            guard v2.0 >= 0, v2.1 >= 0, v2.1 <= v2.0, v2.3 >= 0, v2.4 >= 0 else {
                throw r.corrupt("DataPageHeaderV2 has inconsistent counts or lengths")
            }
            kind = .dataV2(
                numValues: Int(v2.0), numNulls: Int(v2.1), encoding: v2.2, definitionLevelsLength: Int(v2.3),
                repetitionLevelsLength: Int(v2.4), isCompressed: v2.5)
        default:
            kind = .other(pageType)
        }
        return ParquetPageHeader(kind: kind, uncompressedSize: Int(uncompressed), compressedSize: Int(compressed))
    }
}

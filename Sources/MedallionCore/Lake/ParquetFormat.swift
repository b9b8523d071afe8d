/// Parquet enum values and the Thrift layouts of the footer structures we emit.
///
/// Field ids follow apache/parquet-format `parquet.thrift` (spec §2.3). Only the
/// fields medallion needs are written; every reader skips absent optional fields.
enum ParquetFormat {
    static let magic: [UInt8] = Array("PAR1".utf8)

    enum PhysicalType: Int32 { case boolean = 0, int32 = 1, int64 = 2, double = 5, byteArray = 6 }
    enum Repetition: Int32 { case required = 0, optional = 1 }
    enum ConvertedType: Int32 { case utf8 = 0, date = 6, timestampMicros = 10 }
    enum Encoding: Int32 { case plain = 0, rle = 3, rleDictionary = 8 }
    enum PageType: Int32 { case dataPage = 0, dictionaryPage = 2 }
    /// Parquet's CompressionCodec.ZSTD.
    static let codecZstd: Int32 = 6

    static func physicalType(_ type: DeltaType) -> PhysicalType {
        switch type {
        case .string, .binary: return .byteArray
        case .integer, .date: return .int32
        case .long, .timestamp: return .int64
        case .double: return .double
        case .boolean: return .boolean
        }
    }

    /// Appends one leaf SchemaElement as a list element.
    ///
    /// Both `converted_type` and `logicalType` are written: DuckDB maps STRING and
    /// DATE only through the former, and DuckDB/polars need the latter to see a
    /// timestamp as UTC-adjusted (spec §3).
    static func writeSchemaElement(_ field: DeltaField, into w: inout ThriftCompactWriter) {
        w.beginListElementStruct()
        w.writeI32(1, physicalType(field.type).rawValue)
        w.writeI32(3, (field.nullable ? Repetition.optional : .required).rawValue)
        w.writeString(4, field.name)
        switch field.type {
        case .string:
            w.writeI32(6, ConvertedType.utf8.rawValue)
            w.beginStruct(10)
            w.beginStruct(1)  // STRING {}
            w.endStruct()
            w.endStruct()
        case .date:
            w.writeI32(6, ConvertedType.date.rawValue)
            w.beginStruct(10)
            w.beginStruct(6)  // DATE {}
            w.endStruct()
            w.endStruct()
        case .timestamp:
            w.writeI32(6, ConvertedType.timestampMicros.rawValue)
            w.beginStruct(10)
            w.beginStruct(8)  // TIMESTAMP
            w.writeBool(1, true)  // isAdjustedToUTC
            w.beginStruct(2)  // unit: TimeUnit
            w.beginStruct(2)  // MICROS {}
            w.endStruct()
            w.endStruct()
            w.endStruct()
            w.endStruct()
        case .integer, .long, .double, .boolean, .binary:
            break
        }
        w.endStruct()
    }

    /// Appends the root SchemaElement: a name and the number of leaves, no type.
    static func writeRootSchemaElement(childCount: Int, into w: inout ThriftCompactWriter) {
        w.beginListElementStruct()
        w.writeString(4, "schema")
        w.writeI32(5, Int32(childCount))
        w.endStruct()
    }

    /// Appends a `Statistics` struct (field id `id` of the enclosing struct).
    ///
    /// Writes `null_count` always, and `max_value`/`min_value` only when bounds are
    /// publishable. Byte-array bounds longer than ``maxStatBytes`` are left out
    /// rather than truncated, so no reader can take a truncated bound as exact.
    static func writeStatistics(_ id: Int16, _ stats: ColumnStatistics, into w: inout ThriftCompactWriter) {
        w.beginStruct(id)
        w.writeI64(3, Int64(stats.nullCount))
        if let (lo, hi) = stats.publishedBounds {
            let maxBytes = hi.parquetBytes, minBytes = lo.parquetBytes
            if maxBytes.count <= maxStatBytes && minBytes.count <= maxStatBytes {
                w.writeBinary(5, maxBytes)
                w.writeBinary(6, minBytes)
            }
        }
        w.endStruct()
    }

    /// Longest string bound kept in Parquet chunk statistics (parquet-rs truncates at 64 too).
    static let maxStatBytes = 64

    /// Appends a v1 data page header (a complete top-level struct).
    static func writeDataPageHeader(
        uncompressed: Int, compressed: Int, numValues: Int, encoding: Encoding, into w: inout ThriftCompactWriter
    ) {
        w.writeI32(1, PageType.dataPage.rawValue)
        w.writeI32(2, Int32(uncompressed))
        w.writeI32(3, Int32(compressed))
        w.beginStruct(5)
        w.writeI32(1, Int32(numValues))
        w.writeI32(2, encoding.rawValue)
        w.writeI32(3, Encoding.rle.rawValue)  // definition levels
        w.writeI32(4, Encoding.rle.rawValue)  // repetition levels
        w.endStruct()
        w.writeStop()
    }

    /// Appends a dictionary page header (a complete top-level struct).
    static func writeDictionaryPageHeader(
        uncompressed: Int, compressed: Int, entries: Int, into w: inout ThriftCompactWriter
    ) {
        w.writeI32(1, PageType.dictionaryPage.rawValue)
        w.writeI32(2, Int32(uncompressed))
        w.writeI32(3, Int32(compressed))
        w.beginStruct(7)
        w.writeI32(1, Int32(entries))
        w.writeI32(2, Encoding.plain.rawValue)
        w.endStruct()
        w.writeStop()
    }
}

/// Footer facts about one written column chunk.
struct ColumnChunkMeta {
    var type: ParquetFormat.PhysicalType
    var name: String
    var encodings: [ParquetFormat.Encoding]
    var numValues: Int64
    /// Both totals include page headers (spec §2.3).
    var totalUncompressed: Int64
    var totalCompressed: Int64
    var dataPageOffset: Int64
    var dictionaryPageOffset: Int64?
    var statistics: ColumnStatistics
}

/// Footer facts about one row group.
struct RowGroupMeta {
    var columns: [ColumnChunkMeta]
    var numRows: Int64
    var fileOffset: Int64
    var ordinal: Int16
}

extension ParquetFormat {
    /// Serializes the `FileMetaData` footer (without the trailing length and magic).
    static func fileMetaData(fields: [DeltaField], rowGroups: [RowGroupMeta], createdBy: String) -> [UInt8] {
        var w = ThriftCompactWriter(reservingCapacity: 1024 + 256 * fields.count * max(1, rowGroups.count))
        w.writeI32(1, 1)  // version
        w.writeListHeader(2, elementType: .structure, count: fields.count + 1)
        writeRootSchemaElement(childCount: fields.count, into: &w)
        for field in fields { writeSchemaElement(field, into: &w) }
        w.writeI64(3, rowGroups.reduce(0) { $0 + $1.numRows })
        w.writeListHeader(4, elementType: .structure, count: rowGroups.count)
        for group in rowGroups {
            w.beginListElementStruct()
            w.writeListHeader(1, elementType: .structure, count: group.columns.count)
            for chunk in group.columns {
                w.beginListElementStruct()
                w.writeI64(2, 0)  // deprecated ColumnChunk.file_offset: 0 as parquet-rs writes
                w.beginStruct(3)
                w.writeI32(1, chunk.type.rawValue)
                w.writeListHeader(2, elementType: .i32, count: chunk.encodings.count)
                for e in chunk.encodings { w.writeI32Element(e.rawValue) }
                w.writeListHeader(3, elementType: .binary, count: 1)
                w.writeBinaryElement(chunk.name.utf8)
                w.writeI32(4, codecZstd)
                w.writeI64(5, chunk.numValues)
                w.writeI64(6, chunk.totalUncompressed)
                w.writeI64(7, chunk.totalCompressed)
                w.writeI64(9, chunk.dataPageOffset)
                if let dict = chunk.dictionaryPageOffset { w.writeI64(11, dict) }
                writeStatistics(12, chunk.statistics, into: &w)
                w.endStruct()  // ColumnMetaData
                w.endStruct()  // ColumnChunk
            }
            w.writeI64(2, group.columns.reduce(0) { $0 + $1.totalUncompressed })
            w.writeI64(3, group.numRows)
            w.writeI64(5, group.fileOffset)
            w.writeI64(6, group.columns.reduce(0) { $0 + $1.totalCompressed })
            w.writeI16(7, group.ordinal)
            w.endStruct()  // RowGroup
        }
        w.writeString(6, createdBy)
        w.writeListHeader(7, elementType: .structure, count: fields.count)
        for _ in fields {
            w.beginListElementStruct()  // ColumnOrder union
            w.beginStruct(1)  // TYPE_ORDER: TypeDefinedOrder {}
            w.endStruct()
            w.endStruct()
        }
        w.writeStop()
        return w.bytes
    }
}

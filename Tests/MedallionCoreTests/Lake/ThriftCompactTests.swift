import Testing
@testable import MedallionCore

@Suite("Thrift compact protocol")
struct ThriftCompactTests {
    @Test func varintUsesSevenBitGroupsLowFirst() {
        var w = ThriftCompactWriter()
        w.writeVarint(300)
        #expect(w.bytes == hex("AC 02"))
        w.reset()
        w.writeVarint(0)
        w.writeVarint(127)
        w.writeVarint(128)
        #expect(w.bytes == hex("00 7F 80 01"))
    }

    @Test func zigzagMapsSignedToUnsigned() {
        var w = ThriftCompactWriter()
        w.writeZigzag(-1)
        w.writeZigzag(1)
        w.writeZigzag(150)
        #expect(w.bytes == hex("01 02 AC 02"))
        w.reset()
        w.writeZigzag(Int64.min)
        #expect(w.bytes == hex("FF FF FF FF FF FF FF FF FF 01"))
    }

    @Test func shortFieldHeaderCarriesDeltaAndType() {
        var w = ThriftCompactWriter()
        w.writeI32(1, 2)  // Type.INT64
        #expect(w.bytes == hex("15 04"))
    }

    @Test func longFieldHeaderForDeltaAbove15() {
        var w = ThriftCompactWriter()
        w.writeI32(16, 1)
        #expect(w.bytes == hex("05 20 02"))
    }

    @Test func listOfI32() {
        var w = ThriftCompactWriter()
        w.writeListHeader(2, elementType: .i32, count: 2)
        w.writeI32Element(3)
        w.writeI32Element(0)
        #expect(w.bytes == hex("29 25 06 00"))
    }

    @Test func longListHeaderUsesF0AndVarintSize() {
        var w = ThriftCompactWriter()
        w.writeListHeader(1, elementType: .structure, count: 20)
        #expect(w.bytes == hex("19 FC 14"))
    }

    @Test func rootSchemaElement() {
        var w = ThriftCompactWriter()
        ParquetFormat.writeRootSchemaElement(childCount: 3, into: &w)
        #expect(w.bytes == hex("48 06 73 63 68 65 6D 61 15 06 00"))
    }

    @Test func columnOrderTypeDefined() {
        var w = ThriftCompactWriter()
        w.beginListElementStruct()
        w.beginStruct(1)
        w.endStruct()
        w.endStruct()
        #expect(w.bytes == hex("1C 00 00"))
    }

    @Test func nestedStructRestartsFieldIds() {
        var w = ThriftCompactWriter()
        w.writeI32(5, 1)
        w.beginStruct(6)
        w.writeI32(1, 1)  // delta from 0, not from 6
        w.endStruct()
        w.writeI32(7, 1)  // delta from 6 again
        w.writeStop()
        #expect(w.bytes == hex("55 02 1C 15 02 00 15 02 00"))
    }

    @Test func statisticsExampleFromSpec() {
        var w = ThriftCompactWriter()
        let stats = ColumnStatistics(nullCount: 1, min: .int64(-1), max: .int64(5))
        w.beginListElementStruct()  // as a standalone struct
        ParquetFormat.writeStatistics(12, stats, into: &w)
        // Strip the enclosing field header (C? byte) and compare the struct body.
        #expect(Array(w.bytes.dropFirst()) == hex("36 02 28 08 05 00 00 00 00 00 00 00 18 08 FF FF FF FF FF FF FF FF 00"))
    }

    @Test func dataPageHeaderExampleFromSpec() {
        var w = ThriftCompactWriter()
        ParquetFormat.writeDataPageHeader(uncompressed: 300, compressed: 120, numValues: 10, encoding: .plain, into: &w)
        #expect(w.bytes == hex("15 00 15 D8 04 15 F0 01 2C 15 14 15 00 15 06 15 06 00 00"))
    }

    @Test func dictionaryPageHeaderExampleFromSpec() {
        var w = ThriftCompactWriter()
        ParquetFormat.writeDictionaryPageHeader(uncompressed: 40, compressed: 30, entries: 4, into: &w)
        #expect(w.bytes == hex("15 04 15 50 15 3C 4C 15 08 15 00 00 00"))
    }
}

@Suite("Parquet schema elements (spec §2.4)")
struct SchemaElementTests {
    func encode(_ field: DeltaField) -> [UInt8] {
        var w = ThriftCompactWriter()
        ParquetFormat.writeSchemaElement(field, into: &w)
        return w.bytes
    }

    @Test func optionalTimestampHasConvertedAndLogicalUTCMicros() {
        #expect(encode(DeltaField("ts", .timestamp)) == hex("15 04 25 02 18 02 74 73 25 14 4C 8C 11 1C 2C 00 00 00 00 00"))
    }

    @Test func optionalStringHasUTF8AndSTRING() {
        #expect(encode(DeltaField("user", .string)) == hex("15 0C 25 02 18 04 75 73 65 72 25 00 4C 1C 00 00 00"))
    }

    @Test func requiredDateHasDATEBoth() {
        #expect(encode(DeltaField("day", .date, nullable: false)) == hex("15 02 25 00 18 03 64 61 79 25 0C 4C 6C 00 00 00"))
    }

    @Test func plainPhysicalTypesHaveNoAnnotations() {
        #expect(encode(DeltaField("n", .long, nullable: false)) == hex("15 04 25 00 18 01 6E 00"))
        #expect(encode(DeltaField("n", .integer)) == hex("15 02 25 02 18 01 6E 00"))
        #expect(encode(DeltaField("n", .double)) == hex("15 0A 25 02 18 01 6E 00"))
        #expect(encode(DeltaField("n", .boolean)) == hex("15 00 25 02 18 01 6E 00"))
        #expect(encode(DeltaField("n", .binary)) == hex("15 0C 25 02 18 01 6E 00"))
    }
}

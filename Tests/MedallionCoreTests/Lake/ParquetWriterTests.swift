import Foundation
import Testing
@testable import MedallionCore

@Suite("Parquet file writer")
struct ParquetWriterTests {
    @Test func fileHasMagicFooterAndExactSize() throws {
        let dir = makeTempDirectory("pq")
        let fields = [DeltaField("s", .string), DeltaField("n", .long, nullable: false)]
        var writer = try ParquetFileWriter(path: dir + "/f.parquet", fields: fields)
        var s = ColumnBuffer(type: .string, nullable: true)
        var n = ColumnBuffer(type: .long, nullable: false)
        for i in 0..<1000 {
            if i % 10 == 0 { s.appendNull() } else { s.append(string: "v\(i % 7)") }
            n.append(int64: Int64(i) - 500)
        }
        try writer.write([s, n])
        let summary = try writer.finish()
        let bytes = try #require(FileManager.default.contents(atPath: dir + "/f.parquet"))
        #expect(Int64(bytes.count) == summary.sizeBytes)
        #expect(Array(bytes.prefix(4)) == Array("PAR1".utf8))
        #expect(Array(bytes.suffix(4)) == Array("PAR1".utf8))
        #expect(summary.numRows == 1000)
        #expect(summary.columnStatistics[0] == ColumnStatistics(nullCount: 100, min: .bytes(Array("v0".utf8)), max: .bytes(Array("v6".utf8))))
        #expect(summary.columnStatistics[1] == ColumnStatistics(nullCount: 0, min: .int64(-500), max: .int64(499)))
        // Only the final file remains: the temp file was linked and removed.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["f.parquet"])
    }

    @Test func droppedWriterLeavesNoFile() throws {
        let dir = makeTempDirectory("drop")
        do {
            var writer = try ParquetFileWriter(path: dir + "/g.parquet", fields: [DeltaField("n", .long)])
            var n = ColumnBuffer(type: .long, nullable: true)
            n.append(int64: 1)
            try writer.write([n])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == [])
    }

    @Test func mismatchedBuffersAreRejectedWithTheColumnName() throws {
        let dir = makeTempDirectory("bad")
        var writer = try ParquetFileWriter(path: dir + "/h.parquet", fields: [DeltaField("a", .long), DeltaField("b", .long)])
        var a = ColumnBuffer(type: .long, nullable: true)
        a.append(int64: 1)
        let b = ColumnBuffer(type: .long, nullable: true)
        let error = #expect(throws: LakeError.self) { try writer.write([a, b]) }
        #expect(error?.description.contains("'b' has 0 rows") == true)
    }

    @Test func rowGroupsAndPagesSplitBySizeTargets() throws {
        let dir = makeTempDirectory("split")
        var options = ParquetWriteOptions()
        options.rowGroupTargetBytes = 64 * 1024
        options.pageTargetBytes = 4 * 1024
        var writer = try ParquetFileWriter(path: dir + "/s.parquet", fields: [DeltaField("x", .string)], options: options)
        var x = ColumnBuffer(type: .string, nullable: true)
        for i in 0..<20_000 { x.append(string: "value-\(i)") }  // ~280 KB: 5 row groups
        try writer.write([x])
        let summary = try writer.finish()
        #expect(summary.rowGroupCount == 5)
        #expect(summary.columnStatistics[0].min == .bytes(Array("value-0".utf8)))
        #expect(summary.columnStatistics[0].max == .bytes(Array("value-9999".utf8)))
    }

    @Test func nanWithholdsBoundsAndZerosAreSigned() throws {
        var d = ColumnBuffer(type: .double, nullable: true)
        d.append(double: 0.0); d.append(double: -0.0); d.append(double: 3)
        var stats = ColumnStatistics.compute(d, rows: 0..<3, values: 0..<3)
        #expect(stats.publishedBounds.map { $0.min.parquetBytes } == StatValue.double(-0.0).parquetBytes)
        d.append(double: .nan)
        stats = ColumnStatistics.compute(d, rows: 0..<4, values: 0..<4)
        #expect(stats.sawNaN && stats.publishedBounds == nil)
        var w = ThriftCompactWriter()
        ParquetFormat.writeStatistics(1, stats, into: &w)
        #expect(w.bytes == hex("1C 36 00 00"))  // null_count only
    }

    @Test func dictionaryIsUsedForRepetitiveStringsOnly() throws {
        let dir = makeTempDirectory("dict")
        var writer = try ParquetFileWriter(path: dir + "/d.parquet", fields: [DeltaField("rep", .string), DeltaField("uniq", .string)])
        var rep = ColumnBuffer(type: .string, nullable: true)
        var uniq = ColumnBuffer(type: .string, nullable: true)
        for i in 0..<5000 {
            rep.append(string: ["click", "view", "buy"][i % 3])
            uniq.append(string: UUID().uuidString + UUID().uuidString)
        }
        try writer.write([rep, uniq])
        _ = try writer.finish()
        let bytes = try #require(FileManager.default.contents(atPath: dir + "/d.parquet"))
        // rep: small dictionary page + bit-packed indices; uniq: PLAIN (~370 KB raw, zstd ~ 50%).
        #expect(bytes.count < 250_000)
    }
}

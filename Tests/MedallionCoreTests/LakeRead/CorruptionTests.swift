import Foundation
import Testing
@testable import MedallionCore

/// Writes a small two-row-group file (dictionary + PLAIN + nulls) and returns its path and bytes.
func writeSmallParquet(_ label: String) throws -> (path: String, bytes: [UInt8]) {
    let dir = readerTempDirectory(label)
    let fields = [DeltaField("id", .long, nullable: false), DeltaField("s", .string), DeltaField("b", .boolean), DeltaField("d", .double)]
    var options = ParquetWriteOptions()
    options.rowGroupTargetBytes = 1024
    options.pageTargetBytes = 256
    var writer = try ParquetFileWriter(path: dir + "/f.parquet", fields: fields, options: options)
    var bufs = fields.map { ColumnBuffer(type: $0.type, nullable: $0.nullable) }
    for i in 0..<120 {
        bufs[0].append(int64: Int64(i))
        if i % 4 == 0 { bufs[1].appendNull() } else { bufs[1].append(string: "v\(i % 3)") }
        if i % 5 == 0 { bufs[2].appendNull() } else { bufs[2].append(bool: i % 2 == 0) }
        bufs[3].append(double: Double(i) * 0.5)
    }
    try writer.write(bufs)
    let summary = try writer.finish()
    return (summary.path, Array(try Data(contentsOf: URL(fileURLWithPath: summary.path))))
}

/// Opens and fully reads a file; returns the error, or nil if it read cleanly.
func readFully(_ path: String) -> LakeError? {
    do {
        let reader = try ParquetFileReader(path: path)
        for g in 0..<reader.rowGroupCount { _ = try reader.readRowGroup(g) }
        return nil
    } catch {
        return error
    }
}

@Suite("Damaged Parquet files fail with clear errors")
struct CorruptionTests {
    @Test func intactFileReadsAndIsTheBaseline() throws {
        let (path, _) = try writeSmallParquet("baseline")
        #expect(readFully(path) == nil)
        let reader = try ParquetFileReader(path: path)
        #expect(reader.rowGroupCount >= 2)
    }

    @Test func truncatedFileIsReportedAsTruncated() throws {
        let (path, bytes) = try writeSmallParquet("truncated")
        let cut = path + ".cut"
        try Data(bytes[0..<(bytes.count - 100)]).write(to: URL(fileURLWithPath: cut))
        let error = try #require(readFully(cut))
        #expect(error.code == .corruptFile)
        #expect(error.message.contains("PAR1") || error.message.contains("truncated"))
        #expect(error.path == cut)
        for size in [0, 3, 11] {
            try Data(bytes[0..<size]).write(to: URL(fileURLWithPath: cut))
            let short = try #require(readFully(cut))
            #expect(short.code == .corruptFile)
            #expect(short.message.contains("too short"))
        }
    }

    @Test func garbageFooterLengthIsRejectedWithItsOffset() throws {
        let (path, bytes) = try writeSmallParquet("footerlen")
        for length: UInt32 in [0, 0xFFFF_FFF0, UInt32(bytes.count - 11), UInt32(bytes.count)] {
            var damaged = bytes
            let at = bytes.count - 8
            withUnsafeBytes(of: length.littleEndian) { for k in 0..<4 { damaged[at + k] = $0[k] } }
            try Data(damaged).write(to: URL(fileURLWithPath: path + ".bad"))
            let error = try #require(readFully(path + ".bad"))
            #expect(error.code == .corruptFile)
            #expect(error.message.contains("footer length"))
            #expect(error.message.contains("offset \(at)"))
        }
    }

    @Test func garbageFooterBytesNameTheFooterAndOffset() throws {
        let (path, bytes) = try writeSmallParquet("footerbytes")
        let length = Int(bytes[bytes.count - 8]) | Int(bytes[bytes.count - 7]) << 8
        var damaged = bytes
        for k in (bytes.count - 8 - length)..<(bytes.count - 8) { damaged[k] = 0xFF }
        try Data(damaged).write(to: URL(fileURLWithPath: path + ".bad"))
        let error = try #require(readFully(path + ".bad"))
        #expect(error.code == .corruptFile)
        #expect(error.message.contains("footer"))
        #expect(error.message.contains("byte offset"))
    }

    @Test func wrongSizeFromTheDeltaLogIsRejected() throws {
        let (path, bytes) = try writeSmallParquet("size")
        var options = ParquetReadOptions()
        options.expectedFileSize = Int64(bytes.count + 1)
        #expect(throws: LakeError.self) { try ParquetFileReader(path: path, options: options) }
    }

    /// Every truncation and many single-byte corruptions: the reader must throw or
    /// succeed, never trap or hang.
    @Test func everyTruncationAndByteFlipFailsCleanly() throws {
        let (path, bytes) = try writeSmallParquet("fuzz")
        let target = path + ".fuzz"
        var errors = 0, clean = 0
        for size in stride(from: 0, to: bytes.count, by: 7) {
            try Data(bytes[0..<size]).write(to: URL(fileURLWithPath: target))
            if readFully(target) == nil { clean += 1 } else { errors += 1 }
        }
        #expect(clean == 0)  // a cut file never ends with PAR1 by accident here
        var rng = TestRandom(99)
        for position in 0..<bytes.count {
            for value in [UInt8(0x00), 0xFF, UInt8(truncatingIfNeeded: rng.next()), bytes[position] ^ 0x01] where value != bytes[position] {
                var damaged = bytes
                damaged[position] = value
                try Data(damaged).write(to: URL(fileURLWithPath: target))
                if readFully(target) == nil { clean += 1 } else { errors += 1 }
            }
        }
        #expect(errors > 0)
    }

    @Test func missingDataFileIsAnIOError() throws {
        let schema = DeltaSchema([DeltaField("id", .long, nullable: false)])
        let path = readerTempDirectory("missing")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: schema)
        var bufs = writer.makeColumnBuffers()
        bufs[0].append(int64: 1)
        let add = try writer.writeDataFile(partitionValues: [], columns: bufs)
        _ = try writer.commit([add])
        try FileManager.default.removeItem(atPath: path + "/" + add.path)
        do {
            _ = try readAllRows(try DeltaTableReader.open(tablePath: path))
            Issue.record("expected an error")
        } catch let error as LakeError {
            #expect(error.code == .io)
            #expect(error.message.contains("does not exist"))
        }
    }

    @Test func addPathsThatEscapeTheTableAreRefused() throws {
        let table = "/tmp/some-table"
        for bad in ["../x.parquet", "a/../../x.parquet", "%2E%2E/x.parquet", "a//b.parquet", "./a.parquet", "a/%00b", "%zz", "", "a/."] {
            #expect(throws: LakeError.self, "\(bad)") { try DeltaTableReader.resolve(logPath: bad, tablePath: table) }
        }
        for absolute in ["/etc/passwd", "%2Fetc/passwd", "file:/etc/passwd", "s3://bucket/x.parquet"] {
            #expect(throws: LakeError.self, "\(absolute)") { try DeltaTableReader.resolve(logPath: absolute, tablePath: table) }
        }
        // Decoded exactly once: %2525 stays %25 on disk.
        #expect(try DeltaTableReader.resolve(logPath: "t=b%2520c%252Fd/p.parquet", tablePath: table) == "t=b%20c%2Fd/p.parquet")
        #expect(try DeltaTableReader.resolve(logPath: "t=a:b/p.parquet", tablePath: table) == "t=a:b/p.parquet")
        #expect(try DeltaTableReader.resolve(logPath: "t=..x/p.parquet", tablePath: table) == "t=..x/p.parquet")
    }

    @Test func symlinkOutOfTheTableIsRefused() throws {
        let schema = DeltaSchema([DeltaField("id", .long, nullable: false)])
        let path = readerTempDirectory("symlink")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: schema)
        var bufs = writer.makeColumnBuffers()
        bufs[0].append(int64: 1)
        let add = try writer.writeDataFile(partitionValues: [], columns: bufs)
        _ = try writer.commit([add])
        let outside = readerTempDirectory("outside") + "/x.parquet"
        try FileManager.default.moveItem(atPath: path + "/" + add.path, toPath: outside)
        try FileManager.default.createSymbolicLink(atPath: path + "/" + add.path, withDestinationPath: outside)
        do {
            _ = try DeltaTableReader.open(tablePath: path).files()
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("outside the table"))
        }
    }

    @Test func thriftDecoderRejectsHostileStructures() throws {
        func decode(_ bytes: [UInt8]) -> LakeError? {
            var r = ThriftCompactReader(bytes, baseOffset: 1000, path: "x", context: "test")
            do {
                _ = try ParquetFileMetaData.decode(&r)
                return nil
            } catch {
                return error
            }
        }
        // Huge list count with no bytes behind it.
        #expect(decode([0x29, 0xFC, 0xFF, 0xFF, 0xFF, 0x0F])?.message.contains("cannot fit") == true)
        // 11-byte varint.
        #expect(decode([0x16] + [UInt8](repeating: 0xFF, count: 11))?.message.contains("varint") == true)
        // Deep nesting of unknown struct fields (field 20, long form).
        let deep = [UInt8](repeating: 0x1C, count: 500)
        #expect(decode([0x0C, 0x28] + deep)?.message.contains("nesting") == true)
        // Unknown type nibble.
        #expect(decode([0x1D])?.message.contains("unknown Thrift type") == true)
        // Binary longer than the data; offsets are absolute.
        let e = decode([0x68, 0x7F, 0x41])
        #expect(e?.message.contains("runs past the end") == true)
        #expect(e?.message.contains("offset 1001") == true)
        // Missing required fields.
        #expect(decode([0x15, 0x02, 0x00])?.message.contains("lacks schema") == true)
        // Empty input.
        #expect(decode([])?.message.contains("unexpected end") == true)
    }

    @Test func rleDecoderRejectsBadRuns() {
        func decode(_ bytes: [UInt8], width: Int, count: Int, max: UInt32 = .max) -> [UInt32]? {
            var out: [UInt32] = []
            let ok = bytes.withUnsafeBytes { raw in
                (try? RLEHybridDecoder.decode(raw, bitWidth: width, count: count, maxValue: max, into: &out)) != nil
            }
            return ok ? out : nil
        }
        // Spec examples: levels [1,0,1,1] both forms; indices [0,1,1,2,0] at width 2.
        #expect(decode([0x02, 0x01, 0x02, 0x00, 0x04, 0x01], width: 1, count: 4) == [1, 0, 1, 1])
        #expect(decode([0x03, 0x0D], width: 1, count: 4) == [1, 0, 1, 1])
        #expect(decode([0x03, 0x94, 0x00], width: 2, count: 5) == [0, 1, 1, 2, 0])
        #expect(decode([0x03, 0x94, 0x00], width: 2, count: 5, max: 1) == nil)  // index out of dictionary
        #expect(decode([0x03], width: 8, count: 8) == nil)  // bit-packed run without bytes
        #expect(decode([0x02], width: 8, count: 1) == nil)  // RLE run without value
        #expect(decode([0x00, 0x00, 0x00], width: 1, count: 1) == nil)  // zero-length runs, then nothing
        #expect(decode([0x02, 0x01], width: 1, count: 3) == nil)  // not enough values
        #expect(decode([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], width: 1, count: 1) == nil)
        #expect(decode([0x00], width: 33, count: 1) == nil)
        #expect(decode([0x08, 0x00], width: 0, count: 4) == [0, 0, 0, 0])
    }
}

@Suite("Scans continue after a damaged file")
struct ScanRecoveryTests {
    @Test func aDamagedFileFailsAloneAndTheScanContinues() throws {
        let schema = DeltaSchema([DeltaField("id", .long, nullable: false)])
        let path = readerTempDirectory("recover")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: schema)
        var adds: [DeltaAddAction] = []
        for i in 0..<3 {
            var bufs = writer.makeColumnBuffers()
            for k in 0..<10 { bufs[0].append(int64: Int64(i * 10 + k)) }
            adds.append(try writer.writeDataFile(partitionValues: [], columns: bufs))
        }
        _ = try writer.commit(adds)
        // Damage the middle file in path order, keeping its size.
        let sorted = adds.sorted { $0.path < $1.path }
        let victim = path + "/" + sorted[1].path
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: victim)))
        for k in 4..<40 { bytes[k] = 0xFF }
        try FileManager.default.removeItem(atPath: victim)
        try Data(bytes).write(to: URL(fileURLWithPath: victim))

        let scan = try DeltaTableReader.open(tablePath: path).scan()
        var rows = 0, errors: [LakeError] = []
        while true {
            do {
                guard let batch = try scan.next() else { break }
                rows += batch.rowCount
            } catch {
                errors.append(error)
                #expect(scan.failedFile?.add.path == sorted[1].path)
            }
        }
        #expect(rows == 20)
        #expect(errors.count == 1)
        #expect(errors.first?.code == .corruptFile)
        #expect(errors.first?.path == victim)
    }
}

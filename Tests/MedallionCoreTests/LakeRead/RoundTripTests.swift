import Foundation
import Testing
@testable import MedallionCore

/// Every type, nulls, dictionary and PLAIN strings, small row groups and pages.
let readerAllTypesSchema = DeltaSchema([
    DeltaField("id", .long, nullable: false),
    DeltaField("s_dict", .string),
    DeltaField("s_plain", .string),
    DeltaField("s_req", .string, nullable: false),
    DeltaField("i32", .integer),
    DeltaField("i64", .long),
    DeltaField("d", .double),
    DeltaField("d_req", .double, nullable: false),
    DeltaField("b", .boolean),
    DeltaField("b_req", .boolean, nullable: false),
    DeltaField("day", .date),
    DeltaField("ts", .timestamp, nullable: false),
    DeltaField("bin", .binary),
    DeltaField("all_null", .string),
])

/// Row `i` of the all-types table, as the reader should return it.
func allTypesRow(_ i: Int, _ rng: inout TestRandom) -> [String: ParquetValue] {
    let dictWords = ["alpha", "", "ünï 😀", "b c/d%e=f", "a\u{0}b", "x"]
    let specialDoubles: [Double] = [0.0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1.5]
    let specialI32: [Int32] = [.min, .max, 0, -1, 1]
    let specialI64: [Int64] = [.min, .max, 0, -1, 1]
    var row: [String: ParquetValue] = ["id": .int64(Int64(i))]
    row["s_dict"] = rng.chance(20) ? .null : .string(dictWords[rng.below(dictWords.count)])
    if rng.chance(15) {
        row["s_plain"] = .null
    } else {
        let length = rng.below(40)
        let scalars = (0..<length).map { _ in Character(Unicode.Scalar(UInt8(0x21 + rng.below(90)))) }
        row["s_plain"] = .string("\(i)-" + String(scalars) + (rng.chance(10) ? "ß€" : ""))
    }
    row["s_req"] = .string(["ok", "warn", "error"][rng.below(3)])
    row["i32"] = rng.chance(25) ? .null : .int32(rng.chance(10) ? specialI32[rng.below(5)] : Int32(truncatingIfNeeded: rng.next()))
    row["i64"] = rng.chance(25) ? .null : .int64(rng.chance(10) ? specialI64[rng.below(5)] : Int64(bitPattern: rng.next()))
    row["d"] = rng.chance(25) ? .null : .double(rng.chance(20) ? specialDoubles[rng.below(specialDoubles.count)] : Double(bitPattern: rng.next() & 0x3FFF_FFFF_FFFF_FFFF))
    row["d_req"] = .double(Double(i) / 7)
    row["b"] = rng.chance(30) ? .null : .bool(rng.chance(50))
    row["b_req"] = .bool(i % 3 == 0)
    row["day"] = rng.chance(10) ? .null : .int32(Int32(rng.below(40_000)) - 10_000)
    row["ts"] = .int64(1_715_947_200_000_000 + Int64(i) * 1_000_123)
    if rng.chance(20) {
        row["bin"] = .null
    } else {
        row["bin"] = .binary((0..<rng.below(12)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })  // not UTF-8
    }
    row["all_null"] = .null
    return row
}

func smallFileOptions() -> DeltaWriteOptions {
    var options = DeltaWriteOptions()
    options.parquet.rowGroupTargetBytes = 16 << 10
    options.parquet.pageTargetBytes = 512
    return options
}

func buffers(for rows: [[String: ParquetValue]], writer: DeltaTableWriter) -> [ColumnBuffer] {
    var buffers = writer.makeColumnBuffers()
    for row in rows {
        for (k, field) in writer.dataFields.enumerated() { appendValue(row[field.name] ?? .null, to: &buffers[k]) }
    }
    return buffers
}

func expectSameRows(_ actual: [[String: ParquetValue]], _ expected: [[String: ParquetValue]], key: String = "id") {
    #expect(actual.count == expected.count)
    let byKey = Dictionary(actual.map { ($0[key]!.description, $0) }, uniquingKeysWith: { a, _ in a })
    #expect(byKey.count == actual.count)
    var mismatches = 0
    for row in expected {
        guard let got = byKey[row[key]!.description] else {
            Issue.record("row \(row[key]!) missing")
            mismatches += 1
            continue
        }
        #expect(Set(got.keys) == Set(row.keys))
        for (column, value) in row where !sameValue(got[column] ?? .null, value) {
            mismatches += 1
            if mismatches < 10 { Issue.record("row \(row[key]!) column \(column): got \(got[column] ?? .null), want \(value)") }
        }
    }
    #expect(mismatches == 0)
}

@Suite("Reading tables written by the medallion writer")
struct RoundTripTests {
    @Test func everyTypeAndNullRoundTripsAcrossRowGroupsAndPages() throws {
        let path = readerTempDirectory("alltypes")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: readerAllTypesSchema, options: smallFileOptions())
        var rng = TestRandom(42)
        let rows = (0..<3000).map { allTypesRow($0, &rng) }
        let add = try writer.writeDataFile(partitionValues: [], columns: buffers(for: rows, writer: writer))
        _ = try writer.commit([add])

        let table = try DeltaTableReader.open(tablePath: path)
        let files = try table.files()
        #expect(files.count == 1)
        let parquet = try ParquetFileReader(path: files[0].absolutePath)
        #expect(parquet.rowGroupCount > 3)
        #expect(parquet.metadata.numRows == 3000)
        let col = { (name: String) in parquet.column(named: name)!.index }
        // Dictionary for repetitive strings, PLAIN for unique ones.
        #expect(parquet.metadata.encodings(rowGroup: 0, column: col("s_dict")).contains(8))
        #expect(parquet.metadata.encodings(rowGroup: 0, column: col("s_req")).contains(8))
        #expect(!parquet.metadata.encodings(rowGroup: 0, column: col("s_plain")).contains(8))
        #expect(parquet.metadata.codec(rowGroup: 0, column: 0) == 6)
        #expect(parquet.column(named: "s_dict")!.isString)
        #expect(!parquet.column(named: "bin")!.isString)
        #expect(parquet.column(named: "s_req")!.optional == false)

        let read = try readAllRows(table)
        // One file: rows come back in write order.
        #expect(read.map { $0["id"]! } == rows.map { $0["id"]! })
        expectSameRows(read, rows)
    }

    @Test func typedBatchAccessorsMatchTheBoxedValues() throws {
        let path = readerTempDirectory("typed")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: readerAllTypesSchema, options: smallFileOptions())
        var rng = TestRandom(7)
        let rows = (0..<500).map { allTypesRow($0, &rng) }
        _ = try writer.commit([try writer.writeDataFile(partitionValues: [], columns: buffers(for: rows, writer: writer))])

        let scan = try DeltaTableReader.open(tablePath: path).scan()
        var seen = 0
        while let batch = try scan.next() {
            let id = batch.columnIndex("id")!, i32 = batch.columnIndex("i32")!, d = batch.columnIndex("d")!
            let b = batch.columnIndex("b")!, bin = batch.columnIndex("bin")!, s = batch.columnIndex("s_dict")!
            let ts = batch.columnIndex("ts")!, day = batch.columnIndex("day")!
            for r in 0..<batch.rowCount {
                let want = rows[Int(batch.int64(id, r)!)]
                #expect(batch.int32(i32, r).map(ParquetValue.int32) ?? .null == want["i32"]!)
                #expect(sameValue(batch.double(d, r).map(ParquetValue.double) ?? .null, want["d"]!))
                #expect(batch.bool(b, r).map(ParquetValue.bool) ?? .null == want["b"]!)
                #expect(batch.bytes(bin, r).map(ParquetValue.binary) ?? .null == want["bin"]!)
                #expect(batch.string(s, r).map(ParquetValue.string) ?? .null == want["s_dict"]!)
                #expect(batch.isNull(s, r) == want["s_dict"]!.isNull)
                #expect(.int64(batch.int64(ts, r)!) == want["ts"]!)
                #expect(batch.int32(day, r).map(ParquetValue.int32) ?? .null == want["day"]!)
                let length = batch.withBytes(bin, r) { $0.count }
                if case .binary(let bytes) = want["bin"]! { #expect(length == bytes.count) } else { #expect(length == nil) }
                seen += 1
            }
        }
        #expect(seen == 500)
    }

    @Test func partitionedTableWithHostileValuesAndSeveralCommitsReadsBackExactly() throws {
        let schema = DeltaSchema([
            DeltaField("tenant_id", .string),
            DeltaField("ingest_date", .date),
            DeltaField("id", .long, nullable: false),
            DeltaField("msg", .string),
        ])
        let path = readerTempDirectory("partitioned")
        var writer = try DeltaTableWriter.openOrCreate(
            at: path, schema: schema, partitionColumns: ["tenant_id", "ingest_date"], options: smallFileOptions())
        let tenants: [String?] = ["acme", "b c/d%e=f", "ünï", "..", nil, "", "a:b#c", "%25", "x/../../etc"]
        var expected: [[String: ParquetValue]] = []
        var nextId: Int64 = 0
        for commit in 0..<3 {
            var adds: [DeltaAddAction] = []
            for (t, tenant) in tenants.enumerated() {
                let date: String? = t % 4 == 3 ? nil : "2024-05-1\(commit)"
                var rows: [[String: ParquetValue]] = []
                for k in 0..<(20 + 37 * t) {
                    rows.append(["id": .int64(nextId), "msg": k % 5 == 0 ? .null : .string("m\(k % 7)")])
                    var full = rows.last!
                    full["tenant_id"] = PartitionPath.normalize(tenant).map(ParquetValue.string) ?? .null
                    full["ingest_date"] = date.map(ParquetValue.string) ?? .null
                    expected.append(full)
                    nextId += 1
                }
                adds.append(try writer.writeDataFile(partitionValues: [tenant, date], columns: buffers(for: rows, writer: writer)))
            }
            #expect(try writer.commit(adds) == .committed(version: Int64(commit + 1)))
        }

        let table = try DeltaTableReader.open(tablePath: path)
        #expect(table.version == 3)
        expectSameRows(try readAllRows(table), expected)

        // The decoded paths stay inside the table, one directory level per partition column.
        for file in try table.files() {
            #expect(file.absolutePath.hasPrefix(path + "/tenant_id="))
            #expect(FileManager.default.fileExists(atPath: file.absolutePath))
            #expect(file.relativePath.split(separator: "/").count == 3)
        }

        // Pruning happens on the log's values, before files are opened.
        for tenant in ["b c/d%e=f", "ünï", "..", "x/../../etc"] {
            let files = try table.files { $0["tenant_id"] == tenant }
            #expect(files.count == 3)
            let got = try readAllRows(table) { $0["tenant_id"] == tenant }
            expectSameRows(got, expected.filter { $0["tenant_id"] == .string(tenant) })
        }
        // nil and "" are both null.
        let nullRows = try readAllRows(table) { $0["tenant_id"] == nil }
        expectSameRows(nullRows, expected.filter { $0["tenant_id"] == .null })
        #expect(try table.files { $0["tenant_id"] == nil }.count == 6)
        let combined = try readAllRows(table) { $0["tenant_id"] == "acme" && $0["ingest_date"] == "2024-05-12" }
        #expect(combined.count == 20)
    }

    @Test func columnSelectionReturnsOnlyTheRequestedColumnsInOrder() throws {
        let schema = DeltaSchema([
            DeltaField("tenant_id", .string), DeltaField("id", .long, nullable: false), DeltaField("a", .string),
            DeltaField("b", .double),
        ])
        let path = readerTempDirectory("select")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: schema, partitionColumns: ["tenant_id"])
        var bufs = writer.makeColumnBuffers()
        for i in 0..<10 {
            bufs[0].append(int64: Int64(i)); bufs[1].append(string: "a\(i)"); bufs[2].append(double: Double(i))
        }
        _ = try writer.commit([try writer.writeDataFile(partitionValues: ["t1"], columns: bufs)])

        let table = try DeltaTableReader.open(tablePath: path)
        let scan = try table.scan(columns: ["b", "tenant_id", "id"])
        let batch = try #require(try scan.next())
        #expect(batch.fields.map(\.name) == ["b", "tenant_id", "id"])
        #expect(batch.double(0, 3) == 3)
        #expect(batch.string(1, 3) == "t1")
        #expect(batch.int64(2, 3) == 3)
        #expect(batch.columnIndex("a") == nil)
        #expect(try scan.next() == nil)

        #expect(throws: LakeError.self) { try table.scan(columns: ["nope"]) }
        do {
            _ = try table.scan(columns: ["nope"])
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("nope"))
        }
        // A ParquetFileReader can also select a subset directly.
        let file = try table.files()[0]
        let group = try ParquetFileReader(path: file.absolutePath).readRowGroup(0, columns: ["a"])
        #expect(group.columns.map(\.name) == ["a"])
        #expect(group.columns[0].string(9) == "a9")
    }

    @Test func columnsAddedBySchemaEvolutionReadAsNullInOlderFiles() throws {
        let schema = DeltaSchema([DeltaField("id", .long, nullable: false)])
        let path = readerTempDirectory("evolve")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: schema)
        var bufs = writer.makeColumnBuffers()
        bufs[0].append(int64: 1)
        _ = try writer.commit([try writer.writeDataFile(partitionValues: [], columns: bufs)])
        let evolved = DeltaSchema([DeltaField("id", .long, nullable: false), DeltaField("extra", .string)])
        _ = try writer.commit([], newSchema: evolved)
        bufs = writer.makeColumnBuffers()
        bufs[0].append(int64: 2); bufs[1].append(string: "x")
        _ = try writer.commit([try writer.writeDataFile(partitionValues: [], columns: bufs)])

        let rows = try readAllRows(try DeltaTableReader.open(tablePath: path))
        expectSameRows(rows, [["id": .int64(1), "extra": .null], ["id": .int64(2), "extra": .string("x")]])
    }

    @Test func removedFilesAreNotRead() throws {
        let schema = DeltaSchema([DeltaField("id", .long, nullable: false)])
        let path = readerTempDirectory("remove")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: schema)
        var adds: [DeltaAddAction] = []
        for i in 0..<3 {
            var bufs = writer.makeColumnBuffers()
            bufs[0].append(int64: Int64(i))
            adds.append(try writer.writeDataFile(partitionValues: [], columns: bufs))
        }
        _ = try writer.commit(adds)
        let remove = #"{"remove":{"path":"\#(adds[1].path)","deletionTimestamp":1,"dataChange":true}}"# + "\n"
        #expect(try DeltaLog.putIfAbsent(tablePath: path, version: 2, contents: remove))
        let rows = try readAllRows(try DeltaTableReader.open(tablePath: path))
        expectSameRows(rows, [["id": .int64(0)], ["id": .int64(2)]])
    }

    @Test func dlqSchemaRoundTrips() throws {
        let path = readerTempDirectory("dlq")
        var writer = try DeltaTableWriter.openOrCreate(
            at: path, schema: DLQSink.schema, partitionColumns: DLQSink.partitionColumns, options: smallFileOptions())
        var bufs = writer.makeColumnBuffers()
        var expected: [[String: ParquetValue]] = []
        for i in 0..<400 {
            var row: [String: ParquetValue] = [:]
            for field in writer.dataFields {
                let v: ParquetValue
                switch field.type {
                case .string: v = field.nullable && i % 4 == 1 ? .null : .string("\(field.name)-\(i % 9)")
                case .long: v = field.nullable && i % 5 == 2 ? .null : .int64(Int64(i * 1000))
                case .timestamp: v = .int64(1_700_000_000_000_000 + Int64(i))
                case .boolean: v = i % 6 == 0 ? .null : .bool(i % 2 == 0)
                default: v = .null
                }
                row[field.name] = v
            }
            for (k, field) in writer.dataFields.enumerated() { appendValue(row[field.name]!, to: &bufs[k]) }
            row["tenant_id"] = .string("acme"); row["event_type"] = .string("_unknown"); row["ingest_date"] = .string("2026-03-01")
            row["id"] = row["source_offset"]
            expected.append(row)
        }
        _ = try writer.commit([try writer.writeDataFile(partitionValues: ["acme", "_unknown", "2026-03-01"], columns: bufs)])
        let rows = try readAllRows(try DeltaTableReader.open(tablePath: path)).map { r in
            var r = r
            r["id"] = r["source_offset"]
            return r
        }
        // source_offset is null for some rows, so compare in order instead of by key.
        #expect(rows.count == expected.count)
        for (got, want) in zip(rows, expected) {
            for (column, value) in want where column != "id" { #expect(sameValue(got[column]!, value), "\(column)") }
        }
    }
}

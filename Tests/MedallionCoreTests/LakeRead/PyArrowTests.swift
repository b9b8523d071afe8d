import Foundation
import Testing
@testable import MedallionCore

/// Writes Parquet files and a Delta table with pyarrow/deltalake, plus the expected
/// values as JSON (`{"columns": {name: [values]}}`), into argv[1].
let pyarrowScript = #"""
import json, sys, random
import pyarrow as pa, pyarrow.parquet as pq
out = sys.argv[1]
rng = random.Random(5)
n = 1000
words = ["alpha", "", "ünï 😀", "b c/d%e=f", "x"]
cols = {
    "s": [None if i % 7 == 0 else words[rng.randrange(len(words))] for i in range(n)],
    "u": [None if i % 11 == 0 else f"unique-{i}-{rng.random()}" for i in range(n)],
    "i": [None if i % 5 == 0 else rng.randrange(-2**62, 2**62) for i in range(n)],
    "i32": [None if i % 6 == 0 else rng.randrange(-2**31, 2**31) for i in range(n)],
    "d": [None if i % 4 == 0 else rng.uniform(-1e9, 1e9) for i in range(n)],
    "b": [None if i % 3 == 0 else bool(rng.getrandbits(1)) for i in range(n)],
    "r": list(range(n)),
}
schema = pa.schema([
    pa.field("s", pa.string()), pa.field("u", pa.string()), pa.field("i", pa.int64()),
    pa.field("i32", pa.int32()), pa.field("d", pa.float64()), pa.field("b", pa.bool_()),
    pa.field("r", pa.int64(), nullable=False),
])
t = pa.table(cols, schema=schema)
pq.write_table(t, f"{out}/zstd.parquet", compression="zstd", row_group_size=300, data_page_size=1024)
pq.write_table(t, f"{out}/v2.parquet", compression="zstd", row_group_size=400, data_page_size=1024, data_page_version="2.0")
pq.write_table(t, f"{out}/plain.parquet", compression="none", use_dictionary=False, data_page_size=2048)
pq.write_table(t, f"{out}/snappy.parquet", compression="snappy")
t2 = t.append_column("f", pa.array([1.5] * n, pa.float32()))
pq.write_table(t2, f"{out}/float.parquet", compression="zstd")
import struct
# JSON parsers round doubles differently: ship their exact bit patterns.
exp = dict(cols)
exp["d"] = [None if x is None else struct.unpack("<q", struct.pack("<d", x))[0] for x in cols["d"]]
json.dump({"columns": exp}, open(f"{out}/expected.json", "w"))

from deltalake import write_deltalake, WriterProperties
props = WriterProperties(compression="ZSTD")
tenants = ["acme", "b c/d", None, "ünï", "a:b#c"]
d = pa.table({
    "tenant": [tenants[i % len(tenants)] for i in range(200)],
    "id": list(range(200)),
    "msg": [None if i % 9 == 0 else f"m{i % 13}" for i in range(200)],
    "ok": [i % 2 == 0 for i in range(200)],
})
write_deltalake(f"{out}/delta", d, partition_by=["tenant"], writer_properties=props)
write_deltalake(f"{out}/delta", d.slice(0, 10), partition_by=["tenant"], mode="append", writer_properties=props)
json.dump({"columns": d.to_pydict()}, open(f"{out}/delta_expected.json", "w"))
"""#

/// The expected column values from the script's JSON, as ParquetValues.
func expectedColumns(_ path: String, types: [String: DeltaType]) throws -> [String: [ParquetValue]] {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    let columns = object["columns"] as! [String: [Any]]
    var out: [String: [ParquetValue]] = [:]
    for (name, values) in columns {
        let type = try #require(types[name])
        out[name] = values.map { v in
            if v is NSNull { return .null }
            switch type {
            case .string: return .string(v as! String)
            case .long: return .int64((v as! NSNumber).int64Value)
            case .integer: return .int32((v as! NSNumber).int32Value)
            case .double: return .double(Double(bitPattern: UInt64(bitPattern: (v as! NSNumber).int64Value)))
            case .boolean: return .bool((v as! NSNumber).boolValue)
            default: return .null
            }
        }
    }
    return out
}

let pyarrowTypes: [String: DeltaType] = ["s": .string, "u": .string, "i": .long, "i32": .integer, "d": .double, "b": .boolean, "r": .long]

@Suite("Reading files written by pyarrow and deltalake", .enabled(if: pythonAvailable, "needs the reader venv (make venv)"), .serialized)
struct PyArrowTests {
    static let directory: String = {
        let dir = readerTempDirectory("pyarrow")
        let result = try! runPython(pyarrowScript, [dir])
        precondition(result.status == 0, "pyarrow script failed: \(result.output)")
        return dir
    }()

    func readFile(_ name: String) throws -> [String: [ParquetValue]] {
        let reader = try ParquetFileReader(path: Self.directory + "/" + name)
        var out: [String: [ParquetValue]] = [:]
        for g in 0..<reader.rowGroupCount {
            let group = try reader.readRowGroup(g, columns: Array(pyarrowTypes.keys))
            for column in group.columns {
                #expect(column.count == group.numRows)
                for r in 0..<column.count { out[column.name, default: []].append(column.value(r)) }
            }
        }
        return out
    }

    func compare(_ got: [String: [ParquetValue]], _ want: [String: [ParquetValue]]) {
        #expect(Set(got.keys) == Set(want.keys))
        for (name, values) in want {
            let actual = got[name] ?? []
            #expect(actual.count == values.count, "\(name)")
            let bad = zip(actual, values).enumerated().filter { !sameValue($0.element.0, $0.element.1) }
            let first = bad.first.map { "row \($0.offset): \($0.element.0) vs \($0.element.1)" } ?? ""
            #expect(bad.count == 0, "\(name): first mismatch \(first)")
        }
    }

    @Test func zstdDictionaryFileWithSeveralRowGroupsAndPagesMatches() throws {
        let want = try expectedColumns(Self.directory + "/expected.json", types: pyarrowTypes)
        let reader = try ParquetFileReader(path: Self.directory + "/zstd.parquet")
        #expect(reader.rowGroupCount == 4)
        #expect(reader.column(named: "r")!.optional == false)
        #expect(reader.column(named: "s")!.isString)
        #expect(reader.metadata.encodings(rowGroup: 0, column: reader.column(named: "i")!.index).contains(8))
        compare(try readFile("zstd.parquet"), want)
    }

    @Test func dataPageV2FileMatches() throws {
        compare(try readFile("v2.parquet"), try expectedColumns(Self.directory + "/expected.json", types: pyarrowTypes))
    }

    @Test func uncompressedPlainFileMatches() throws {
        let reader = try ParquetFileReader(path: Self.directory + "/plain.parquet")
        #expect(reader.metadata.codec(rowGroup: 0, column: 0) == 0)
        compare(try readFile("plain.parquet"), try expectedColumns(Self.directory + "/expected.json", types: pyarrowTypes))
    }

    @Test func unsupportedCodecAndTypeFailClearlyButOtherColumnsRead() throws {
        let snappy = try ParquetFileReader(path: Self.directory + "/snappy.parquet")
        do {
            _ = try snappy.readRowGroup(0)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("SNAPPY"))
        }
        let float = try ParquetFileReader(path: Self.directory + "/float.parquet")
        do {
            _ = try float.readRowGroup(0, columns: ["f"])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("FLOAT"))
        }
        #expect(try float.readRowGroup(0, columns: ["r"]).columns[0].int64(999) == 999)
    }

    @Test func deltalakeTableReadsWithPartitionValuesFromTheLog() throws {
        let types: [String: DeltaType] = ["tenant": .string, "id": .long, "msg": .string, "ok": .boolean]
        let columns = try expectedColumns(Self.directory + "/delta_expected.json", types: types)
        var want: [[String: ParquetValue]] = []
        for i in 0..<columns["id"]!.count {
            want.append(Dictionary(uniqueKeysWithValues: types.keys.map { ($0, columns[$0]![i]) }))
        }
        let table = try DeltaTableReader.open(tablePath: Self.directory + "/delta")
        #expect(table.partitionColumns == ["tenant"])
        #expect(table.version == 1)
        let all = try readAllRows(table)
        #expect(all.count == 210)
        // The first 200 ids are unique; the appended 10 repeat ids 0..<10.
        var byId: [Int64: [[String: ParquetValue]]] = [:]
        for row in all { if case .int64(let id) = row["id"]! { byId[id, default: []].append(row) } }
        for row in want {
            guard case .int64(let id) = row["id"]! else { continue }
            let got = byId[id] ?? []
            #expect(got.count == (id < 10 ? 2 : 1))
            for g in got { #expect(g == row, "id \(id)") }
        }
        let pruned = try readAllRows(table, columns: ["id", "tenant"]) { $0["tenant"] == "b c/d" }
        #expect(pruned.count == 42)
        #expect(pruned.allSatisfy { $0["tenant"] == .string("b c/d") && $0.count == 2 })
        #expect(try readAllRows(table) { $0["tenant"] == nil }.count == 42)
    }
}

import Foundation
import Testing
@testable import MedallionCore

/// `LAKEREAD_BENCH=1 swift test -c release --filter ReaderBenchmark`: writes a DLQ-shaped
/// table of 2M rows and times a full scan with typed accessors.
@Suite("Reader benchmark", .enabled(if: ProcessInfo.processInfo.environment["LAKEREAD_BENCH"] == "1"))
struct ReaderBenchmark {
    @Test func scanTwoMillionDLQRows() throws {
        let path = readerTempDirectory("bench")
        var writer = try DeltaTableWriter.openOrCreate(at: path, schema: DLQSink.schema, partitionColumns: DLQSink.partitionColumns)
        let rows = 2_000_000
        var t0 = Date()
        var adds: [DeltaAddAction] = []
        for (f, tenant) in ["acme", "globex"].enumerated() {
            var bufs = writer.makeColumnBuffers()
            for i in 0..<(rows / 2) {
                for (k, field) in writer.dataFields.enumerated() {
                    switch field.type {
                    case .string:
                        if field.name == "raw" { bufs[k].append(string: "{\"tenant_id\":\"\(tenant)\",\"event_id\":\"e-\(i)\",\"payload\":{\"t\":\(i % 100)}}") }
                        else if field.nullable && i % 3 == 0 { bufs[k].appendNull() }
                        else { bufs[k].append(string: "\(field.name)-\(i % 17)") }
                    case .long: bufs[k].append(int64: Int64(i + f))
                    case .timestamp: bufs[k].append(timestampMicros: 1_700_000_000_000_000 + Int64(i))
                    case .boolean: bufs[k].append(bool: i % 2 == 0)
                    default: bufs[k].appendNull()
                    }
                }
            }
            adds.append(try writer.writeDataFile(partitionValues: [tenant, "_unknown", "2026-03-01"], columns: bufs))
        }
        _ = try writer.commit(adds)
        print("write: \(Date().timeIntervalSince(t0)) s")

        t0 = Date()
        let table = try DeltaTableReader.open(tablePath: path)
        let scan = try table.scan(columns: ["tenant_id", "reason", "raw", "time", "source_offset"])
        var count = 0, bytes = 0
        var sum: Int64 = 0
        while let batch = try scan.next() {
            let reason = batch.columnIndex("reason")!, raw = batch.columnIndex("raw")!, time = batch.columnIndex("time")!
            for r in 0..<batch.rowCount {
                if batch.string(reason, r) != nil { count += 1 }
                bytes += batch.withBytes(raw, r) { $0.count } ?? 0
                sum &+= batch.int64(time, r) ?? 0
            }
        }
        let scanSeconds = Date().timeIntervalSince(t0)
        print("scan 5 columns typed: \(scanSeconds) s, rows \(count), raw bytes \(bytes)")
        #expect(count == rows)

        t0 = Date()
        var n = 0
        try table.forEachRow(columns: ["reason", "raw"], where: { $0["tenant_id"] == "acme" }) { row in
            if row.string("reason") != nil { n += 1 }
        }
        print("forEachRow by name, pruned to one tenant: \(Date().timeIntervalSince(t0)) s, rows \(n)")
        #expect(n == rows / 2)
    }
}

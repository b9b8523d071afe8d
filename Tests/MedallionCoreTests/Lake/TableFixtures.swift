// Table fixtures for the reader-agreement tests: small Delta tables that exercise every
// type, nulls, hostile partition values, many pages and row groups, and schema evolution.
import Foundation
@testable import MedallionCore

func run<T>(_ body: () throws(LakeError) -> T) throws(LakeError) -> T { try body() }

/// A tiny deterministic PRNG so tables are reproducible.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

// MARK: all-types table

let allTypesSchema = DeltaSchema([
    DeltaField("tenant", .string),
    DeltaField("kind", .string),
    DeltaField("day", .date),
    DeltaField("s", .string),
    DeltaField("l", .long),
    DeltaField("i", .integer),
    DeltaField("d", .double),
    DeltaField("b", .boolean),
    DeltaField("dt", .date),
    DeltaField("ts", .timestamp),
    DeltaField("req_s", .string, nullable: false),
    DeltaField("req_l", .long, nullable: false),
    DeltaField("long_text", .string),
    DeltaField("bin", .binary),
])

func fillAllTypes(_ buffers: inout [ColumnBuffer], rows: Int, rng: inout SplitMix) {
    let words = ["alpha", "beta", "gamma", "ünïcødé", "😀 emoji", "tab\there", "quote\"q", "", "zzz"]
    for r in 0..<rows {
        let nullRow = rng.below(5) == 0
        // s: low cardinality -> dictionary
        if nullRow { buffers[0].appendNull() } else { buffers[0].append(string: words[rng.below(words.count)]) }
        if rng.below(6) == 0 { buffers[1].appendNull() } else {
            let extremes: [Int64] = [Int64.min, Int64.max, 0, -1]
            buffers[1].append(int64: r % 50 == 0 ? extremes[rng.below(4)] : Int64(rng.below(2_000_000)) - 1_000_000)
        }
        if rng.below(6) == 0 { buffers[2].appendNull() } else { buffers[2].append(int32: Int32(rng.below(1000)) - 500) }
        if rng.below(6) == 0 { buffers[3].appendNull() } else {
            buffers[3].append(double: r % 37 == 0 ? -0.0 : Double(rng.below(1_000_000)) / 7.0 - 50_000)
        }
        if rng.below(6) == 0 { buffers[4].appendNull() } else { buffers[4].append(bool: rng.below(2) == 0) }
        if rng.below(6) == 0 { buffers[5].appendNull() } else { buffers[5].append(dateDays: Int32(rng.below(40_000)) - 10_000) }
        if rng.below(6) == 0 { buffers[6].appendNull() } else {
            // microsecond precision, some before 1970 (tests floor truncation of stats)
            buffers[6].append(timestampMicros: Int64(rng.below(4_000_000_000)) * 1_000_003 - 1_000_000_000_000_123)
        }
        buffers[7].append(string: "row-\(r)-" + words[r % words.count])
        buffers[8].append(int64: Int64(r))
        if rng.below(6) == 0 { buffers[9].appendNull() } else {
            buffers[9].append(string: String(repeating: words[rng.below(words.count)] + "/", count: 2 + rng.below(12)) + "#\(r)")
        }
        if rng.below(6) == 0 { buffers[10].appendNull() } else {
            let bytes: [UInt8] = (0..<rng.below(20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBytes { buffers[10].append(string: $0) }
        }
    }
}

func writeAllTypes(_ table: String) throws(LakeError) {
    let hostile: [[String?]] = [
        ["acme", "click", "2024-05-17"],
        ["a b", "%", "2024-05-18"],
        ["a/b", "..", nil],
        ["../../etc", "x=y#z:?&", "2024-05-17"],
        ["ünï 😀", "", "2024-01-01"],
        [nil, "click", "2024-05-17"],
        ["%25%2F", "-._", "1970-01-01"],
    ]
    var writer = try run { () throws(LakeError) in
        try DeltaTableWriter.openOrCreate(at: table, schema: allTypesSchema, partitionColumns: ["tenant", "kind", "day"])
    }
    var rng = SplitMix(state: 42)
    var batch: Int64 = 0
    for group in [Array(hostile[0..<3]), Array(hostile[3...]), [hostile[0], hostile[4]]] {
        batch += 1
        var adds: [DeltaAddAction] = []
        for values in group {
            var buffers = writer.makeColumnBuffers()
            fillAllTypes(&buffers, rows: 50 + rng.below(400), rng: &rng)
            adds.append(try run { () throws(LakeError) in try writer.writeDataFile(partitionValues: values, columns: buffers) })
        }
        let outcome = try run { () throws(LakeError) in
            try writer.commit(
                adds, transactions: [DeltaTransaction(appId: "demo-sink", version: batch)],
                info: DeltaCommitInfo(operation: "STREAMING UPDATE", operationParameters: ["outputMode": "Append", "epochId": "\(batch)"]))
        }
        _ = "commit batch \(batch): \(outcome)"
    }
    // Re-sending batch 3 must be detected, not committed twice.
    let again = try run { () throws(LakeError) in
        try writer.commit([], transactions: [DeltaTransaction(appId: "demo-sink", version: 3)])
    }
        _ = "re-commit batch 3: \(again)"
}

/// Tiny pages, row groups and dictionary limit: many pages per chunk, many row groups,
/// and dictionary fallback, all in a small table the readers can check.
func writePaged(_ table: String) throws(LakeError) {
    var options = DeltaWriteOptions()
    options.parquet.pageTargetBytes = 300
    options.parquet.rowGroupTargetBytes = 6000
    options.parquet.dictionaryLimitBytes = 80
    let writer = try run { () throws(LakeError) in
        try DeltaTableWriter.openOrCreate(at: table, schema: allTypesSchema, partitionColumns: ["tenant", "kind", "day"], options: options)
    }
    var w = writer
    var rng = SplitMix(state: 9)
    let file = try run { () throws(LakeError) in try writer.openDataFile(partitionValues: ["paged", "many", "2024-05-17"]) }
    for _ in 0..<3 {
        var buffers = writer.makeColumnBuffers()
        fillAllTypes(&buffers, rows: 700 + rng.below(300), rng: &rng)
        try run { () throws(LakeError) in try file.write(buffers) }
    }
    let add = try run { () throws(LakeError) in try file.finish() }
        _ = try run { () throws(LakeError) in try w.commit([add]) }
}

/// Schema evolution: commit 1 with the base schema, then a metaData update adding a
/// nullable column, then a file that has it.
func writeEvolved(_ table: String) throws(LakeError) {
    var writer = try run { () throws(LakeError) in
        try DeltaTableWriter.openOrCreate(at: table, schema: raceSchema, partitionColumns: ["writer"])
    }
    var buffers = writer.makeColumnBuffers()
    for r in 0..<10 {
        buffers[0].append(int64: Int64(r)); buffers[1].append(timestampMicros: Int64(r) * 1_000_000); buffers[2].append(string: "old \(r)")
    }
    let first = try run { () throws(LakeError) in try writer.writeDataFile(partitionValues: ["a"], columns: buffers) }
        _ = try run { () throws(LakeError) in try writer.commit([first]) }
    var evolved = raceSchema
    evolved.fields.append(DeltaField("added", .integer))
        _ = try run { () throws(LakeError) in try writer.commit([], info: DeltaCommitInfo(operation: "ADD COLUMNS", operationParameters: [:]), newSchema: evolved) }
    buffers = writer.makeColumnBuffers()
    for r in 0..<5 {
        buffers[0].append(int64: Int64(100 + r)); buffers[1].append(timestampMicros: Int64(r) * 1_000_000)
        buffers[2].append(string: "new \(r)"); if r == 0 { buffers[3].appendNull() } else { buffers[3].append(int32: Int32(r)) }
    }
    let second = try run { () throws(LakeError) in try writer.writeDataFile(partitionValues: ["b"], columns: buffers) }
        _ = try run { () throws(LakeError) in try writer.commit([second]) }
}


let raceSchema = DeltaSchema([
    DeltaField("writer", .string),
    DeltaField("seq", .long),
    DeltaField("at", .timestamp),
    DeltaField("note", .string),
])


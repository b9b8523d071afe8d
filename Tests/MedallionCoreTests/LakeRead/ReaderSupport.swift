import Foundation
import Glibc
@testable import MedallionCore

/// One root per test process under /tmp; removed at the start of a later run.
let readerTestRoot: String = {
    let fm = FileManager.default
    for name in (try? fm.contentsOfDirectory(atPath: "/tmp")) ?? [] where name.hasPrefix("lakeread-tests-") {
        if let pid = Int32(name.dropFirst("lakeread-tests-".count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
            try? fm.removeItem(atPath: "/tmp/" + name)
        }
    }
    let root = "/tmp/lakeread-tests-\(getpid())"
    try! fm.createDirectory(atPath: root, withIntermediateDirectories: true)
    return root
}()

func readerTempDirectory(_ label: String) -> String {
    let path = readerTestRoot + "/\(label)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Deterministic pseudo-random numbers (SplitMix64).
struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// Exact equality, with doubles compared bit for bit (NaN == NaN, -0.0 != 0.0).
func sameValue(_ a: ParquetValue, _ b: ParquetValue) -> Bool {
    if case .double(let x) = a, case .double(let y) = b { return x.bitPattern == y.bitPattern }
    return a == b
}

/// Appends a ParquetValue to a writer buffer of the given Delta type.
func appendValue(_ value: ParquetValue, to buffer: inout ColumnBuffer) {
    switch value {
    case .null: buffer.appendNull()
    case .string(let s): buffer.append(string: s)
    case .binary(let b): b.withUnsafeBytes { buffer.append(string: $0) }
    case .int32(let v): if buffer.type == .date { buffer.append(dateDays: v) } else { buffer.append(int32: v) }
    case .int64(let v): if buffer.type == .timestamp { buffer.append(timestampMicros: v) } else { buffer.append(int64: v) }
    case .double(let v): buffer.append(double: v)
    case .bool(let v): buffer.append(bool: v)
    }
}

/// Collects every row of a scan as dictionaries.
func readAllRows(_ table: DeltaTableReader, columns: [String]? = nil, where include: (DeltaPartitionValues) -> Bool = { _ in true }) throws -> [[String: ParquetValue]] {
    var rows: [[String: ParquetValue]] = []
    try table.forEachRow(columns: columns, where: include) { row in rows.append(row.values) }
    return rows
}

let lakeReadPython = readersPython
/// Same rule as the six-reader checks: skipped in a bare `swift test` without
/// the venv, a failure under `make test` (MEDALLION_REQUIRE_READERS=1).
var pythonAvailable: Bool { readersAvailable }

@discardableResult
func runPython(_ script: String, _ args: [String] = []) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: lakeReadPython)
    p.arguments = ["-c", script] + args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

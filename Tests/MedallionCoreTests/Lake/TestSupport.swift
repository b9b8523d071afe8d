import Foundation
import Glibc
@testable import MedallionCore

/// Hex string ("15 04 ...") -> bytes, so expected values read like the spec.
func hex(_ text: String) -> [UInt8] {
    text.split(separator: " ").map { UInt8($0, radix: 16)! }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
}

/// One root per test process; roots of finished runs are removed when the next run starts,
/// so the latest run's tables stay around for inspection and /tmp does not fill up.
let testRoot: String = {
    let fm = FileManager.default
    for name in (try? fm.contentsOfDirectory(atPath: "/tmp")) ?? [] where name.hasPrefix("lake-tests-") {
        if let pid = Int32(name.dropFirst("lake-tests-".count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
            try? fm.removeItem(atPath: "/tmp/" + name)
        }
    }
    let root = "/tmp/lake-tests-\(getpid())"
    try! fm.createDirectory(atPath: root, withIntermediateDirectories: true)
    return root
}()

/// A fresh empty directory under this run's root, unique per call.
func makeTempDirectory(_ label: String) -> String {
    let path = testRoot + "/\(label)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs a process to completion, returning status and combined output.
@discardableResult
func runProcess(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()  // drain before waiting
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The reader venv `make venv` installs, and the shared checker beside the project.
let readersPython = projectRoot.appendingPathComponent(".venv-readers/bin/python").path
let deltaCheckScript = sharedTestData.deletingLastPathComponent().appendingPathComponent("tools/delta_check.py").path

/// Whether the six-reader checks can run. Without the venv they are skipped in
/// a bare `swift test`, but `make test` sets MEDALLION_REQUIRE_READERS=1, so
/// there a missing venv fails the run instead of silently skipping it.
var readersAvailable: Bool {
    let present = FileManager.default.isExecutableFile(atPath: readersPython) && FileManager.default.fileExists(atPath: deltaCheckScript)
    if !present, ProcessInfo.processInfo.environment["MEDALLION_REQUIRE_READERS"] == "1" {
        fatalError("MEDALLION_REQUIRE_READERS=1 but \(readersPython) or \(deltaCheckScript) is missing: run `make venv`")
    }
    return present
}

/// A small schema used by several tests.
let eventSchema = DeltaSchema([
    DeltaField("tenant", .string),
    DeltaField("seq", .long),
    DeltaField("note", .string),
])

func eventBuffers(_ writer: DeltaTableWriter, rows: Int, start: Int64 = 0) -> [ColumnBuffer] {
    var buffers = writer.makeColumnBuffers()
    for r in 0..<rows {
        buffers[0].append(int64: start + Int64(r))
        if r % 4 == 0 { buffers[1].appendNull() } else { buffers[1].append(string: "note \(r)") }
    }
    return buffers
}

import Foundation
import Testing
@testable import MedallionCore

/// Runs tools/delta_check.py (six real readers) on tables written by the fixtures.
/// Skipped when the reader venv is not installed.
@Suite("Real readers agree (delta_check.py)", .enabled(if: readersAvailable), .serialized)
struct ReaderAgreementTests {
    func check(_ table: String) throws {
        let result = try runProcess(readersPython, [deltaCheckScript, table, "--require-delta-scan", "--quiet"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("0 failure(s)"))
    }

    @Test func allTypesHostilePartitionsSeveralCommitsAndTxn() throws {
        let table = makeTempDirectory("rd-all") + "/t"
        try writeAllTypes(table)
        try check(table)
        let txn = try runProcess(readersPython, ["-c", "from deltalake import DeltaTable; print(DeltaTable('\(table)').transaction_version('demo-sink'))"])
        #expect(txn.output.trimmingCharacters(in: .whitespacesAndNewlines) == "3")
    }

    @Test func manyPagesRowGroupsAndDictionaryFallback() throws {
        let table = makeTempDirectory("rd-paged") + "/t"
        try writePaged(table)
        try check(table)
    }
    // Concurrent processes: tests/e2e/test_sinks.py runs real bronze-sink processes on one table.
}

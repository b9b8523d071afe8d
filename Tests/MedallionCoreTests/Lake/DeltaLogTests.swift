import Foundation
import Synchronization
import Testing
@testable import MedallionCore

@Suite("Delta log commits and snapshots")
struct DeltaLogTests {
    @Test func createWritesProtocolAndMetadataAtVersionZero() throws {
        let table = makeTempDirectory("create")
        let writer = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        #expect(writer.version == 0)
        let v0 = try String(contentsOfFile: table + "/_delta_log/00000000000000000000.json", encoding: .utf8)
        let lines = v0.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix(#"{"commitInfo":{"#))
        #expect(lines[1] == #"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#)
        #expect(lines[2].contains(#""format":{"provider":"parquet","options":{}}"#))
        #expect(lines[2].contains(#""partitionColumns":["tenant"]"#))
        #expect(lines[2].contains(#""configuration":{"#))
        // No temp files are left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: table + "/_delta_log")
        #expect(names == ["00000000000000000000.json"])
    }

    @Test func snapshotReplaysAddsRemovesTxnsAndLatestMetadata() throws {
        let table = makeTempDirectory("replay")
        var writer = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        let a = try writer.writeDataFile(partitionValues: ["acme"], columns: eventBuffers(writer, rows: 10))
        let b = try writer.writeDataFile(partitionValues: [nil], columns: eventBuffers(writer, rows: 5))
        #expect(try writer.commit([a, b], transactions: [DeltaTransaction(appId: "sink", version: 7)]) == .committed(version: 1))
        // A remove written by another engine (e.g. OPTIMIZE) must repeat the add path byte for byte.
        let remove = #"{"remove":{"path":"\#(a.path)","deletionTimestamp":1,"dataChange":true}}"# + "\n"
        #expect(try DeltaLog.putIfAbsent(tablePath: table, version: 2, contents: remove))
        // Schema evolution: add a nullable column.
        var evolved = eventSchema
        evolved.fields.append(DeltaField("extra", .integer))
        try writer.refresh()
        #expect(try writer.commit([], info: DeltaCommitInfo(operation: "SET TBLPROPERTIES"), newSchema: evolved) == .committed(version: 3))
        #expect(writer.dataFields.map(\.name) == ["seq", "note", "extra"])
        var buffers = writer.makeColumnBuffers()
        buffers[0].append(int64: 1); buffers[1].appendNull(); buffers[2].append(int32: 42)
        let c = try writer.writeDataFile(partitionValues: ["acme"], columns: buffers)
        #expect(try writer.commit([c], transactions: [DeltaTransaction(appId: "sink", version: 8)]) == .committed(version: 4))

        let snap = try DeltaSnapshot.load(tablePath: table)
        #expect(snap.version == 4)
        #expect(Set(snap.files.keys) == [b.path, c.path])
        #expect(snap.numRecords == 6)
        #expect(snap.transactionVersion(for: "sink") == 8)
        #expect(snap.schema == evolved)
        #expect(snap.partitionColumns == ["tenant"])
        #expect(snap.protocolVersions == .medallion)
        let v0 = try DeltaSnapshot.load(tablePath: table, trackFiles: false)
        #expect(v0.files.isEmpty && v0.version == 4)
        // metaData id is kept across the evolution.
        let first = try DeltaLog.readCommit(tablePath: table, version: 0)!
        let last = try DeltaLog.readCommit(tablePath: table, version: 3)!
        func id(_ actions: [DeltaLogAction]) -> String? {
            for case .metadata(let m) in actions { return m.id }
            return nil
        }
        #expect(id(first) != nil && id(first) == id(last))
    }

    @Test func twoRewritesOfTheSameFileCannotBothLand() throws {
        let table = makeTempDirectory("rewrite-race")
        var setup = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        let original = try setup.writeDataFile(partitionValues: ["acme"], columns: eventBuffers(setup, rows: 10))
        _ = try setup.commit([original])
        var first = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        var second = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        let a = try first.writeDataFile(partitionValues: ["acme"], columns: eventBuffers(first, rows: 10))
        let b = try second.writeDataFile(partitionValues: ["acme"], columns: eventBuffers(second, rows: 10))
        #expect(try first.commit([a], removes: [original]) == .committed(version: 2))
        // The second saw the same table; its commit would leave two copies of the rows live.
        #expect(throws: LakeError.self) { try second.commit([b], removes: [original]) }
        let live = try DeltaSnapshot.load(tablePath: table).liveFiles.map(\.path)
        #expect(live == [a.path])
    }

    @Test func evolutionRejectsDroppingOrRetypingColumns() throws {
        let table = makeTempDirectory("evolve")
        var writer = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        let dropped = DeltaSchema(Array(eventSchema.fields.dropLast()))
        #expect(throws: LakeError.self) { try writer.commit([], newSchema: dropped) }
        var required = eventSchema
        required.fields.append(DeltaField("x", .long, nullable: false))
        #expect(throws: LakeError.self) { try writer.commit([], newSchema: required) }
    }

    @Test func gapInTheLogIsReported() throws {
        let table = makeTempDirectory("gap")
        var writer = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        _ = try writer.commit([try writer.writeDataFile(partitionValues: ["a"], columns: eventBuffers(writer, rows: 1))])
        try FileManager.default.moveItem(
            atPath: table + "/_delta_log/00000000000000000001.json", toPath: table + "/_delta_log/00000000000000000002.json")
        let error = #expect(throws: LakeError.self) { try DeltaSnapshot.load(tablePath: table) }
        #expect(error?.code == .corruptLog)
        #expect(error?.description.contains("Commit 1 is missing") == true)
    }

    @Test func existingTableWithOtherPartitioningIsRefused() throws {
        let table = makeTempDirectory("mismatch")
        _ = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        let error = #expect(throws: LakeError.self) {
            try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: [])
        }
        #expect(error?.code == .schemaMismatch)
        var other = eventSchema
        other.fields[1] = DeltaField("seq", .string)
        #expect(throws: LakeError.self) {
            try DeltaTableWriter.openOrCreate(at: table, schema: other, partitionColumns: ["tenant"])
        }
    }

    @Test func reSendingACommittedBatchIsDetectedWithoutTouchingTheLog() throws {
        let table = makeTempDirectory("txn-same")
        var writer = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        let add = try writer.writeDataFile(partitionValues: ["a"], columns: eventBuffers(writer, rows: 3))
        #expect(try writer.commit([add], transactions: [DeltaTransaction(appId: "sink", version: 5)]) == .committed(version: 1))
        let again = try writer.writeDataFile(partitionValues: ["a"], columns: eventBuffers(writer, rows: 3))
        #expect(try writer.commit([again], transactions: [DeltaTransaction(appId: "sink", version: 5)])
            == .alreadyCommitted(appId: "sink", recordedVersion: 5, tableVersion: 1))
        #expect(try writer.commit([again], transactions: [DeltaTransaction(appId: "sink", version: 4)])
            == .alreadyCommitted(appId: "sink", recordedVersion: 5, tableVersion: 1))
        #expect(try DeltaSnapshot.load(tablePath: table).version == 1)
        // A restarted writer sees the recorded batch on open.
        let reopened = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        #expect(reopened.transactionVersion(for: "sink") == 5)
        #expect(reopened.transactionVersion(for: "other") == nil)
    }

    @Test func staleWriterLosingToTheSameBatchReportsAlreadyCommitted() throws {
        let table = makeTempDirectory("txn-race")
        var first = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        var stale = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        // An unrelated writer commits in between, so the stale writer must skip two versions.
        let a = try first.writeDataFile(partitionValues: ["a"], columns: eventBuffers(first, rows: 2))
        #expect(try first.commit([a], transactions: [DeltaTransaction(appId: "other", version: 1)]) == .committed(version: 1))
        let b = try first.writeDataFile(partitionValues: ["a"], columns: eventBuffers(first, rows: 2))
        #expect(try first.commit([b], transactions: [DeltaTransaction(appId: "sink", version: 9)]) == .committed(version: 2))
        let c = try stale.writeDataFile(partitionValues: ["a"], columns: eventBuffers(stale, rows: 2))
        #expect(stale.version == 0)
        #expect(try stale.commit([c], transactions: [DeltaTransaction(appId: "sink", version: 9)])
            == .alreadyCommitted(appId: "sink", recordedVersion: 9, tableVersion: 2))
        // A later batch from the stale writer lands after the winners.
        #expect(try stale.commit([c], transactions: [DeltaTransaction(appId: "sink", version: 10)]) == .committed(version: 3))
    }

    @Test func blindAppendsFromAStaleWriterRetryAtTheNextVersion() throws {
        let table = makeTempDirectory("blind")
        var a = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        var b = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        for i in 0..<3 {
            let fa = try a.writeDataFile(partitionValues: ["a"], columns: eventBuffers(a, rows: 1))
            let fb = try b.writeDataFile(partitionValues: ["b"], columns: eventBuffers(b, rows: 1))
            #expect(try a.commit([fa]) == .committed(version: Int64(2 * i + 1)))
            #expect(try b.commit([fb]) == .committed(version: Int64(2 * i + 2)))
        }
        #expect(try DeltaSnapshot.load(tablePath: table).files.count == 6)
    }

    @Test func twoWritersCreatingTheTableTogetherBothLand() throws {
        let table = makeTempDirectory("create-race")
        var a = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"], createEagerly: false)
        var b = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"], createEagerly: false)
        #expect(a.version == -1 && b.version == -1)
        let fa = try a.writeDataFile(partitionValues: ["a"], columns: eventBuffers(a, rows: 4))
        let fb = try b.writeDataFile(partitionValues: ["b"], columns: eventBuffers(b, rows: 6))
        #expect(try a.commit([fa]) == .committed(version: 0))
        #expect(try b.commit([fb]) == .committed(version: 1))
        // The loser's commit carries no second protocol/metaData.
        let v1 = try String(contentsOfFile: table + "/_delta_log/00000000000000000001.json", encoding: .utf8)
        #expect(!v1.contains("metaData") && !v1.contains("protocol"))
        let snap = try DeltaSnapshot.load(tablePath: table)
        #expect(snap.numRecords == 10 && snap.version == 1)
    }

    @Test func creatorWithADifferentSchemaLosingTheRaceIsRefused() throws {
        let table = makeTempDirectory("create-mismatch")
        var a = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"], createEagerly: false)
        let otherSchema = DeltaSchema([DeltaField("tenant", .string), DeltaField("seq", .string)])
        var b = try DeltaTableWriter.openOrCreate(at: table, schema: otherSchema, partitionColumns: ["tenant"], createEagerly: false)
        _ = try a.commit([try a.writeDataFile(partitionValues: ["a"], columns: eventBuffers(a, rows: 1))])
        var buffers = b.makeColumnBuffers()
        buffers[0].append(string: "x")
        let fb = try b.writeDataFile(partitionValues: ["b"], columns: buffers)
        let error = #expect(throws: LakeError.self) { try b.commit([fb]) }
        #expect(error?.code == .schemaMismatch)
        #expect(try DeltaSnapshot.load(tablePath: table).version == 0)
    }

    @Test func threadsWithSeparateWritersLoseNoCommit() throws {
        let table = makeTempDirectory("threads")
        _ = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
        let threads = 6, commits = 8
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            do {
                var w = try DeltaTableWriter.openOrCreate(at: table, schema: eventSchema, partitionColumns: ["tenant"])
                for c in 1...commits {
                    let add = try w.writeDataFile(partitionValues: ["t\(t)"], columns: eventBuffers(w, rows: 3))
                    let outcome = try w.commit([add], transactions: [DeltaTransaction(appId: "thread-\(t)", version: Int64(c))])
                    guard case .committed = outcome else { throw LakeError(.commitConflict, "unexpected \(outcome)") }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let snap = try DeltaSnapshot.load(tablePath: table)
        #expect(snap.version == Int64(threads * commits))
        #expect(snap.files.count == threads * commits)
        #expect(snap.numRecords == Int64(threads * commits * 3))
        for t in 0..<threads { #expect(snap.transactionVersion(for: "thread-\(t)") == Int64(commits)) }
    }

    // Racing processes: tests/e2e/test_sinks.py (real bronze-sink processes appending at once).
}

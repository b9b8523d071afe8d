import Foundation
import Testing
@testable import MedallionCore

@Suite("Partition paths: Hive escaping, URI encoding, containment")
struct PartitionPathTests {
    static let hostile: [String?] = [
        "..", ".", "../../etc", "a/b", "/abs", "%", "%2F", "a b", "  ", "ünï", "😀", "", nil, "x=y#z:?&",
        "__HIVE_DEFAULT_PARTITION__", "back\\slash", "nul\u{0}byte", "line\nbreak", "_hidden", ".dot",
    ]

    @Test func specExampleEscapesTwice() {
        let dir = PartitionPath.directory(columns: ["tenant_id"], values: ["b c/d%e=f"])
        #expect(dir == "tenant_id=b%20c%2Fd%25e%3Df")
        #expect(PartitionPath.uriEncode(dir + "/f.parquet") == "tenant_id=b%2520c%252Fd%2525e%253Df/f.parquet")
    }

    @Test func keepsSafeCharactersAndUppercasesHex() {
        #expect(PartitionPath.hiveEscape("AZaz09._-") == "AZaz09._-")
        #expect(PartitionPath.hiveEscape("ü") == "%C3%BC")
        #expect(PartitionPath.hiveEscape(":") == "%3A")
    }

    @Test func nullAndEmptyBecomeHiveDefaultPartition() {
        #expect(PartitionPath.directory(columns: ["a", "b"], values: [nil, ""]) == "a=__HIVE_DEFAULT_PARTITION__/b=__HIVE_DEFAULT_PARTITION__")
        #expect(PartitionPath.normalize("") == nil)
    }

    @Test(arguments: hostile)
    func hostileValueStaysOneSegmentInsideTable(value: String?) {
        let dir = PartitionPath.directory(columns: ["p"], values: [value])
        let segments = dir.split(separator: "/", omittingEmptySubsequences: false)
        #expect(segments.count == 1, "value \(String(describing: value)) produced \(dir)")
        #expect(dir.hasPrefix("p="))
        #expect(dir != "." && dir != "..")
        #expect(dir.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "only printable ASCII on disk")
        // The log path decodes (once, as readers do) back to the directory,
        // and the directory decodes back to the value.
        let logPath = PartitionPath.uriEncode(dir)
        #expect(PartitionPath.percentDecode(logPath) == dir)
        let escaped = String(dir.dropFirst(2))
        if let v = PartitionPath.normalize(value) {
            #expect(PartitionPath.percentDecode(escaped) == v)
        } else {
            #expect(escaped == PartitionPath.nullDirectoryValue)
        }
    }

    @Test func hostileValuesWrittenToDiskStayUnderTheTable() throws {
        let table = makeTempDirectory("contain")
        let schema = DeltaSchema([DeltaField("p", .string), DeltaField("q", .string), DeltaField("n", .long)])
        let writer = try DeltaTableWriter.openOrCreate(at: table, schema: schema, partitionColumns: ["p", "q"])
        let root = URL(fileURLWithPath: table).resolvingSymlinksInPath().path + "/"
        for value in Self.hostile {
            var buffers = writer.makeColumnBuffers()
            buffers[0].append(int64: 1)
            let add = try writer.writeDataFile(partitionValues: [value, value], columns: buffers)
            let onDisk = table + "/" + PartitionPath.percentDecode(add.path)!
            #expect(FileManager.default.fileExists(atPath: onDisk))
            let resolved = URL(fileURLWithPath: onDisk).standardizedFileURL.resolvingSymlinksInPath().path
            #expect(resolved.hasPrefix(root), "\(String(describing: value)) escaped to \(resolved)")
            #expect(add.partitionValues.map(\.value) == [PartitionPath.normalize(value), PartitionPath.normalize(value)])
        }
        // Nothing was created outside the table directory's tree.
        let parentEntries = try FileManager.default.contentsOfDirectory(atPath: table)
        #expect(parentEntries.allSatisfy { $0 == "_delta_log" || $0.hasPrefix("p=") })
    }

    @Test func partitionColumnNamesMustBeStableAndVisible() {
        #expect(PartitionPath.isValidPartitionColumnName("tenant_id"))
        #expect(!PartitionPath.isValidPartitionColumnName("_source"))
        #expect(!PartitionPath.isValidPartitionColumnName(".x"))
        #expect(!PartitionPath.isValidPartitionColumnName("a b"))
        #expect(!PartitionPath.isValidPartitionColumnName(""))
    }

    @Test func typedPartitionValuesMustBeCanonical() throws {
        #expect(PartitionPath.formatProblem("2024-05-17", type: .date) == nil)
        #expect(PartitionPath.formatProblem("2024/05/17", type: .date) != nil)
        #expect(PartitionPath.formatProblem("20240517", type: .date) != nil)
        #expect(PartitionPath.formatProblem("-12", type: .long) == nil)
        #expect(PartitionPath.formatProblem("1e3", type: .long) != nil)
        #expect(PartitionPath.formatProblem("true", type: .boolean) == nil)
        #expect(PartitionPath.formatProblem("True", type: .boolean) != nil)
        #expect(PartitionPath.formatProblem("2024-05-17 12:00:00.123456", type: .timestamp) == nil)
        #expect(PartitionPath.formatProblem("2024-05-17T12:00:00", type: .timestamp) != nil)
        let table = makeTempDirectory("typed")
        let schema = DeltaSchema([DeltaField("day", .date), DeltaField("n", .long)])
        let writer = try DeltaTableWriter.openOrCreate(at: table, schema: schema, partitionColumns: ["day"])
        let error = #expect(throws: LakeError.self) { try writer.openDataFile(partitionValues: ["2024/05/17"]) }
        #expect(error?.description.contains("YYYY-MM-DD") == true)
    }
}

import Foundation
import Testing
@testable import MedallionCore

@Suite("NDJSON framing")
struct LineReaderTests {
    func lines(_ bytes: [UInt8], maxLine: Int = 1 << 20, readSize: Int = 4096) throws -> [(String, Line)] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lr-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = LineReader(source: try InputSource(path: path), maxLineLength: maxLine, readSize: readSize)
        var out: [(String, Line)] = []
        while let line = try reader.next() {
            out.append((String(decoding: line.bytes, as: UTF8.self), line))
        }
        return out
    }

    @Test func stripsCRLFAndKeepsAnUnterminatedLastLine() throws {
        let got = try lines([UInt8]("a\r\nb\n\nc"))
        #expect(got.map(\.0) == ["a", "b", "", "c"])
        #expect(got.map(\.1.terminated) == [true, true, true, false])
        #expect(got.map(\.1.number) == [1, 2, 3, 4])
    }

    @Test func linesSpanningManyReadsAreReassembled() throws {
        let text = (0..<2000).map { "line-\($0)-" + String(repeating: "x", count: $0 % 300) }
        let got = try lines([UInt8](text.joined(separator: "\n") + "\n"), readSize: 4096)
        #expect(got.map(\.0) == text)
    }

    @Test func aTenMebibyteLineBecomesAPrefixAndTheStreamGoesOn() throws {
        let long = [UInt8](repeating: UInt8(ascii: "z"), count: 10 << 20)
        let got = try lines([UInt8]("first\n") + long + [UInt8]("\nlast\n"), maxLine: 1 << 20, readSize: 1 << 16)
        #expect(got.count == 3)
        #expect(got[0].0 == "first")
        #expect(got[1].1.tooLong)
        #expect(got[1].1.length == 10 << 20)
        #expect(got[1].1.bytes.count == LineReader.prefixLimit)
        #expect(got[2].0 == "last")
        #expect(got[2].1.number == 3)
    }

    @Test func anOverlongLineAtEOFWithoutNewlineIsReported() throws {
        let got = try lines([UInt8](repeating: UInt8(ascii: "q"), count: 5000), maxLine: 100, readSize: 4096)
        #expect(got.count == 1)
        #expect(got[0].1.tooLong && !got[0].1.terminated && got[0].1.length == 5000)
    }

    @Test func aLineExactlyAtTheLimitIsAccepted() throws {
        let got = try lines([UInt8](repeating: UInt8(ascii: "q"), count: 100) + [0x0A], maxLine: 100, readSize: 4096)
        #expect(got.count == 1 && !got[0].1.tooLong && got[0].1.length == 100)
    }

    @Test func missingInputNamesThePath() {
        #expect(throws: StageError.self) { _ = try InputSource(path: "/nonexistent/x.ndjson") }
        do {
            _ = try InputSource(path: "/nonexistent/x.ndjson")
        } catch {
            #expect(error.message.contains("/nonexistent/x.ndjson"))
            #expect(error.exitStatus == .noInput)
        }
    }
}

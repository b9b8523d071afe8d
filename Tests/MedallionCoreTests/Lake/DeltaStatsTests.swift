import Foundation
import Testing
@testable import MedallionCore

@Suite("Delta stats formatting")
struct DeltaStatsTests {
    @Test func timestampsTruncateDownToMillisWithThreeDigits() {
        #expect(DeltaStats.formatTimestampMillis(1_715_947_200_123_456) == "2024-05-17T12:00:00.123Z")
        #expect(DeltaStats.formatTimestampMillis(1_715_947_200_123_999) == "2024-05-17T12:00:00.123Z")
        #expect(DeltaStats.formatTimestampMillis(1_715_947_200_000_000) == "2024-05-17T12:00:00.000Z")
        #expect(DeltaStats.formatTimestampMillis(0) == "1970-01-01T00:00:00.000Z")
        // Negative values floor (towards the past), so a min stays a lower bound.
        #expect(DeltaStats.formatTimestampMillis(-1) == "1969-12-31T23:59:59.999Z")
        #expect(DeltaStats.formatTimestampMillis(-1_000) == "1969-12-31T23:59:59.999Z")
        #expect(DeltaStats.formatTimestampMillis(-1_001) == "1969-12-31T23:59:59.998Z")
    }

    @Test func datesUseProlepticGregorianAndFourDigitYears() {
        #expect(DeltaStats.formatDate(days: 0) == "1970-01-01")
        #expect(DeltaStats.formatDate(days: 19_860) == "2024-05-17")
        #expect(DeltaStats.formatDate(days: -1) == "1969-12-31")
        #expect(DeltaStats.formatDate(days: -719_162) == "0001-01-01")
        #expect(DeltaStats.formatDate(days: 2_932_896) == "9999-12-31")
        #expect(DeltaStats.formatDate(days: 2_932_897) == nil)  // year 10000: no bound
        #expect(DeltaStats.daysFromCivil(year: 2024, month: 5, day: 17) == 19_860)
        for days in stride(from: Int64(-800_000), to: 3_000_000, by: 997) {
            let (y, m, d) = DeltaStats.civilFromDays(days)
            #expect(DeltaStats.daysFromCivil(year: y, month: m, day: d) == days)
        }
    }

    @Test func shortStringsAreExactBounds() {
        #expect(DeltaStats.truncatedMin(Array("abc".utf8)) == "abc")
        #expect(DeltaStats.truncatedMax(Array("ünï".utf8)) == "ünï")
        let exactly32 = String(repeating: "x", count: 32)
        #expect(DeltaStats.truncatedMax(Array(exactly32.utf8)) == exactly32)
    }

    @Test func longStringMinIsA32CharacterPrefix() {
        let long = String(repeating: "a", count: 40)
        #expect(DeltaStats.truncatedMin(Array(long.utf8)) == String(repeating: "a", count: 32))
        let emoji = String(repeating: "😀", count: 40)
        #expect(DeltaStats.truncatedMin(Array(emoji.utf8)) == String(repeating: "😀", count: 32))
    }

    @Test func longStringMaxIsBumpedToStayAnUpperBound() {
        let long = String(repeating: "a", count: 40)
        let max = DeltaStats.truncatedMax(Array(long.utf8))!
        #expect(max == String(repeating: "a", count: 31) + "b")
        #expect(Array(max.utf8).lexicographicallyPrecedes(Array(long.utf8)) == false)
        // A maximal code point cannot be bumped: the previous character is.
        let top = String(repeating: "a", count: 31) + "\u{10FFFF}" + "zzz"
        #expect(DeltaStats.truncatedMax(Array(top.utf8)) == String(repeating: "a", count: 30) + "b")
        // Bumping U+D7FF skips the surrogate range.
        let edge = String(repeating: "a", count: 31) + "\u{D7FF}" + "zzz"
        #expect(DeltaStats.truncatedMax(Array(edge.utf8)) == String(repeating: "a", count: 31) + "\u{E000}")
        // Nothing can be bumped: no bound at all.
        let all = String(repeating: "\u{10FFFF}", count: 33)
        #expect(DeltaStats.truncatedMax(Array(all.utf8)) == nil)
    }

    @Test func invalidUTF8GetsNoStringBound() {
        #expect(DeltaStats.truncatedMin([0xFF, 0xFE]) == nil)
        #expect(DeltaStats.truncatedMax([0xC3]) == nil)
    }

    @Test func statsJSONShapeAndRules() throws {
        let fields = [
            DeltaField("l", .long), DeltaField("d", .double), DeltaField("nan", .double), DeltaField("z", .double),
            DeltaField("ts", .timestamp), DeltaField("b", .boolean), DeltaField("bin", .binary),
            DeltaField("allnull", .string), DeltaField("s", .string),
        ]
        let stats = [
            ColumnStatistics(nullCount: 1, min: .int64(-5), max: .int64(7)),
            ColumnStatistics(nullCount: 0, min: .double(-1.5), max: .double(.infinity)),
            ColumnStatistics(nullCount: 0, min: .double(1), max: .double(2), sawNaN: true),
            ColumnStatistics(nullCount: 0, min: .double(0.0), max: .double(-0.0)),
            ColumnStatistics(nullCount: 2, min: .int64(1_715_947_200_123_456), max: .int64(1_715_947_200_999_999)),
            ColumnStatistics(nullCount: 0, min: .bool(false), max: .bool(true)),
            ColumnStatistics(nullCount: 3, min: .bytes([0]), max: .bytes([255])),
            ColumnStatistics(nullCount: 10),
            ColumnStatistics(nullCount: 0, min: .bytes(Array("q\"uote".utf8)), max: .bytes(Array("zz".utf8))),
        ]
        let text = DeltaStats.json(numRecords: 10, fields: fields, statistics: stats)
        #expect(text == #"{"numRecords":10,"minValues":{"l":-5,"d":-1.5,"z":-0.0,"ts":"2024-05-17T12:00:00.123Z","b":false,"s":"q\"uote"},"maxValues":{"l":7,"z":0.0,"ts":"2024-05-17T12:00:00.999Z","b":true,"s":"zz"},"nullCount":{"l":1,"d":0,"nan":0,"z":0,"ts":2,"b":0,"bin":3,"allnull":10,"s":0}}"#)
        // It must parse as JSON (it is embedded in add.stats as a string).
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [String: Any])
    }

    @Test func addActionEmbedsStatsAsAJSONString() throws {
        let add = DeltaAddAction(
            path: "p=a%2520b/f.parquet", partitionValues: [PartitionValue("p", "a b"), PartitionValue("q", "")],
            size: 123, modificationTime: 5, stats: #"{"numRecords":1}"#)
        #expect(add.jsonLine == #"{"add":{"path":"p=a%2520b/f.parquet","partitionValues":{"p":"a b","q":null},"size":123,"modificationTime":5,"dataChange":true,"stats":"{\"numRecords\":1}"}}"#)
    }

    @Test func schemaStringHasAllFourKeysPerField() {
        let schema = DeltaSchema([DeltaField("a", .string), DeltaField("b", .timestamp, nullable: false)])
        #expect(schema.schemaString == #"{"type":"struct","fields":[{"name":"a","type":"string","nullable":true,"metadata":{}},{"name":"b","type":"timestamp","nullable":false,"metadata":{}}]}"#)
    }
}

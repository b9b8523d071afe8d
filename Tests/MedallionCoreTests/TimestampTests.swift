import Testing
@testable import MedallionCore

@Suite("RFC 3339 timestamps")
struct TimestampTests {
    func parse(_ text: String) -> Result<Int64, Timestamp.ParseError> {
        [UInt8](text).withUnsafeBytes { Timestamp.parseMicros($0) }
    }

    @Test func parsesUTCWithAndWithoutFractions() throws {
        #expect(try parse("1970-01-01T00:00:00Z").get() == 0)
        #expect(try parse("1970-01-01T00:00:01.5Z").get() == 1_500_000)
        #expect(try parse("2026-03-01T12:00:00.123456789Z").get() == 1_772_366_400_123_456)
        #expect(try parse("2026-03-01t12:00:00z").get() == 1_772_366_400_000_000)
        #expect(try parse("2026-03-01T12:00:00+00:00").get() == 1_772_366_400_000_000)
        #expect(try parse("1969-12-31T23:59:59Z").get() == -1_000_000)
        #expect(try parse("2024-02-29T00:00:00Z").get() == 1_709_164_800_000_000)
    }

    @Test(arguments: ["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
                      "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
                      "2026-01-01T00:00:60Z", "2026-00-10T00:00:00Z"])
    func rejectsDatesAndTimesThatDoNotExist(text: String) {
        #expect(parse(text) == .failure(.outOfRange))
    }

    @Test(arguments: ["2026-03-01T12:00:00+02:00", "2026-03-01T12:00:00-05:30"])
    func rejectsNonUTCOffsets(text: String) {
        #expect(parse(text) == .failure(.notUTC))
    }

    @Test(arguments: ["2026-03-01 12:00:00Z", "2026-03-01T12:00:00", "2026-3-01T12:00:00Z", "yesterday",
                      "2026-03-01T12:00:00.Z", "2026-03-01T12:00:00.1234567890Z", "2026-03-01T12:00:00Zjunk", ""])
    func rejectsMalformedText(text: String) {
        #expect(parse(text) == .failure(.malformed))
    }

    @Test func civilDateConversionsRoundTripAcrossFourCenturies() {
        for days in stride(from: -200_000, to: 200_000, by: 17) {
            let (y, m, d) = Timestamp.civilFromDays(days)
            #expect(Timestamp.daysFromCivil(year: y, month: m, day: d) == days)
        }
    }

    @Test func printsMillisecondsTruncated() {
        #expect(Timestamp.isoMillis(1_772_366_400_123_999) == "2026-03-01T12:00:00.123Z")
        #expect(Timestamp.isoMillis(-1) == "1969-12-31T23:59:59.999Z")
    }
}

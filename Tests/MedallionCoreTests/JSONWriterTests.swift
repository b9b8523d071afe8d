import Foundation
import Testing
@testable import MedallionCore

@Suite("JSON writer")
struct JSONWriterTests {
    @Test func escapesQuotesBackslashesAndControlCharacters() {
        var w = JSONWriter()
        w.beginObject()
        w.key("k\"")
        w.string("a\"b\\c\n\t\u{1}\u{1F}é")
        w.key("n"); w.int(-42)
        w.key("d"); w.double(2.5)
        w.key("big"); w.int(Int64.min)
        w.key("nan"); w.double(.nan)
        w.key("negzero"); w.double(-0.0)
        w.key("arr"); w.beginArray(); w.bool(true); w.null(); w.int(0); w.endArray()
        w.endObject()
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text == #"{"k\"":"a\"b\\c\n\t\u0001\u001fé","n":-42,"d":2.5,"big":-9223372036854775808,"nan":null,"negzero":-0.0,"arr":[true,null,0]}"#)
        #expect((try? scan(w.bytes).get()) == .object)
    }

    @Test func everyControlCharacterRoundTripsThroughTheScanner() {
        var w = JSONWriter()
        let all = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self)
        w.string(all)
        #expect((try? scan(w.bytes).get()) == .string)
        let decoded = w.bytes.withUnsafeBytes { JSONString.decode(UnsafeRawBufferPointer(rebasing: $0[1..<($0.count - 1)])) }
        #expect(decoded == all)
    }

    @Test func base64RoundTrips() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 200) }
            var encoded: [UInt8] = []
            bytes.withUnsafeBytes { Base64.encode($0, into: &encoded) }
            #expect(Base64.decode(encoded) == bytes)
        }
        var hello: [UInt8] = []
        [UInt8]("hello").withUnsafeBytes { Base64.encode($0, into: &hello) }
        #expect(String(decoding: hello, as: UTF8.self) == "aGVsbG8=")
    }
}

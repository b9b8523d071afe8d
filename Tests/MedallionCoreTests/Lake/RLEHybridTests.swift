import Testing
@testable import MedallionCore

/// A reference decoder for the RLE/bit-packed hybrid, used to round-trip the encoder.
func decodeHybrid(_ bytes: [UInt8], bitWidth: Int, count: Int) -> [UInt64] {
    var out: [UInt64] = []
    var i = 0
    func varint() -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            let b = bytes[i]; i += 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }
    while out.count < count && i < bytes.count {
        let header = varint()
        if header & 1 == 0 {
            let run = Int(header >> 1)
            var v: UInt64 = 0
            for k in 0..<((bitWidth + 7) / 8) { v |= UInt64(bytes[i + k]) << UInt64(8 * k) }
            i += (bitWidth + 7) / 8
            out += Array(repeating: v, count: run)
        } else {
            let groups = Int(header >> 1)
            var bitPos = 0
            for _ in 0..<(groups * 8) {
                var v: UInt64 = 0
                for b in 0..<bitWidth {
                    let byte = bytes[i + (bitPos + b) / 8]
                    v |= UInt64((byte >> UInt8((bitPos + b) % 8)) & 1) << UInt64(b)
                }
                bitPos += bitWidth
                out.append(v)
            }
            i += groups * bitWidth
        }
    }
    return Array(out.prefix(count))
}

@Suite("RLE / bit-packed hybrid")
struct RLEHybridTests {
    func encodeLevels(_ levels: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        levels.withUnsafeBufferPointer { RLEHybridEncoder.appendLevelsWithLengthPrefix($0, bitWidth: 1, into: &out) }
        return out
    }

    @Test func shortMixedLevelsAreBitPackedWithLengthPrefix() {
        #expect(encodeLevels([1, 0, 1, 1]) == hex("02 00 00 00 03 0D"))
    }

    @Test func rleRunsMatchSpecExample() {
        var out: [UInt8] = []
        RLEHybridEncoder.appendRLERun(value: 1, count: 1, bitWidth: 1, into: &out)
        RLEHybridEncoder.appendRLERun(value: 0, count: 1, bitWidth: 1, into: &out)
        RLEHybridEncoder.appendRLERun(value: 1, count: 2, bitWidth: 1, into: &out)
        #expect(out == hex("02 01 02 00 04 01"))
    }

    @Test func longRunOfPresentValuesIsOneRLERun() {
        #expect(encodeLevels(Array(repeating: 1, count: 100)) == hex("03 00 00 00 C8 01 01"))
    }

    @Test func dictionaryIndicesExampleFromSpec() {
        var out: [UInt8] = []
        let indices: [UInt32] = [0, 1, 1, 2, 0]
        indices.withUnsafeBufferPointer { RLEHybridEncoder.encode($0, bitWidth: 2, into: &out) }
        #expect(out == hex("03 94 00"))
    }

    @Test func booleansPackLeastSignificantBitFirst() {
        var out: [UInt8] = []
        let bools: [UInt8] = [1, 0, 1, 1, 0, 0, 0, 0, 1]
        bools.withUnsafeBufferPointer { ParquetFileWriter.packBooleans($0, into: &out) }
        #expect(out == hex("0D 01"))
    }

    @Test func bitWidthIsAtLeastOne() {
        #expect(RLEHybridEncoder.bitWidth(forMaxValue: 0) == 1)
        #expect(RLEHybridEncoder.bitWidth(forMaxValue: 1) == 1)
        #expect(RLEHybridEncoder.bitWidth(forMaxValue: 2) == 2)
        #expect(RLEHybridEncoder.bitWidth(forMaxValue: 255) == 8)
        #expect(RLEHybridEncoder.bitWidth(forMaxValue: 256) == 9)
    }

    @Test(arguments: [1, 2, 3, 7, 8, 13, 17, 31])
    func randomSequencesRoundTrip(bitWidth: Int) {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<40 {
            let count = Int.random(in: 1...700, using: &rng)
            let maxValue = UInt32((UInt64(1) << UInt64(bitWidth)) - 1)
            // Mix long runs and noise so both run kinds and their boundaries are exercised.
            var values: [UInt32] = []
            while values.count < count {
                let v = UInt32.random(in: 0...maxValue, using: &rng)
                let run = trial % 3 == 0 ? 1 : Int.random(in: 1...20, using: &rng)
                values += Array(repeating: v, count: min(run, count - values.count))
            }
            var out: [UInt8] = []
            values.withUnsafeBufferPointer { RLEHybridEncoder.encode($0, bitWidth: bitWidth, into: &out) }
            #expect(decodeHybrid(out, bitWidth: bitWidth, count: count) == values.map(UInt64.init))
        }
    }
}

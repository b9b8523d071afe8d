/// The Parquet RLE / bit-packed hybrid encoding, used for definition levels and
/// for dictionary indices.
///
/// Runs of at least eight equal values become RLE runs (`varint(count<<1)` + the
/// value in `ceil(bw/8)` bytes); everything else is bit-packed in groups of eight
/// (`varint(groups<<1 | 1)` + `groups * bw` bytes, least significant bit first).
/// Only the very last group may be zero-padded: readers stop at `num_values`.
/// The encoder reads from unsafe buffers and appends to a caller-owned `[UInt8]`
/// so a page costs no allocation once the scratch buffer has grown.
enum RLEHybridEncoder {
    /// Runs shorter than this are bit-packed; eight is the group size, the break-even point.
    static let minimumRLERun = 8

    /// Number of bits needed to represent `maxValue` (at least 1, which every reader accepts).
    static func bitWidth(forMaxValue maxValue: UInt64) -> Int {
        max(1, 64 - maxValue.leadingZeroBitCount)
    }

    /// Appends `values` in the hybrid encoding (no length prefix).
    static func encode<T: FixedWidthInteger & UnsignedInteger>(
        _ values: UnsafeBufferPointer<T>, bitWidth: Int, into out: inout [UInt8]
    ) {
        let n = values.count
        var i = 0
        while i < n {
            let run = runLength(values, from: i)
            if run >= minimumRLERun {
                appendRLERun(value: UInt64(values[i]), count: run, bitWidth: bitWidth, into: &out)
                i += run
                continue
            }
            // Bit-pack whole groups of eight until a long run starts at a group boundary.
            var end = i
            repeat {
                end = min(end + 8, n)
            } while end < n && runLength(values, from: end) < minimumRLERun
            appendBitPackedRun(values, from: i, to: end, bitWidth: bitWidth, into: &out)
            i = end
        }
    }

    /// Length of the run of equal values starting at `start`, capped at the buffer end.
    @inline(__always)
    static func runLength<T: FixedWidthInteger>(_ values: UnsafeBufferPointer<T>, from start: Int) -> Int {
        let first = values[start]
        var j = start + 1
        while j < values.count && values[j] == first { j += 1 }
        return j - start
    }

    /// Appends one RLE run: header `varint(count << 1)`, then the value in `ceil(bw/8)` LE bytes.
    static func appendRLERun(value: UInt64, count: Int, bitWidth: Int, into out: inout [UInt8]) {
        appendVarint(UInt64(count) << 1, into: &out)
        var v = value
        for _ in 0..<((bitWidth + 7) / 8) {
            out.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    /// Appends one bit-packed run for `values[start..<end]`, zero-padding the last group.
    static func appendBitPackedRun<T: FixedWidthInteger & UnsignedInteger>(
        _ values: UnsafeBufferPointer<T>, from start: Int, to end: Int, bitWidth: Int,
        into out: inout [UInt8]
    ) {
        // With bitWidth <= 32 the accumulator never holds more than 7 + 32 bits.
        precondition(bitWidth >= 1 && bitWidth <= 32, "bit width \(bitWidth) out of range")
        let groups = (end - start + 7) / 8
        appendVarint((UInt64(groups) << 1) | 1, into: &out)
        var accumulator: UInt64 = 0
        var bits = 0
        let mask: UInt64 = (1 << UInt64(bitWidth)) - 1
        for k in 0..<(groups * 8) {
            let idx = start + k
            let v: UInt64 = idx < end ? UInt64(values[idx]) & mask : 0
            accumulator |= v << UInt64(bits)
            bits += bitWidth
            while bits >= 8 {
                out.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator >>= 8
                bits -= 8
            }
        }
        if bits > 0 { out.append(UInt8(truncatingIfNeeded: accumulator)) }
    }

    @inline(__always)
    static func appendVarint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Appends definition levels for a v1 data page: a 4-byte LE byte length, then the hybrid runs.
    static func appendLevelsWithLengthPrefix(
        _ levels: UnsafeBufferPointer<UInt8>, bitWidth: Int, into out: inout [UInt8]
    ) {
        let lengthAt = out.count
        out.append(contentsOf: [0, 0, 0, 0])
        encode(levels, bitWidth: bitWidth, into: &out)
        let length = UInt32(out.count - lengthAt - 4)
        out[lengthAt] = UInt8(truncatingIfNeeded: length)
        out[lengthAt + 1] = UInt8(truncatingIfNeeded: length >> 8)
        out[lengthAt + 2] = UInt8(truncatingIfNeeded: length >> 16)
        out[lengthAt + 3] = UInt8(truncatingIfNeeded: length >> 24)
    }
}

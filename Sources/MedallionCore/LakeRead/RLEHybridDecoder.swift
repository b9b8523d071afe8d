/// Decoder for the Parquet RLE / bit-packed hybrid encoding (definition levels,
/// dictionary indices, RLE booleans), the inverse of ``RLEHybridEncoder``.
///
/// Input is untrusted: run headers, run lengths and value widths are all checked
/// against the bytes available and the values still wanted, and a failure is
/// reported as a message (the caller turns it into a `LakeError` naming the file).
enum RLEHybridDecoder {
    struct Failure: Error {
        var message: String
        /// Byte offset inside the decoded buffer where decoding failed.
        var offset: Int
    }

    /// Appends exactly `count` values of `bitWidth` bits (0...32) decoded from `src`
    /// to `out`, and returns the number of bytes consumed.
    ///
    /// - Parameter maxValue: every decoded value must be `<= maxValue` (e.g. 1 for
    ///   definition levels, `dictionaryCount - 1` for indices).
    @discardableResult
    static func decode(
        _ src: UnsafeRawBufferPointer, bitWidth: Int, count: Int, maxValue: UInt32, into out: inout [UInt32]
    ) throws(Failure) -> Int {
        guard bitWidth >= 0 && bitWidth <= 32 else { throw Failure(message: "bit width \(bitWidth) is above 32", offset: 0) }
        guard count > 0 else { return 0 }
        out.reserveCapacity(out.count + count)
        let n = src.count
        let mask: UInt64 = bitWidth == 0 ? 0 : (UInt64(1) << UInt64(bitWidth)) - 1
        var pos = 0
        var produced = 0
        while produced < count {
            // Run header: a varint of at most 5 significant bytes is plenty; cap at 10.
            let headerAt = pos
            var header: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard pos < n else {
                    throw Failure(message: "data ends after \(produced) of \(count) values", offset: headerAt)
                }
                let b = src[pos]
                pos += 1
                header |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
                guard shift < 64 else { throw Failure(message: "run header varint too long", offset: headerAt) }
            }
            let wanted = count - produced
            if header & 1 == 1 {
                // Bit-packed: groups of 8 values, groups * bitWidth bytes.
                let groups = header >> 1
                let runValues = groups > UInt64(Int.max / 8) ? Int.max : Int(groups) * 8
                let take = min(runValues, wanted)
                let bytesNeeded = (take * bitWidth + 7) / 8
                guard bytesNeeded <= n - pos else {
                    throw Failure(message: "bit-packed run needs \(bytesNeeded) bytes, \(n - pos) left", offset: headerAt)
                }
                var acc: UInt64 = 0
                var bits = 0
                var p = pos
                for _ in 0..<take {
                    while bits < bitWidth {
                        acc |= UInt64(src[p]) << UInt64(bits)
                        p += 1
                        bits += 8
                    }
                    let v = acc & mask
                    guard v <= UInt64(maxValue) else {
                        throw Failure(message: "value \(v) exceeds the maximum \(maxValue)", offset: headerAt)
                    }
                    out.append(UInt32(truncatingIfNeeded: v))
                    acc >>= UInt64(bitWidth)
                    bits -= bitWidth
                }
                // Skip the whole run (padding included); tolerate a final run cut short.
                let runBytes = groups > UInt64(Int.max / 32) ? Int.max : Int(groups) * bitWidth
                pos += min(runBytes, n - pos)
                produced += take
            } else {
                let runLength = header >> 1
                let valueBytes = (bitWidth + 7) / 8
                guard valueBytes <= n - pos else {
                    throw Failure(message: "RLE run value needs \(valueBytes) bytes, \(n - pos) left", offset: headerAt)
                }
                var v: UInt64 = 0
                for k in 0..<valueBytes { v |= UInt64(src[pos + k]) << UInt64(8 * k) }
                pos += valueBytes
                let take = runLength > UInt64(wanted) ? wanted : Int(runLength)
                if take > 0 {
                    guard v <= UInt64(maxValue) && v <= mask else {
                        throw Failure(message: "RLE value \(v) exceeds the maximum \(maxValue)", offset: headerAt)
                    }
                    out.append(contentsOf: repeatElement(UInt32(truncatingIfNeeded: v), count: take))
                }
                produced += take
            }
        }
        return pos
    }

    /// Bit width needed for values up to `maxValue` (0 for 0), as Parquet computes it for levels.
    static func bitWidth(forMaxLevel maxValue: Int) -> Int {
        maxValue <= 0 ? 0 : Int.bitWidth - maxValue.leadingZeroBitCount
    }
}

/// Decoding of JSON string literals that the scanner has already validated.
package enum JSONString {
    /// Decodes the *contents* of a validated string literal (the bytes between
    /// the quotes) to UTF-8, resolving escapes. Surrogate pairs are combined;
    /// the scanner has already rejected lone surrogates.
    package static func decode(_ body: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var i = 0
        let n = body.count
        out.reserveCapacity(out.count + n)
        while i < n {
            let b = body[i]
            guard b == UInt8(ascii: "\\"), i + 1 < n else {
                out.append(b)
                i += 1
                continue
            }
            let e = body[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(body, i)
                i += 4
                if scalar >= 0xD800, scalar <= 0xDBFF, i + 6 <= n {
                    let low = hex4(body, i + 2)
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                appendUTF8(scalar, to: &out)
            default: out.append(e)  // \" \\ \/
            }
        }
    }

    package static func decode(_ body: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        decode(body, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex4(_ s: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in at..<min(at + 4, s.count) {
            let c = UInt32(s[k])
            let d: UInt32 = c <= 57 ? c - 48 : (c | 0x20) - 87
            v = v << 4 | d
        }
        return v
    }

    package static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}

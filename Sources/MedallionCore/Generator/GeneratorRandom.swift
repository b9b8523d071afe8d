/// Small, fast random number generator with a fixed algorithm.
///
/// We do not use `SystemRandomNumberGenerator` or the standard library's
/// default generator because their algorithms are not specified: a seed must
/// give byte-identical output on every platform and every future toolchain,
/// or a benchmark or a failing test cannot be reproduced. xoshiro256** is
/// small, passes BigCrush, and costs a handful of instructions per draw.
struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Expands one 64-bit seed into the 256-bit state with SplitMix64, as the
    /// xoshiro authors recommend, so that similar seeds still give unrelated
    /// streams and the all-zero state can never occur.
    init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 0x9E37_79B9_7F4A_7C15 }
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// A value in `0..<bound` by Lemire's multiply-shift. The tiny bias it
    /// keeps (at most bound / 2^64) is irrelevant for sample data, and the
    /// method never loops, so each call consumes exactly one draw — which
    /// keeps the stream position, and so the output, easy to reason about.
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A value in `range` (inclusive), one draw.
    @inline(__always)
    mutating func inRange(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// True with probability `numerator / 2^64`, one draw. Probabilities are
    /// turned into integer thresholds once so that no floating-point rounding
    /// happens per line.
    @inline(__always)
    mutating func chance(_ threshold: UInt64) -> Bool {
        next() < threshold
    }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 &- k))
    }
}

/// SplitMix64: used to seed xoshiro and, through `mix`, as a bijective hash.
struct SplitMix64: Sendable {
    var state: UInt64

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finalizer. It is a bijection on UInt64, which is what
    /// makes event ids built from it unique by construction (see
    /// `SampleGenerator`), not merely unlikely to collide.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Converts a probability in 0...1 into a threshold for
/// `Xoshiro256StarStar.chance(_:)`. Done once per config, never per line.
func probabilityThreshold(_ p: Double) -> UInt64 {
    if !(p > 0) { return 0 }
    if p >= 1 { return UInt64.max }
    return UInt64(p * 18_446_744_073_709_551_616.0)  // p * 2^64, < 2^64 here
}

/// FNV-1a, 64 bit. Used to map a device id to a partition the way a broker
/// maps a partition key: stable across runs, seeds and platforms, so one
/// device's events always land in one partition and stay in order there.
func fnv1a64<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01B3
    }
    return hash
}

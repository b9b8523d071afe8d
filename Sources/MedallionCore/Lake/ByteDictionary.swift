/// An open-addressing hash set of byte strings that live in one `ColumnBuffer`,
/// used to build a column chunk's Parquet dictionary.
///
/// Entries are ranges into the column's own byte storage, so inserting a value
/// copies nothing and looking one up allocates nothing. The table stores hashes
/// to make resizing and most mismatches cheap.
struct ByteDictionary {
    /// Range of each entry in the source bytes; entry i has dictionary index i.
    private(set) var entries: [Range<Int>] = []
    /// Sum of PLAIN sizes (4-byte length + bytes) of all entries: the dictionary page size.
    private(set) var plainSize: Int = 0
    private var hashes: [UInt64] = []
    /// Entry index + 1 per slot; 0 marks an empty slot.
    private var slots: [UInt32] = []

    var count: Int { entries.count }

    /// Empties the dictionary but keeps its allocations for the next chunk.
    mutating func reset() {
        entries.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        plainSize = 0
        if slots.isEmpty {
            slots = [UInt32](repeating: 0, count: 1024)
        } else {
            slots.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }

    /// Returns the dictionary index of `bytes[range]`, inserting it if it is new.
    @inline(__always)
    mutating func index(of range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        let hash = ByteDictionary.hash(bytes, range)
        if entries.count * 2 >= slots.count { grow() }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let stored = slots[slot]
            if stored == 0 {
                let index = UInt32(entries.count)
                slots[slot] = index + 1
                entries.append(range)
                hashes.append(hash)
                plainSize += 4 + range.count
                return index
            }
            let candidate = Int(stored - 1)
            if hashes[candidate] == hash
                && ColumnStatistics.compareBytes(bytes, entries[candidate], range) == 0
            {
                return UInt32(candidate)
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let newCount = slots.count * 2
        var newSlots = [UInt32](repeating: 0, count: newCount)
        let mask = newCount - 1
        for (i, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while newSlots[slot] != 0 { slot = (slot + 1) & mask }
            newSlots[slot] = UInt32(i + 1)
        }
        slots = newSlots
    }

    /// A fast 64-bit mix over 8-byte words; quality only matters for probe lengths.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(range.count)
        guard let base = bytes.baseAddress else { return h }
        let raw = UnsafeRawPointer(base + range.lowerBound)
        let n = range.count
        var i = 0
        while i + 8 <= n {
            let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ word) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        if i < n {
            var word: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                word |= UInt64(raw.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = (h ^ word) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        h ^= h >> 29
        h = h &* 0x94D0_49BB_1331_11EB
        h ^= h >> 32
        return h
    }
}

/// What a `unique` rule remembers: each key seen within the window, with
/// the event time and the source position of the row that holds it.
///
/// The state is rebuilt on start from the Silver table itself (the rows
/// committed within the window), so it can never disagree with what was
/// stored: a crash loses nothing of it, and a record replayed from its own
/// position is recognised as itself rather than as a duplicate.
/// Memory is bounded by the number of distinct keys in one window.
package struct DedupState {
    private struct Entry {
        var micros: Int64
        var source: Int
        var partition: Int64
        var offset: Int64
    }

    package let windowMicros: Int64
    private var seen: [String: Entry] = [:]
    private var newest = Int64.min
    private var insertsSinceEviction = 0

    package init(windowMicros: Int64) {
        self.windowMicros = windowMicros
    }

    package var count: Int { seen.count }

    /// The oldest event time the state answers for: a window behind the newest event time seen.
    /// Older entries are treated as absent whether or not a sweep removed them yet, so the answer
    /// never depends on when the process last restarted.
    private var horizon: Int64 { newest == Int64.min ? Int64.min : newest &- windowMicros }

    /// Whether `key` was seen within the window at another position (a replay
    /// of the stored row's own position is not a duplicate). No side effect:
    /// `remember` is called only for a record that is kept.
    package func isDuplicate(_ key: String, micros: Int64, sourceID: String?, partition: Int64?, offset: Int64?) -> Bool {
        guard let entry = seen[key], entry.micros >= horizon, abs(entry.micros - micros) <= windowMicros else { return false }
        let samePosition = partition != nil && entry.source == (sourceID?.hashValue ?? 0) && entry.partition == partition && entry.offset == offset
        return !samePosition
    }

    /// Remembers a kept record's key. An entry with a newer event time is kept:
    /// a late event must not make the state forget a newer one (a restart,
    /// which loads the newest, would then answer differently).
    package mutating func remember(_ key: String, micros: Int64, sourceID: String?, partition: Int64?, offset: Int64?) {
        if let entry = seen[key], entry.micros >= micros { return }
        remember(key, micros: micros, source: sourceID?.hashValue ?? 0, partition: partition ?? -1, offset: offset ?? -1)
    }

    /// Adds a key read back from the table (call `evict()` once all are loaded).
    package mutating func load(_ key: String, micros: Int64, sourceID: String?, partition: Int64?, offset: Int64?) {
        if let entry = seen[key], entry.micros >= micros { return }
        remember(key, micros: micros, source: sourceID?.hashValue ?? 0, partition: partition ?? -1, offset: offset ?? -1)
    }

    private mutating func remember(_ key: String, micros: Int64, source: Int, partition: Int64, offset: Int64) {
        seen[key] = Entry(micros: micros, source: source, partition: partition, offset: offset)
        newest = max(newest, micros)
        insertsSinceEviction += 1
        // Amortised: a sweep costs one pass over the state, run once it may have grown by half.
        if insertsSinceEviction > max(10_000, seen.count / 2) { evict() }
    }

    /// Forgets keys older than the window behind the newest event time seen.
    package mutating func evict() {
        insertsSinceEviction = 0
        guard newest != Int64.min else { return }
        let horizon = self.horizon
        seen = seen.filter { $0.value.micros >= horizon }
    }
}

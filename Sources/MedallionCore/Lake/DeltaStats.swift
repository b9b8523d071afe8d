/// Builds the `add.stats` JSON text from a written file's statistics.
///
/// Readers skip files using these bounds, so a wrong bound silently loses rows
/// (spec §1.4). Every rule here errs towards *wider* or *absent* bounds:
/// timestamps are truncated down to milliseconds (readers add 1 ms to max),
/// long strings are cut to 32 characters with the max bumped so it stays an
/// upper bound, NaN/infinite doubles and binary columns get no bounds.
package enum DeltaStats {
    /// Spark truncates string stats to this many characters; we do the same.
    package static let stringPrefixLength = 32

    /// The stats JSON for a file with `numRecords` rows whose data columns are `fields`.
    package static func json(numRecords: Int64, fields: [DeltaField], statistics: [ColumnStatistics]) -> String {
        var mins: [(String, BoundJSON)] = []
        var maxs: [(String, BoundJSON)] = []
        for (field, stats) in zip(fields, statistics) {
            guard let (lo, hi) = stats.publishedBounds else { continue }
            if let l = minBound(field.type, lo) { mins.append((field.name, l)) }
            if let h = maxBound(field.type, hi) { maxs.append((field.name, h)) }
        }
        var json = JSONText()
        json.beginObject()
        json.key("numRecords")
        json.int(numRecords)
        for (key, bounds) in [("minValues", mins), ("maxValues", maxs)] {
            json.key(key)
            json.beginObject()
            for (name, bound) in bounds {
                json.key(name)
                bound.write(to: &json)
            }
            json.endObject()
        }
        json.key("nullCount")
        json.beginObject()
        for (field, stats) in zip(fields, statistics) {
            json.key(field.name)
            json.int(Int64(stats.nullCount))
        }
        json.endObject()
        json.endObject()
        return json.text
    }

    /// A stats bound ready for JSON.
    enum BoundJSON: Equatable {
        case int(Int64), double(Double), bool(Bool), string(String)

        func write(to json: inout JSONText) {
            switch self {
            case .int(let v): json.int(v)
            case .double(let v): json.double(v)
            case .bool(let v): json.bool(v)
            case .string(let v): json.string(v)
            }
        }
    }

    static func minBound(_ type: DeltaType, _ value: StatValue) -> BoundJSON? {
        switch (type, value) {
        case (.timestamp, .int64(let micros)): return formatTimestampMillis(micros).map(BoundJSON.string)
        case (.string, .bytes(let bytes)): return truncatedMin(bytes).map(BoundJSON.string)
        default: return common(type, value)
        }
    }

    static func maxBound(_ type: DeltaType, _ value: StatValue) -> BoundJSON? {
        switch (type, value) {
        // Truncating down is still correct for max: readers widen timestamp max by 1 ms.
        case (.timestamp, .int64(let micros)): return formatTimestampMillis(micros).map(BoundJSON.string)
        case (.string, .bytes(let bytes)): return truncatedMax(bytes).map(BoundJSON.string)
        default: return common(type, value)
        }
    }

    private static func common(_ type: DeltaType, _ value: StatValue) -> BoundJSON? {
        switch (type, value) {
        case (.long, .int64(let v)): return .int(v)
        case (.integer, .int32(let v)): return .int(Int64(v))
        case (.date, .int32(let days)): return formatDate(days: Int64(days)).map(BoundJSON.string)
        case (.double, .double(let v)): return v.isFinite ? .double(v) : nil
        case (.boolean, .bool(let v)): return .bool(v)
        default: return nil  // binary, or a type/value mismatch: no bound is always safe
        }
    }

    // MARK: strings

    /// A lower bound: the value itself, or its first 32 characters (a prefix sorts first).
    static func truncatedMin(_ bytes: [UInt8]) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let scalars = text.unicodeScalars
        guard scalars.count > stringPrefixLength else { return text }
        return String(String.UnicodeScalarView(scalars.prefix(stringPrefixLength)))
    }

    /// An upper bound: the value itself, or its first 32 characters with the last
    /// increasable character bumped to the next code point (dropping what follows).
    /// Code-point order equals UTF-8 byte order, which is what readers compare.
    /// Returns nil (no bound) if no character can be increased.
    static func truncatedMax(_ bytes: [UInt8]) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > stringPrefixLength else { return text }
        var prefix = Array(scalars.prefix(stringPrefixLength))
        while let last = prefix.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }  // skip the surrogate range
            if let bumped = Unicode.Scalar(next) {
                prefix.append(bumped)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: prefix)
                return String(view)
            }
        }
        return nil
    }

    // MARK: dates and timestamps

    /// `YYYY-MM-DD` for days since 1970-01-01; nil outside years 0000...9999.
    package static func formatDate(days: Int64) -> String? {
        let (y, m, d) = civilFromDays(days)
        guard (0...9999).contains(y) else { return nil }
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, truncated *down* to milliseconds (floor, also for
    /// negative values); exactly three fractional digits, as Spark's parser requires.
    package static func formatTimestampMillis(_ micros: Int64) -> String? {
        let millis = floorDiv(micros, 1000)
        let days = floorDiv(millis, 86_400_000)
        let msOfDay = millis - days * 86_400_000
        guard let date = formatDate(days: days) else { return nil }
        let h = msOfDay / 3_600_000
        let mi = (msOfDay / 60_000) % 60
        let s = (msOfDay / 1000) % 60
        let ms = msOfDay % 1000
        return date + "T" + pad(h, 2) + ":" + pad(mi, 2) + ":" + pad(s, 2) + "." + pad(ms, 3) + "Z"
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a.floorDividedBy(b).quotient
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Proleptic Gregorian date for a day count (the core's `Timestamp` calendar).
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let (y, m, d) = Timestamp.civilFromDays(Int(days))
        return (Int64(y), Int64(m), Int64(d))
    }

    /// Days since 1970-01-01 for a civil date, for callers that build `date`
    /// columns and partition values.
    package static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        Int64(Timestamp.daysFromCivil(year: Int(year), month: Int(month), day: Int(day)))
    }
}

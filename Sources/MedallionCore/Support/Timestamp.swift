/// RFC 3339 timestamps, parsed and printed on raw bytes.
///
/// Policy (documented in docs/envelope.md): a timestamp must be
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00|-00:00)`; `t`/`z` are accepted as
/// RFC 3339 allows; the calendar is checked for real (no month 13, no
/// 30 February, 29 February only in leap years); a leap second (`:60`) and any
/// offset other than zero are rejected, because Delta's `timestamp` is UTC
/// microseconds and we never silently shift a sender's clock. Fractions beyond
/// microseconds are truncated.
package enum Timestamp {
    package enum ParseError: Error, Equatable {
        /// Not of the RFC 3339 shape.
        case malformed
        /// Well formed, but a field is out of range (month 13, 30 February, 25:00).
        case outOfRange
        /// Well formed with a non-zero UTC offset.
        case notUTC
    }

    /// The years an envelope timestamp may have (`envelope-check`, and the
    /// `ingest_date` partitions derived from it). Real readers fail on the
    /// extremes (pyarrow and polars cannot read an `ingest_date` of year 0;
    /// 9999-12-31T23:59:59.999999 overflows some), so a table must never be
    /// partitioned by one: an event from outside these years is a device
    /// clock fault. The parser itself accepts any four-digit year.
    package static let supportedYears = 1900...2999
    package static let supportedMicros: Range<Int64> =
        Int64(daysFromCivil(year: 1900, month: 1, day: 1)) * 86_400_000_000 ..< Int64(daysFromCivil(year: 3000, month: 1, day: 1)) * 86_400_000_000

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    package static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    package static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    package static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Parses an RFC 3339 UTC timestamp into microseconds since the epoch.
    package static func parseMicros(_ s: UnsafeRawBufferPointer) -> Result<Int64, ParseError> {
        let n = s.count
        guard n >= 20 else { return .failure(.malformed) }
        @inline(__always) func digit(_ i: Int) -> Int? {
            let d = Int(s[i]) - 48
            return (d >= 0 && d <= 9) ? d : nil
        }
        @inline(__always) func number(_ i: Int, _ count: Int) -> Int? {
            var v = 0
            for k in i..<(i + count) {
                guard let d = digit(k) else { return nil }
                v = v * 10 + d
            }
            return v
        }
        guard let year = number(0, 4), s[4] == UInt8(ascii: "-"),
              let month = number(5, 2), s[7] == UInt8(ascii: "-"),
              let day = number(8, 2), s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: "t"),
              let hour = number(11, 2), s[13] == UInt8(ascii: ":"),
              let minute = number(14, 2), s[16] == UInt8(ascii: ":"),
              let second = number(17, 2)
        else { return .failure(.malformed) }
        var i = 19
        var micros = 0
        if s[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            var scale = 100_000
            while i < n, let d = digit(i) {
                micros += d * scale
                scale /= 10
                i += 1
            }
            guard i > start, i - start <= 9 else { return .failure(.malformed) }
        }
        guard i < n else { return .failure(.malformed) }
        let zone = s[i]
        if zone == UInt8(ascii: "Z") || zone == UInt8(ascii: "z") {
            guard i + 1 == n else { return .failure(.malformed) }
        } else if zone == UInt8(ascii: "+") || zone == UInt8(ascii: "-") {
            guard i + 6 == n, let offH = number(i + 1, 2), s[i + 3] == UInt8(ascii: ":"),
                  let offM = number(i + 4, 2)
            else { return .failure(.malformed) }
            guard offH <= 23, offM <= 59 else { return .failure(.outOfRange) }
            guard offH == 0, offM == 0 else { return .failure(.notUTC) }
        } else {
            return .failure(.malformed)
        }
        guard month >= 1, month <= 12, day >= 1, day <= daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 59
        else { return .failure(.outOfRange) }
        let days = daysFromCivil(year: year, month: month, day: day)
        let secs = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return .success(secs * 1_000_000 + Int64(micros))
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds, truncated) for a microsecond instant.
    package static func appendISOMillis(_ micros: Int64, to out: inout [UInt8]) {
        let (days, dayMicros) = micros.floorDividedBy(86_400_000_000)
        appendDate(days: Int(days), to: &out)
        out.append(UInt8(ascii: "T"))
        let secondOfDay = Int(dayMicros / 1_000_000)
        appendPadded(secondOfDay / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondOfDay / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondOfDay % 60, width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        appendPadded(Int(dayMicros % 1_000_000) / 1000, width: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    package static func isoMillis(_ micros: Int64) -> String {
        var out: [UInt8] = []
        appendISOMillis(micros, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `YYYY-MM-DD` for a day count since the epoch.
    package static func appendDate(days: Int, to out: inout [UInt8]) {
        let (y, m, d) = civilFromDays(days)
        appendPadded(y, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(m, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(d, width: 2, to: &out)
    }

    /// The last `width` decimal digits of a non-negative `value`, zero-padded; no allocation
    /// (it runs for every timestamp a Silver row forwards).
    private static func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor &*= 10 }
        while divisor > 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / divisor % 10))
            divisor /= 10
        }
    }
}

extension Int64 {
    /// Floor division with a non-negative remainder, so instants before 1970 print correctly.
    package func floorDividedBy(_ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var q = self / divisor
        var r = self % divisor
        if r < 0 {
            q -= 1
            r += divisor
        }
        return (q, r)
    }
}

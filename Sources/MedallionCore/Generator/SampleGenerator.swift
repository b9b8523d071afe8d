/// What one call of `SampleGenerator.appendLine(to:)` produced.
///
/// Returned so that tests and the CLI's summary know the truth about each
/// line (good or which bad kind, which partition and offset) without parsing
/// it back.
package struct GeneratedLine: Sendable, Equatable {
    /// nil for a good line.
    package var badKind: BadLineKind?
    /// The source partition of the line's device.
    package var partition: Int
    /// The line's offset in that partition. Every line uses up one offset,
    /// including lines that are not JSON and so cannot show it.
    package var offset: Int64
    /// Bytes appended, including the trailing `\n`.
    package var byteCount: Int
}

/// Counts over everything a generator has emitted so far.
package struct GeneratorStatistics: Sendable, Equatable {
    package var lines: Int = 0
    package var goodLines: Int = 0
    package var bytes: Int = 0
    /// Bad lines per kind, indexed like `BadLineKind.allCases`.
    var badCounts: [Int] = Array(repeating: 0, count: BadLineKind.allCases.count)

    package var badLines: Int { lines - goodLines }

    package func badLines(of kind: BadLineKind) -> Int {
        badCounts[kind.index]
    }

    /// Kinds that occurred, with their counts, in `BadLineKind.allCases` order.
    package var badByKind: [(kind: BadLineKind, count: Int)] {
        BadLineKind.allCases.compactMap { k in
            let n = badCounts[k.index]
            return n > 0 ? (k, n) : nil
        }
    }

    /// A one-line JSON summary (for the CLI's stderr, or a bench log). The
    /// expected reject count of a stage that should reject every bad kind is
    /// `bad_lines`.
    package var summaryJSON: String {
        var out: [UInt8] = []
        GenBytes.literal("{\"lines\":", to: &out)
        GenBytes.unsigned(UInt64(lines), to: &out)
        GenBytes.literal(",\"good_lines\":", to: &out)
        GenBytes.unsigned(UInt64(goodLines), to: &out)
        GenBytes.literal(",\"bad_lines\":", to: &out)
        GenBytes.unsigned(UInt64(badLines), to: &out)
        GenBytes.literal(",\"bytes\":", to: &out)
        GenBytes.unsigned(UInt64(bytes), to: &out)
        GenBytes.literal(",\"bad_by_kind\":{", to: &out)
        var first = true
        for (kind, n) in badByKind {
            if !first { out.append(0x2C) }
            first = false
            JSONStringEscaper.appendQuoted(kind.rawValue, to: &out)
            out.append(0x3A)
            GenBytes.unsigned(UInt64(n), to: &out)
        }
        GenBytes.literal("}}", to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

extension BadLineKind {
    var index: Int { BadLineKind.allCases.firstIndex(of: self)! }
}

/// Deterministic generator of envelope NDJSON, good and bad.
///
/// Same config, same bytes: there is no clock, no global state and no
/// platform-dependent formatting. Two independent random streams are used:
/// `content` decides every event (device, times, id, payload) and `faults`
/// decides which lines are bad and how. Because bad-line decisions never
/// consume `content` draws, line *i* describes the same event whatever
/// `badRate` is, and the good lines of a run with bad lines are exactly the
/// corresponding lines of the clean run. That makes "what should have
/// passed" checkable from the clean run.
///
/// Speed: a good line is a few precomputed per-device byte runs plus digits
/// written in place — no `String`, no Foundation — about 1 µs or less.
package struct SampleGenerator {
    package let config: GeneratorConfig
    package private(set) var statistics = GeneratorStatistics()

    private var content: Xoshiro256StarStar
    private var faults: Xoshiro256StarStar
    private let devices: [Device]
    private var states: [DeviceState]
    private var nextOffsets: [Int64]
    private var clockMillis: Int64
    private let idKey: UInt64
    private let badThreshold: UInt64
    private let lateThreshold: UInt64
    private let heavyCounts: HeavyCap
    private var heavyUsed: [Int]
    private let tenantIDs: [String]

    /// Number of lines emitted so far; also the sequence number of the next.
    package var linesEmitted: Int { statistics.lines }

    /// Validates `config` and precomputes the fleet.
    package init(_ config: GeneratorConfig) throws(GeneratorConfigError) {
        try Self.validate(config)
        self.config = config
        content = Xoshiro256StarStar(seed: config.seed)
        faults = Xoshiro256StarStar(seed: config.seed ^ 0xFA17_FA17_FA17_FA17)
        idKey = SplitMix64.mix(config.seed ^ 0x1D1D_1D1D_1D1D_1D1D)
        badThreshold = probabilityThreshold(config.badRate)
        lateThreshold = probabilityThreshold(config.outOfOrderRate)
        clockMillis = config.baseTimeMillis
        nextOffsets = Array(repeating: 0, count: config.partitions)
        tenantIDs = config.tenants.map(\.id)
        let fleet = Device.buildFleet(config)
        devices = fleet.devices
        states = fleet.states
        heavyCounts = HeavyCap(config)
        heavyUsed = Array(repeating: 0, count: BadLineKind.allCases.count)
    }

    // MARK: - Public API

    /// Appends one line, including its `\n`, and says what it was.
    @discardableResult
    package mutating func appendLine(to buffer: inout [UInt8]) -> GeneratedLine {
        let start = buffer.count
        let draft = nextDraft()
        let partition = devices[draft.device].partition
        let offset = nextOffsets[partition]
        nextOffsets[partition] = offset &+ 1

        var kind: BadLineKind? = nil
        if badThreshold != 0 && faults.chance(badThreshold) {
            kind = drawBadKind()
        }
        if let kind {
            // Rare path: render the good line aside with field positions,
            // then derive the bad line from it.
            var scratch: [UInt8] = []
            scratch.reserveCapacity(1024)
            var marks = FieldMarks()
            render(draft, offset: offset, into: &scratch, marks: &marks)
            let fields = EnvelopeFields(line: scratch, marks: marks)
            appendBadLine(kind, fields: fields, draft: draft, to: &buffer)
            buffer.append(0x0A)
            statistics.badCounts[kind.index] += 1
        } else {
            var marks = NoMarks()
            render(draft, offset: offset, into: &buffer, marks: &marks)
            buffer.append(0x0A)
            statistics.goodLines += 1
        }
        statistics.lines += 1
        let written = buffer.count - start
        statistics.bytes += written
        return GeneratedLine(badKind: kind, partition: partition, offset: offset, byteCount: written)
    }

    /// Appends `lines` lines.
    package mutating func appendLines(_ lines: Int, to buffer: inout [UInt8]) {
        for _ in 0..<max(lines, 0) { appendLine(to: &buffer) }
    }

    // MARK: - Drafting events (content stream only)

    /// The parts of an event decided before its payload.
    struct Draft {
        var device: Int
        var eventMillis: Int64
        var ingestMillis: Int64
        var idHigh: UInt64
        var idLow: UInt64
        var sequence: UInt64
    }

    private mutating func nextDraft() -> Draft {
        let device = content.below(devices.count)
        let step = config.meanStepMillis
        clockMillis += Int64(step == 0 ? 0 : content.below(2 * step + 1))
        let lag = Int64(content.inRange(config.ingestLagMillis))
        var eventMillis = clockMillis
        if content.chance(lateThreshold) {
            eventMillis -= Int64(1000 + content.below(max(config.maxLatenessMillis - 999, 1)))
        }
        let sequence = UInt64(statistics.lines)
        // High half: a bijection of the sequence number, so ids never repeat
        // within a run; low half: random, so ids look like UUIDs.
        return Draft(
            device: device, eventMillis: eventMillis, ingestMillis: clockMillis + lag,
            idHigh: SplitMix64.mix(sequence &+ idKey), idLow: content.next(), sequence: sequence)
    }

    // MARK: - Rendering a good line

    /// Writes a good line (without `\n`). The payload is drawn here, from the
    /// content stream, identically for good and bad lines.
    private mutating func render<M: FieldMarker>(
        _ draft: Draft, offset: Int64, into buffer: inout [UInt8], marks: inout M
    ) {
        let base = buffer.count
        let device = devices[draft.device]
        let prefixStart = buffer.count - base
        buffer.append(contentsOf: device.prefix)
        for i in 0..<5 { marks.mark(i, at: prefixStart + device.prefixMarks[i]) }

        let idStart = buffer.count - base
        GenBytes.fixed(Self.timesBlockWidth, to: &buffer) { p in
            var q = p
            Self.copy(Self.eventIDKey, to: &q)
            Self.writeUUID(high: draft.idHigh, low: draft.idLow, at: q)
            q += 36
            Self.copy(Self.eventTimeKey, to: &q)
            UTCTimestamp.write(millis: draft.eventMillis, at: q)
            q += UTCTimestamp.width
            Self.copy(Self.ingestTimeKey, to: &q)
            UTCTimestamp.write(millis: draft.ingestMillis, at: q)
            q += UTCTimestamp.width
            q[0] = 0x22
            q[1] = 0x2C
        }
        marks.mark(5, at: idStart)
        marks.mark(6, at: idStart + Self.eventTimeMark)
        marks.mark(7, at: idStart + Self.ingestTimeMark)

        let midStart = buffer.count - base
        buffer.append(contentsOf: device.middle)
        marks.mark(8, at: midStart)
        marks.mark(9, at: midStart + device.middleMarks.0)
        marks.mark(10, at: midStart + device.middleMarks.1)

        appendPayload(device: draft.device, to: &buffer)

        buffer.append(0x2C)
        let tailStart = buffer.count - base
        buffer.append(contentsOf: device.tail)
        marks.mark(11, at: tailStart)
        marks.mark(12, at: tailStart + device.tailSourceMark)
        GenBytes.unsigned(UInt64(offset), to: &buffer)
        buffer.append(0x7D)
        marks.mark(13, at: buffer.count - base)
        buffer.append(0x7D)
    }

    private static let eventIDKey: [UInt8] = Array("\"event_id\":\"".utf8)
    private static let eventTimeKey: [UInt8] = Array("\",\"event_time_utc\":\"".utf8)
    private static let ingestTimeKey: [UInt8] = Array("\",\"ingest_time_utc\":\"".utf8)
    /// Offsets of the `"event_time_utc"` and `"ingest_time_utc"` keys in the block.
    private static let eventTimeMark = eventIDKey.count + 36 + 2
    private static let ingestTimeMark = eventIDKey.count + 36 + eventTimeKey.count + UTCTimestamp.width + 2
    private static let timesBlockWidth =
        eventIDKey.count + 36 + eventTimeKey.count + ingestTimeKey.count + 2 * UTCTimestamp.width + 2

    @inline(__always)
    private static func copy(_ bytes: [UInt8], to q: inout UnsafeMutablePointer<UInt8>) {
        bytes.withUnsafeBufferPointer { src in
            q.update(from: src.baseAddress!, count: src.count)
        }
        q += bytes.count
    }

    /// 8-4-4-4-12 lower-case hex. UUID-shaped, not an RFC 9562 UUID: the
    /// version bits are not set, because fixing them would throw away the
    /// uniqueness guarantee of the bijective high half.
    @inline(__always)
    static func writeUUID(high: UInt64, low: UInt64, at p: UnsafeMutablePointer<UInt8>) {
        GenBytes.hexDigits.withUnsafeBufferPointer { hex in
            var o = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    p[o] = 0x2D
                    o += 1
                }
                let word = nibble < 16 ? high : low
                let shift = UInt64(60 - 4 * (nibble & 15))
                p[o] = hex[Int((word >> shift) & 0xF)]
                o += 1
            }
        }
    }

    // MARK: - Payloads

    private mutating func appendPayload(device index: Int, to buffer: inout [UInt8]) {
        let device = devices[index]
        switch device.type {
        case .thermostatTelemetry:
            var tenths = states[index].level + Int64(content.inRange(-3...3))
            tenths = min(max(tenths, 150), 280)
            states[index].level = tenths
            GenBytes.literal("{\"temperature\":", to: &buffer)
            if device.fahrenheit {
                GenBytes.decimal((tenths * 9 + 1600) / 5, scale: 1, to: &buffer)  // tenths °F
                GenBytes.literal(",\"unit\":\"F\",\"humidity\":", to: &buffer)
            } else {
                GenBytes.decimal(tenths, scale: 1, to: &buffer)
                GenBytes.literal(",\"unit\":\"C\",\"humidity\":", to: &buffer)
            }
            GenBytes.decimal(Int64(content.inRange(300...600)), scale: 1, to: &buffer)
            GenBytes.literal(",\"setpoint\":", to: &buffer)
            GenBytes.decimal(device.setpointTenths, scale: 1, to: &buffer)
            switch content.below(10) {
            case 0..<4: GenBytes.literal(",\"mode\":\"heat\",\"battery_pct\":", to: &buffer)
            case 4..<6: GenBytes.literal(",\"mode\":\"cool\",\"battery_pct\":", to: &buffer)
            case 6..<9: GenBytes.literal(",\"mode\":\"auto\",\"battery_pct\":", to: &buffer)
            default: GenBytes.literal(",\"mode\":\"off\",\"battery_pct\":", to: &buffer)
            }
            // Batteries drain slowly and get replaced at 5%.
            var battery = states[index].battery
            if content.below(200) == 0 { battery = battery <= 5 ? 100 : battery - 1 }
            states[index].battery = battery
            GenBytes.unsigned(UInt64(battery), to: &buffer)
            if device.schemaMinor == 1 {
                GenBytes.literal(",\"co2_ppm\":", to: &buffer)
                GenBytes.unsigned(UInt64(content.inRange(400...1400)), to: &buffer)
            }
            buffer.append(0x7D)

        case .doorAccess:
            GenBytes.literal("{\"door_id\":\"d-", to: &buffer)
            GenBytes.unsigned(UInt64(device.serial * 4 + content.below(4) + 1), to: &buffer)
            if content.below(2) == 0 {
                GenBytes.literal("\",\"direction\":\"in\",\"badge_id\":\"b-", to: &buffer)
            } else {
                GenBytes.literal("\",\"direction\":\"out\",\"badge_id\":\"b-", to: &buffer)
            }
            let badge = content.inRange(1...500)
            GenBytes.fixed(4, to: &buffer) { GenBytes.digits(badge, width: 4, at: $0) }
            if content.below(100) < 93 {
                GenBytes.literal("\",\"granted\":true,\"reason\":null}", to: &buffer)
            } else {
                GenBytes.literal("\",\"granted\":false,\"reason\":\"expired\"}", to: &buffer)
            }

        case .energyMeter:
            var kwhMilli = states[index].level + Int64(content.inRange(0...250))
            states[index].level = kwhMilli
            if kwhMilli < 0 { kwhMilli = 0 }
            GenBytes.literal("{\"meter_id\":\"m-", to: &buffer)
            GenBytes.unsigned(UInt64(device.serial), to: &buffer)
            GenBytes.literal("\",\"kwh\":", to: &buffer)
            GenBytes.decimal(kwhMilli, scale: 3, to: &buffer)
            let voltTenths = content.inRange(2250...2350)
            let ampTenths = content.inRange(5...320)
            let pfHundredths = content.inRange(80...100)
            GenBytes.literal(",\"voltage\":", to: &buffer)
            GenBytes.decimal(Int64(voltTenths), scale: 1, to: &buffer)
            GenBytes.literal(",\"current_a\":", to: &buffer)
            GenBytes.decimal(Int64(ampTenths), scale: 1, to: &buffer)
            GenBytes.literal(",\"power_factor\":", to: &buffer)
            GenBytes.decimal(Int64(pfHundredths), scale: 2, to: &buffer)
            switch device.serial % 3 {
            case 0: GenBytes.literal(",\"phase\":\"L1\",\"readings\":[", to: &buffer)
            case 1: GenBytes.literal(",\"phase\":\"L2\",\"readings\":[", to: &buffer)
            default: GenBytes.literal(",\"phase\":\"L3\",\"readings\":[", to: &buffer)
            }
            // Instantaneous power in kW (3 decimals = watts), +-5% jitter
            // around V * I * PF.
            let watts = voltTenths * ampTenths * pfHundredths / 10_000
            let readings = content.inRange(3...5)
            for r in 0..<readings {
                if r > 0 { buffer.append(0x2C) }
                let jitter = watts / 20
                GenBytes.decimal(Int64(watts + content.inRange(-jitter...jitter)), scale: 3, to: &buffer)
            }
            GenBytes.literal("]}", to: &buffer)
        }
    }

    // MARK: - Bad lines (fault stream only)

    private mutating func drawBadKind() -> BadLineKind {
        let kinds = config.badKinds
        let kind = kinds[faults.below(kinds.count)]
        guard kind.isHeavy, let cap = heavyCounts.cap else {
            return kind
        }
        if heavyUsed[kind.index] < cap {
            heavyUsed[kind.index] += 1
            return kind
        }
        return heavyCounts.lightKinds[faults.below(heavyCounts.lightKinds.count)]
    }

    private mutating func appendBadLine(
        _ kind: BadLineKind, fields: EnvelopeFields, draft: Draft, to buffer: inout [UInt8]
    ) {
        var f = fields
        switch kind {
        case .malformedJSON:
            switch faults.below(5) {
            case 0:  // truncated mid-object, never inside a UTF-8 sequence
                let whole = f.joined()
                var cut = 1 + faults.below(whole.count - 2)
                while cut > 1 && whole[cut] & 0xC0 == 0x80 { cut -= 1 }
                buffer.append(contentsOf: whole[0..<cut])
            case 1:  // trailing comma
                var whole = f.joined()
                whole.insert(0x2C, at: whole.count - 1)
                buffer.append(contentsOf: whole)
            case 2:  // doubled comma between two fields
                buffer.append(contentsOf: f.joined(doubleCommaAfter: faults.below(f.count - 1)))
            case 3:  // missing colon after a key
                let i = faults.below(f.count)
                f.entries[i].omitColon = true
                buffer.append(contentsOf: f.joined())
            default:  // unquoted key, JavaScript style
                let i = faults.below(f.count)
                f.entries[i].unquotedKey = true
                buffer.append(contentsOf: f.joined())
            }

        case .invalidUTF8:
            let sequences: [[UInt8]] = [
                [0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xFF], [0xF5, 0x80, 0x80, 0x80],
            ]
            let bad = sequences[faults.below(sequences.count)]
            let target = [1, 2, 11][faults.below(3)]  // site_id, device_id, attributes
            var value = f.value(target)
            // After the opening quote of the string (for attributes: of the
            // first attribute value, `{"fw":"` is 7 bytes).
            value.insert(contentsOf: bad, at: target == 11 ? 7 : 1 + faults.below(value.count - 1))
            f.setValue(target, value)
            buffer.append(contentsOf: f.joined())

        case .notAnObject:
            switch faults.below(7) {
            case 0: GenBytes.literal("[1,2]", to: &buffer)
            case 1: GenBytes.signed(Int64(draft.sequence), to: &buffer)
            case 2: JSONStringEscaper.appendQuoted(tenantIDs[0], to: &buffer)
            case 3: GenBytes.literal("null", to: &buffer)
            case 4: GenBytes.literal("true", to: &buffer)
            case 5: GenBytes.literal("-0.5e3", to: &buffer)
            default:  // the event wrapped in an array: a batch sent as one line
                buffer.append(0x5B)
                buffer.append(contentsOf: f.joined())
                buffer.append(0x5D)
            }

        case .missingField:
            // attributes (index 11) is optional in the envelope: drop a required field.
            f.entries.remove(at: faults.below(11))
            buffer.append(contentsOf: f.joined())

        case .wrongType:
            switch faults.below(11) {
            case 0:  // payload double-encoded as a JSON string
                var text: [UInt8] = []
                JSONStringEscaper.appendQuoted(bytes: f.value(10), to: &text)
                f.setValue(10, text)
            case 1: f.setValue(5, Array(String(draft.sequence % 1000 + 1).utf8))  // event_id number
            case 2: f.setValue(11, Array("{\"fw\":2.1,\"retries\":3}".utf8))  // non-string attributes
            case 3: f.setValue(11, Array("[\"fw\",\"2.1.0\"]".utf8))
            case 4: f.setValue(0, Array("null".utf8))
            case 5: f.setValue(6, Array(String(draft.eventMillis).utf8))  // epoch millis
            case 6: f.setValue(8, Array("1.1".utf8))  // number, not "1.1"
            case 7: f.setValue(10, Array("null".utf8))
            case 8: f.setValue(10, Array("[21.5,40.2]".utf8))
            case 9: f.setValue(1, Array("true".utf8))
            default: f.setValue(2, Array("42".utf8))
            }
            buffer.append(contentsOf: f.joined())

        case .badTimestamp:
            let field = 6 + faults.below(2)
            var v = f.value(field)  // "YYYY-MM-DDTHH:MM:SS.mmmZ" with quotes
            let millis = field == 6 ? draft.eventMillis : draft.ingestMillis
            switch faults.below(7) {
            case 0: v.replaceSubrange(6..<8, with: Array("13".utf8))  // month 13
            case 1: v.replaceSubrange(6..<11, with: Array("02-30".utf8))  // no Feb 30
            case 2: v.replaceSubrange(12..<14, with: Array("25".utf8))  // hour 25
            case 3:  // the same instant, correctly written, but not in UTC
                v = [0x22]
                UTCTimestamp.append(millis: millis + 7_200_000, to: &v)
                v.removeLast()
                GenBytes.literal("+02:00\"", to: &v)
            case 4:  // "2026-03-01 12:00:00": space, no fraction, no zone
                v[11] = 0x20
                v.replaceSubrange(20..<26, with: [0x22])
            case 5:  // date only
                v.replaceSubrange(11..<26, with: [0x22])
            default:
                let words = ["yesterday", "not a timestamp", "NaN", "0000-00-00T00:00:00Z", ""]
                v = []
                JSONStringEscaper.appendQuoted(words[faults.below(words.count)], to: &v)
            }
            f.setValue(field, v)
            buffer.append(contentsOf: f.joined())

        case .hostileTenant:
            let hostile = [
                "../../etc", "ACME", "a/b", "..", ".", "acme/../globex", "acme\u{0}", "acme ", "-acme",
                String(repeating: "a", count: 65), "Acme", "\u{0430}cme", "acme\\x", "%2e%2e%2fetc",
            ]
            var v: [UInt8] = []
            JSONStringEscaper.appendQuoted(hostile[faults.below(hostile.count)], to: &v)
            f.setValue(0, v)
            buffer.append(contentsOf: f.joined())

        case .unknownTenant:
            let candidates = ["umbrella", "hooli", "initrode", "vandelay", "acme2", "globex-eu"]
                .filter { !tenantIDs.contains($0) }
            let name = candidates.isEmpty
                ? "unknown-\(draft.sequence)" : candidates[faults.below(candidates.count)]
            var v: [UInt8] = []
            JSONStringEscaper.appendQuoted(name, to: &v)
            f.setValue(0, v)
            buffer.append(contentsOf: f.joined())

        case .unknownEventType:
            let known = SampleEventType.allCases.map(\.rawValue)
            let candidates = [
                "toaster.telemetry", "door.unlock", "energy.meter.v2", "thermostat.status", "hvac.telemetry",
            ].filter { !known.contains($0) }
            var v: [UInt8] = []
            JSONStringEscaper.appendQuoted(candidates[faults.below(candidates.count)], to: &v)
            f.setValue(4, v)
            buffer.append(contentsOf: f.joined())

        case .duplicateKey:
            let field = [0, 0, 4, 5][faults.below(4)]
            var v: [UInt8] = []
            switch field {
            case 0:  // another configured tenant: the smuggling case
                let own = devices[draft.device].tenant
                let other = tenantIDs.count > 1
                    ? tenantIDs[(own + 1 + faults.below(tenantIDs.count - 1)) % tenantIDs.count]
                    : "x" + tenantIDs[own]
                JSONStringEscaper.appendQuoted(other, to: &v)
            case 4:
                let own = devices[draft.device].type
                let other = SampleEventType.allCases.first { $0 != own }!
                JSONStringEscaper.appendQuoted(other.rawValue, to: &v)
            default:
                v = f.value(5)
                v[1] = v[1] == 0x30 ? 0x31 : 0x30  // a different id
            }
            // The second occurrence goes anywhere after the first.
            let at = field + 1 + faults.below(f.count - field)
            f.entries.insert(EnvelopeFields.Entry(key: EnvelopeFields.keys[field], value: v), at: at)
            buffer.append(contentsOf: f.joined())

        case .badSchemaVersion:
            let versions = ["v1", "1", "1.0.0", "1.x", "one.zero", " 1.0", "1.0-beta", "1..0", "1.", ".1"]
            var v: [UInt8] = []
            JSONStringEscaper.appendQuoted(versions[faults.below(versions.count)], to: &v)
            f.setValue(8, v)
            buffer.append(contentsOf: f.joined())

        case .emptyID:
            f.setValue([0, 1, 2, 4, 5][faults.below(5)], [0x22, 0x22])
            buffer.append(contentsOf: f.joined())

        case .unknownField:
            let extras = ["tenantId", "device_name", "eventTime", "ts", "Payload", "firmware"]
            var v: [UInt8] = []
            JSONStringEscaper.appendQuoted("x-\(draft.sequence % 97)", to: &v)
            f.entries.insert(EnvelopeFields.Entry(key: extras[faults.below(extras.count)], value: v), at: faults.below(12))
            buffer.append(contentsOf: f.joined())

        case .longID:
            var v: [UInt8] = [0x22]
            v.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: 257 + faults.below(200)))
            v.append(0x22)
            f.setValue([1, 2, 3, 5, 9][faults.below(5)], v)
            buffer.append(contentsOf: f.joined())

        case .deepNesting:
            let depth = config.deepNestingDepth
            var v: [UInt8] = []
            if faults.below(2) == 0 {
                v.reserveCapacity(depth * 6 + 1)
                for _ in 0..<depth { GenBytes.literal("{\"a\":", to: &v) }
                v.append(0x31)
                v.append(contentsOf: repeatElement(0x7D, count: depth))
            } else {
                // An object whose one member holds arrays nested to `depth`.
                GenBytes.literal("{\"a\":", to: &v)
                v.append(contentsOf: repeatElement(0x5B, count: depth - 1))
                v.append(contentsOf: repeatElement(0x5D, count: depth - 1))
                v.append(0x7D)
            }
            f.setValue(10, v)
            buffer.append(contentsOf: f.joined())

        case .oversizedLine:
            // A valid envelope whose payload gains a "blob" string sized so
            // that the line is exactly `oversizedLineBytes` long.
            let padding = max(0, config.oversizedLineBytes - f.joined().count - 10)
            var payload = f.value(10)
            var blob: [UInt8] = []
            blob.reserveCapacity(padding + 10)
            GenBytes.literal("\"blob\":\"", to: &blob)
            for i in 0..<padding { blob.append(0x61 &+ UInt8(truncatingIfNeeded: i % 26)) }
            GenBytes.literal("\",", to: &blob)
            payload.insert(contentsOf: blob, at: 1)
            f.setValue(10, payload)
            buffer.append(contentsOf: f.joined())

        case .binaryGarbage:
            let length = 16 + faults.below(497)
            let start = buffer.count
            switch faults.below(3) {
            case 0: buffer.append(contentsOf: [0x1F, 0x8B, 0x08])  // a gzip stream
            case 1: buffer.append(contentsOf: [0x28, 0xB5, 0x2F, 0xFD])  // a zstd frame
            default: buffer.append(0xFF)  // can never start JSON or UTF-8
            }
            while buffer.count - start < length {
                var word = faults.next()
                for _ in 0..<8 where buffer.count - start < length {
                    let byte = UInt8(truncatingIfNeeded: word)
                    buffer.append(byte == 0x0A ? 0x00 : byte)
                    word >>= 8
                }
            }

        case .emptyLine:
            switch faults.below(3) {
            case 0: break
            case 1: GenBytes.literal(" \t ", to: &buffer)
            default: buffer.append(0x0D)  // a blank line of a CRLF file
            }
        }
    }

    // MARK: - Config validation

    static func validate(_ c: GeneratorConfig) throws(GeneratorConfigError) {
        func fail(_ field: String, _ message: String) -> GeneratorConfigError {
            .invalid(field: field, message: message)
        }
        guard c.count >= 0 else { throw fail("count", "must be >= 0, got \(c.count)") }
        guard (1...65_536).contains(c.partitions) else {
            throw fail("partitions", "must be 1...65536, got \(c.partitions)")
        }
        guard !c.tenants.isEmpty else { throw fail("tenants", "at least one tenant is needed") }
        var seen: Set<String> = []
        for t in c.tenants {
            guard isSafeID(t.id) else {
                throw fail("tenants", "tenant id \"\(t.id)\" must match [a-z0-9][a-z0-9._-]{0,63}")
            }
            guard seen.insert(t.id).inserted else { throw fail("tenants", "tenant \"\(t.id)\" listed twice") }
            guard t.sites >= 1 && t.sites <= 999 else {
                throw fail("tenants", "tenant \"\(t.id)\" needs 1...999 sites, got \(t.sites)")
            }
        }
        guard (1...999).contains(c.devicesPerSite) else {
            throw fail("devicesPerSite", "must be 1...999, got \(c.devicesPerSite)")
        }
        guard !c.eventTypes.isEmpty, Set(c.eventTypes).count == c.eventTypes.count else {
            throw fail("eventTypes", "must be non-empty without repeats")
        }
        guard c.badRate >= 0 && c.badRate <= 1 else { throw fail("badRate", "must be 0...1, got \(c.badRate)") }
        guard c.badRate == 0 || !c.badKinds.isEmpty else {
            throw fail("badKinds", "must name at least one kind when badRate > 0")
        }
        guard c.outOfOrderRate >= 0 && c.outOfOrderRate <= 1 else {
            throw fail("outOfOrderRate", "must be 0...1, got \(c.outOfOrderRate)")
        }
        guard c.meanStepMillis >= 0 && c.meanStepMillis <= 86_400_000 else {
            throw fail("meanStepMillis", "must be 0...86400000, got \(c.meanStepMillis)")
        }
        guard c.maxLatenessMillis >= 1000 else {
            throw fail("maxLatenessMillis", "must be >= 1000, got \(c.maxLatenessMillis)")
        }
        guard c.ingestLagMillis.lowerBound >= 0 else { throw fail("ingestLagMillis", "must not be negative") }
        guard (4096...(1 << 30)).contains(c.oversizedLineBytes) else {
            throw fail("oversizedLineBytes", "must be 4096...1073741824, got \(c.oversizedLineBytes)")
        }
        guard (2...10_000_000).contains(c.deepNestingDepth) else {
            throw fail("deepNestingDepth", "must be 2...10000000, got \(c.deepNestingDepth)")
        }
        if let cap = c.maxHeavyLinesPerKind, cap < 0 {
            throw fail("maxHeavyLinesPerKind", "must be >= 0 or nil, got \(cap)")
        }
    }

    /// `[a-z0-9][a-z0-9._-]{0,63}`, the partition-path-safe id rule.
    package static func isSafeID(_ id: String) -> Bool {
        let b = Array(id.utf8)
        guard (1...64).contains(b.count) else { return false }
        for (i, c) in b.enumerated() {
            let alnum = (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
            if !(alnum || (i > 0 && (c == 0x2E || c == 0x5F || c == 0x2D))) { return false }
        }
        return true
    }
}

// MARK: - Fleet

/// A device, with every byte of its lines that never changes precomputed.
struct Device {
    var type: SampleEventType
    var tenant: Int
    var partition: Int
    /// Position of the device within its site and type (door and meter ids).
    var serial: Int
    var schemaMinor: Int
    var fahrenheit: Bool
    var setpointTenths: Int64
    /// `{"tenant_id":...,"event_type":"...",` and where each of its five keys starts.
    var prefix: [UInt8]
    var prefixMarks: [Int]
    /// `"schema_version":"1.x","source_system":"gen","payload":` and where
    /// `"source_system"` and `"payload"` start in it.
    var middle: [UInt8]
    var middleMarks: (Int, Int)
    /// `"attributes":{...},"_source":{"source":"gen:<seed>","partition":<p>,"offset":`
    /// and where `"_source"` starts in it.
    var tail: [UInt8]
    var tailSourceMark: Int

    /// Device labels, some with characters that need escaping or are
    /// multi-byte UTF-8, so good lines exercise string handling downstream.
    static let labels = [
        "Lobby", "Server room \"B\"", "Back\\door", "K\u{FC}che 2", "\u{C9}tage 3 \u{2013} east",
        "Loading dock\t1", "\u{4F1A}\u{8BAE}\u{5BA4} A", "Warehouse \u{1F69A}", "Roof", "Lab 4",
    ]

    /// Builds the fleet and each device's starting state. Depends only on the
    /// tenants, sites, device count, event types, partitions and (for
    /// `_source`) the seed, so the same devices exist in every run.
    static func buildFleet(_ c: GeneratorConfig) -> (devices: [Device], states: [DeviceState]) {
        var devices: [Device] = []
        var states: [DeviceState] = []
        for (t, tenant) in c.tenants.enumerated() {
            let eventTypes = tenant.eventTypes ?? c.eventTypes
            for s in 1...tenant.sites {
                let site = tenant.siteIDs?[s - 1] ?? tenant.id + "-s" + pad2(s)
                for d in 1...c.devicesPerSite {
                    let type = eventTypes[(d - 1) % eventTypes.count]
                    let deviceID = site + "-" + type.deviceCode + pad2(d)
                    let hash = SplitMix64.mix(fnv1a64(deviceID.utf8))
                    let serial = (s - 1) * c.devicesPerSite + d
                    var device = Device(
                        type: type, tenant: t, partition: Int(fnv1a64(deviceID.utf8) % UInt64(c.partitions)),
                        serial: serial,
                        schemaMinor: type == .thermostatTelemetry && hash % 3 != 0 ? 1 : 0,
                        fahrenheit: tenant.region == "us",
                        setpointTenths: 0, prefix: [], prefixMarks: [], middle: [], middleMarks: (0, 0),
                        tail: [], tailSourceMark: 0)
                    device.setpointTenths = device.fahrenheit
                        ? 660 + Int64((hash >> 8) % 4) * 20 : 190 + Int64((hash >> 8) % 8) * 5
                    device.buildBytes(
                        tenant: tenant, site: site, deviceID: deviceID, label: labels[Int(hash % 10)],
                        seed: c.seed)
                    devices.append(device)
                    switch type {
                    case .thermostatTelemetry:
                        states.append(DeviceState(level: 180 + Int64((hash >> 16) % 60), battery: 40 + Int((hash >> 24) % 61)))
                    case .energyMeter:
                        states.append(DeviceState(level: 100_000 + Int64((hash >> 16) % 5_000_000), battery: 0))
                    case .doorAccess:
                        states.append(DeviceState(level: 0, battery: 0))
                    }
                }
            }
        }
        return (devices, states)
    }

    private mutating func buildBytes(
        tenant: GeneratorTenant, site: String, deviceID: String, label: String, seed: UInt64
    ) {
        var p: [UInt8] = [0x7B]
        var marks: [Int] = []
        for (key, value) in [
            ("tenant_id", tenant.id), ("site_id", site), ("device_id", deviceID),
            ("device_type", type.deviceType), ("event_type", type.rawValue),
        ] {
            marks.append(p.count)
            JSONStringEscaper.appendQuoted(key, to: &p)
            p.append(0x3A)
            JSONStringEscaper.appendQuoted(value, to: &p)
            p.append(0x2C)
        }
        prefix = p
        prefixMarks = marks

        var m: [UInt8] = []
        GenBytes.literal("\"schema_version\":\"1.", to: &m)
        GenBytes.unsigned(UInt64(schemaMinor), to: &m)
        GenBytes.literal("\",", to: &m)
        let sourceSystemMark = m.count
        GenBytes.literal("\"source_system\":\"gen\",", to: &m)
        let payloadMark = m.count
        GenBytes.literal("\"payload\":", to: &m)
        middle = m
        middleMarks = (sourceSystemMark, payloadMark)

        let firmware: String
        switch type {
        case .thermostatTelemetry: firmware = schemaMinor == 1 ? "2.1.0" : "1.9.3"
        case .doorAccess: firmware = "3.0.2"
        case .energyMeter: firmware = "1.4.0"
        }
        var tl: [UInt8] = []
        GenBytes.literal("\"attributes\":{\"fw\":", to: &tl)
        JSONStringEscaper.appendQuoted(firmware, to: &tl)
        GenBytes.literal(",\"region_hint\":", to: &tl)
        JSONStringEscaper.appendQuoted(tenant.region, to: &tl)
        GenBytes.literal(",\"label\":", to: &tl)
        JSONStringEscaper.appendQuoted(label, to: &tl)
        GenBytes.literal("},", to: &tl)
        tailSourceMark = tl.count
        GenBytes.literal("\"_source\":{\"source\":\"gen:", to: &tl)
        GenBytes.unsigned(seed, to: &tl)
        GenBytes.literal("\",\"partition\":", to: &tl)
        GenBytes.unsigned(UInt64(partition), to: &tl)
        GenBytes.literal(",\"offset\":", to: &tl)
        tail = tl
    }

    private static func pad2(_ n: Int) -> String {
        n < 10 ? "0\(n)" : "\(n)"
    }
}

/// What changes per device between events: a random-walk temperature
/// (tenths of °C) or a growing meter reading (Wh), and a battery level.
struct DeviceState {
    var level: Int64
    var battery: Int
}

/// The heavy-kind cap, resolved once from the config.
struct HeavyCap {
    /// nil when there is no cap or when only heavy kinds are selected.
    let cap: Int?
    let lightKinds: [BadLineKind]

    init(_ c: GeneratorConfig) {
        lightKinds = c.badKinds.filter { !$0.isHeavy }
        cap = lightKinds.isEmpty ? nil : c.maxHeavyLinesPerKind
    }
}

// MARK: - Field positions, for deriving bad lines

/// Receives the start of each envelope field while a line is rendered.
protocol FieldMarker {
    mutating func mark(_ field: Int, at position: Int)
}

/// The good-line path records nothing; after specialization this costs zero.
struct NoMarks: FieldMarker {
    @inline(__always) mutating func mark(_ field: Int, at position: Int) {}
}

/// Positions (relative to the line start) of the 13 top-level keys, and at
/// index 13 the position of the closing brace.
struct FieldMarks: FieldMarker {
    var positions = [Int](repeating: 0, count: 14)
    mutating func mark(_ field: Int, at position: Int) { positions[field] = position }
}

/// A good line split into its top-level `"key":value` members, to be edited
/// into a bad line. Rejoining the unedited members gives back the good line
/// byte for byte (a test holds us to that).
struct EnvelopeFields {
    struct Entry {
        var key: String
        var value: [UInt8]
        var omitColon = false
        var unquotedKey = false
    }

    static let keys = [
        "tenant_id", "site_id", "device_id", "device_type", "event_type", "event_id", "event_time_utc",
        "ingest_time_utc", "schema_version", "source_system", "payload", "attributes", "_source",
    ]

    var entries: [Entry]
    var count: Int { entries.count }

    init(line: [UInt8], marks: FieldMarks) {
        let pos = marks.positions
        entries = (0..<13).map { i in
            let keyLength = Self.keys[i].utf8.count + 3  // quotes and colon
            let end = i < 12 ? pos[i + 1] - 1 : pos[13]  // minus the comma
            return Entry(key: Self.keys[i], value: Array(line[(pos[i] + keyLength)..<end]))
        }
    }

    /// The value of the original field `index` (positions shift after inserts
    /// or removals, so callers edit values before changing the entry list).
    func value(_ index: Int) -> [UInt8] { entries[index].value }

    mutating func setValue(_ index: Int, _ value: [UInt8]) { entries[index].value = value }

    func joined(doubleCommaAfter: Int? = nil) -> [UInt8] {
        var out: [UInt8] = [0x7B]
        for (i, e) in entries.enumerated() {
            if i > 0 {
                out.append(0x2C)
                if doubleCommaAfter == i - 1 { out.append(0x2C) }
            }
            if e.unquotedKey {
                out.append(contentsOf: e.key.utf8)
            } else {
                JSONStringEscaper.appendQuoted(e.key, to: &out)
            }
            if !e.omitColon { out.append(0x3A) }
            out.append(contentsOf: e.value)
        }
        out.append(0x7D)
        return out
    }
}

import Foundation
import MedallionCore
import Testing

/// Generates `count` lines into one buffer and returns it with the per-line facts.
func generate(_ config: GeneratorConfig, count: Int) throws -> (bytes: [UInt8], info: [GeneratedLine]) {
    var generator = try SampleGenerator(config)
    var bytes: [UInt8] = []
    var info: [GeneratedLine] = []
    for _ in 0..<count { info.append(generator.appendLine(to: &bytes)) }
    return (bytes, info)
}

func config(seed: UInt64 = 42, badRate: Double = 0, kinds: [BadLineKind] = BadLineKind.allCases) -> GeneratorConfig {
    var c = GeneratorConfig(seed: seed, count: 0, badRate: badRate)
    c.badKinds = kinds
    // Just over the reference check's 1 MiB limit, to keep tests fast.
    c.oversizedLineBytes = (1 << 20) + 4096
    c.deepNestingDepth = 2_000
    return c
}

let defaultTenantIDs = Set(GeneratorConfig.defaultTenants.map(\.id))

@Suite("Determinism")
struct DeterminismTests {
    @Test func sameSeedGivesByteIdenticalOutput() throws {
        let a = try generate(config(seed: 7, badRate: 0.3), count: 5_000)
        let b = try generate(config(seed: 7, badRate: 0.3), count: 5_000)
        #expect(a.bytes == b.bytes)
        #expect(a.info == b.info)
    }

    @Test func differentSeedsGiveDifferentOutput() throws {
        let a = try generate(config(seed: 7), count: 1_000)
        let b = try generate(config(seed: 8), count: 1_000)
        #expect(a.bytes != b.bytes)
        // Not just the `_source` name: the events themselves differ.
        let ea = Reference.lines(a.bytes).map { Reference.json($0)["event_id"] as? String }
        let eb = Reference.lines(b.bytes).map { Reference.json($0)["event_id"] as? String }
        #expect(Set(ea).intersection(Set(eb)).isEmpty)
    }

    @Test func knownSeedGivesKnownFirstLine() throws {
        // Pins the output format: if this changes, downstream fixtures and
        // benchmark numbers change too, so it must be a deliberate decision.
        let line = Reference.lines(try generate(config(seed: 1), count: 1).bytes)[0]
        let expected = #"{"tenant_id":"globex","site_id":"globex-s03","device_id":"globex-s03-dr02","device_type":"door_controller","event_type":"door.access","event_id":"0aa9cd5b-0a0c-abed-b27a-48e29a233673","event_time_utc":"2026-03-01T12:00:00.104Z","ingest_time_utc":"2026-03-01T12:00:00.974Z","schema_version":"1.0","source_system":"gen","payload":{"door_id":"d-57","direction":"in","badge_id":"b-0191","granted":true,"reason":null},"attributes":{"fw":"3.0.2","region_hint":"us","label":"Back\\door"},"_source":{"source":"gen:1","partition":2,"offset":0}}"#
        #expect(String(decoding: line, as: UTF8.self) == expected)
    }

    @Test func goodLinesAreTheSameEventsWhateverTheBadRate() throws {
        let clean = Reference.lines(try generate(config(seed: 3), count: 4_000).bytes)
        let dirty = try generate(config(seed: 3, badRate: 0.4), count: 4_000)
        let dirtyLines = Reference.lines(dirty.bytes)
        var compared = 0
        for (i, info) in dirty.info.enumerated() where info.badKind == nil {
            #expect(dirtyLines[i] == clean[i])
            compared += 1
        }
        #expect(compared > 2_000)
    }

    @Test func writingToAFileGivesTheSameBytesAsAppending() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID()).ndjson").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var c = config(seed: 11, badRate: 0.2)
        c.count = 3_000
        var generator = try SampleGenerator(c)
        try generator.write(toPath: path, chunkBytes: 10_000)  // many small chunks
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == (try generate(c, count: 3_000).bytes))
        #expect(generator.linesEmitted == 3_000)
    }
}

@Suite("Good lines")
struct GoodLineTests {
    @Test func everyGoodLineIsAValidEnvelopeWithExactlyTheEnvelopeKeys() throws {
        let (bytes, _) = try generate(config(seed: 5), count: 20_000)
        let expectedKeys = Set(Reference.requiredKeys + ["attributes", "_source"])  // good lines always carry attributes
        for line in Reference.lines(bytes) {
            #expect(Reference.verdict(line, tenants: defaultTenantIDs) == "ok")
            let object = Reference.json(line)
            #expect(Set(object.keys) == expectedKeys)
            #expect(Reference.topLevelKeys(line).count == 13)
            let source = try #require(object["_source"] as? [String: Any])
            #expect(Set(source.keys) == ["source", "partition", "offset"])
            #expect(source["source"] as? String == "gen:5")
            #expect(source["partition"] is Int)
            #expect(source["offset"] is Int)
            #expect(object["source_system"] as? String == "gen")
        }
    }

    @Test func deviceTypeAndPayloadShapeMatchTheEventType() throws {
        let (bytes, _) = try generate(config(seed: 6), count: 6_000)
        var seen: Set<String> = []
        var schemaVersions: Set<String> = []
        for line in Reference.lines(bytes) {
            let o = Reference.json(line)
            let type = try #require(SampleEventType(rawValue: o["event_type"] as! String))
            #expect(o["device_type"] as? String == type.deviceType)
            let payload = o["payload"] as! [String: Any]
            let version = o["schema_version"] as! String
            seen.insert(type.rawValue)
            switch type {
            case .thermostatTelemetry:
                schemaVersions.insert(version)
                var keys: Set<String> = ["temperature", "unit", "humidity", "setpoint", "mode", "battery_pct"]
                if version == "1.1" { keys.insert("co2_ppm") }
                #expect(Set(payload.keys) == keys)
                #expect(["C", "F"].contains(payload["unit"] as? String))
                #expect(["heat", "cool", "auto", "off"].contains(payload["mode"] as? String))
            case .doorAccess:
                #expect(version == "1.0")
                #expect(Set(payload.keys) == ["door_id", "direction", "badge_id", "granted", "reason"])
                let granted = payload["granted"] as! Bool
                #expect(granted ? payload["reason"] is NSNull : payload["reason"] as? String == "expired")
                #expect((payload["badge_id"] as! String).wholeMatch(of: /b-[0-9]{4}/) != nil)
            case .energyMeter:
                #expect(version == "1.0")
                #expect(
                    Set(payload.keys) == ["meter_id", "kwh", "voltage", "current_a", "power_factor", "phase", "readings"])
                #expect((3...5).contains((payload["readings"] as! [Any]).count))
                #expect(["L1", "L2", "L3"].contains(payload["phase"] as? String))
            }
        }
        #expect(seen.count == 3)
        #expect(schemaVersions == ["1.0", "1.1"])
    }

    @Test func energyMeterReadingsOnlyGrowPerMeter() throws {
        let (bytes, _) = try generate(config(seed: 9), count: 10_000)
        var last: [String: Double] = [:]
        for line in Reference.lines(bytes) {
            let o = Reference.json(line)
            guard o["event_type"] as? String == "energy.meter" else { continue }
            let device = o["device_id"] as! String
            let kwh = (o["payload"] as! [String: Any])["kwh"] as! Double
            #expect(kwh >= last[device, default: 0])
            last[device] = kwh
        }
        #expect(last.count > 10)
    }

    @Test func timesAdvanceWithOccasionalLateEventsAndIngestNeverPrecedesEvent() throws {
        let (bytes, _) = try generate(config(seed: 4), count: 20_000)
        var previous: Int64 = 0
        var late = 0
        for line in Reference.lines(bytes) {
            let o = Reference.json(line)
            let event = try #require(UTCTimestamp.parseMillis(o["event_time_utc"] as! String))
            let ingest = try #require(UTCTimestamp.parseMillis(o["ingest_time_utc"] as! String))
            #expect(ingest >= event)
            if event < previous { late += 1 }
            previous = max(previous, event)
        }
        // Default out-of-order rate is 1%.
        #expect((100...300).contains(late))
    }

    @Test func defaultRunCrossesMidnightSoBronzeGetsTwoIngestDates() throws {
        var generator = try SampleGenerator(config(seed: 2))
        var buffer: [UInt8] = []
        generator.appendLine(to: &buffer)
        let first = Reference.json(Reference.lines(buffer)[0])
        for _ in 1..<1_000_000 {
            buffer.removeAll(keepingCapacity: true)
            generator.appendLine(to: &buffer)
        }
        let last = Reference.json(Reference.lines(buffer)[0])
        #expect((first["ingest_time_utc"] as! String).prefix(10) == "2026-03-01")
        #expect((last["ingest_time_utc"] as! String).prefix(10) == "2026-03-02")
    }

    @Test func eventIDsAreUniqueAndUUIDShaped() throws {
        let (bytes, _) = try generate(config(seed: 12), count: 50_000)
        var ids: Set<String> = []
        for line in Reference.lines(bytes) {
            let id = Reference.json(line)["event_id"] as! String
            #expect(id.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/) != nil)
            ids.insert(id)
        }
        #expect(ids.count == 50_000)
    }

    @Test func aDeviceAlwaysLandsInTheSamePartition() throws {
        var c = config(seed: 13)
        c.partitions = 7
        let (bytes, _) = try generate(c, count: 10_000)
        var partitionOf: [String: Int] = [:]
        var used: Set<Int> = []
        for line in Reference.lines(bytes) {
            let o = Reference.json(line)
            let p = (o["_source"] as! [String: Any])["partition"] as! Int
            let device = o["device_id"] as! String
            #expect(partitionOf[device, default: p] == p)
            partitionOf[device] = p
            used.insert(p)
        }
        #expect(used.isSubset(of: Set(0..<7)))
        #expect(used.count >= 5)
    }
}

@Suite("Offsets")
struct OffsetTests {
    @Test func offsetsIncreaseByOnePerPartitionOverEveryLine() throws {
        let (bytes, info) = try generate(config(seed: 21, badRate: 0.25), count: 20_000)
        var next: [Int: Int64] = [:]
        for line in info {
            #expect(line.offset == next[line.partition, default: 0])
            next[line.partition] = line.offset + 1
        }
        #expect(next.count == 4)
        // And the `_source` written in good lines says the same.
        for (line, fact) in zip(Reference.lines(bytes), info) where fact.badKind == nil {
            let source = Reference.json(line)["_source"] as! [String: Any]
            #expect(source["partition"] as? Int == fact.partition)
            #expect(source["offset"] as? Int == Int(fact.offset))
        }
    }

    @Test func withoutBadLinesTheWrittenOffsetsAreContiguous() throws {
        let (bytes, _) = try generate(config(seed: 22), count: 8_000)
        var next: [Int: Int] = [:]
        for line in Reference.lines(bytes) {
            let source = Reference.json(line)["_source"] as! [String: Any]
            let p = source["partition"] as! Int
            #expect(source["offset"] as? Int == next[p, default: 0])
            next[p, default: 0] += 1
        }
    }
}

@Suite("Bad lines")
struct BadLineTests {
    @Test func badRateIsHonouredAndEveryKindIsProduced() throws {
        var generator = try SampleGenerator(config(seed: 31, badRate: 0.2))
        var buffer: [UInt8] = []
        var bad = 0
        for _ in 0..<50_000 {
            if generator.appendLine(to: &buffer).badKind != nil { bad += 1 }
            if buffer.count > 8 << 20 { buffer.removeAll(keepingCapacity: true) }
        }
        let stats = generator.statistics
        #expect(stats.badLines == bad)
        #expect(abs(Double(bad) / 50_000 - 0.2) < 0.01)
        for kind in BadLineKind.allCases {
            #expect(stats.badLines(of: kind) > 0, "kind \(kind.rawValue) never produced")
        }
        // Heavy kinds are capped (default 16 each).
        #expect(stats.badLines(of: .oversizedLine) == 16)
        #expect(stats.badLines(of: .deepNesting) == 16)
    }

    @Test(arguments: BadLineKind.allCases)
    func eachKindAloneFailsTheReferenceCheckForItsOwnReason(_ kind: BadLineKind) throws {
        let count = kind.isHeavy ? 12 : 400
        let (bytes, info) = try generate(config(seed: 41, badRate: 1, kinds: [kind]), count: count)
        let lines = Reference.lines(bytes)
        #expect(lines.count == count)
        var reasons: [String: Int] = [:]
        for (line, fact) in zip(lines, info) {
            #expect(fact.badKind == kind)
            reasons[Reference.verdict(line, tenants: defaultTenantIDs), default: 0] += 1
        }
        #expect(reasons == [Reference.expectedReason(kind): count])
    }

    @Test func mixedBadLinesAreRejectedAndGoodLinesAccepted() throws {
        let (bytes, info) = try generate(config(seed: 43, badRate: 0.3), count: 10_000)
        for (line, fact) in zip(Reference.lines(bytes), info) {
            let expected = fact.badKind.map(Reference.expectedReason) ?? "ok"
            #expect(Reference.verdict(line, tenants: defaultTenantIDs) == expected)
        }
    }

    @Test func anOversizedLineIsTheCleanLinePlusABlobAndExactlyTheConfiguredSize() throws {
        var c = config(seed: 51, badRate: 0.05, kinds: [.oversizedLine])
        c.oversizedLineBytes = 5_000
        let clean = Reference.lines(try generate(config(seed: 51), count: 2_000).bytes)
        let dirty = try generate(c, count: 2_000)
        var checked = 0
        for (i, line) in Reference.lines(dirty.bytes).enumerated() where dirty.info[i].badKind != nil {
            #expect(line.count == 5_000)
            var text = String(decoding: line, as: UTF8.self)
            text.replace(/"blob":"[a-z]*",/, with: "")
            #expect(Array(text.utf8) == clean[i])
            checked += 1
        }
        #expect(checked > 50)
    }

    @Test func valueReplacingKindsLeaveEveryOtherFieldAsInTheCleanLine() throws {
        let kinds: [BadLineKind] = [.hostileTenant, .unknownTenant, .unknownEventType, .badSchemaVersion, .emptyID,
                                    .badTimestamp, .wrongType]
        let clean = Reference.lines(try generate(config(seed: 52), count: 3_000).bytes)
        let dirty = try generate(config(seed: 52, badRate: 0.5, kinds: kinds), count: 3_000)
        for (i, line) in Reference.lines(dirty.bytes).enumerated() where dirty.info[i].badKind != nil {
            let a = Reference.json(line)
            let b = Reference.json(clean[i])
            #expect(a.count == b.count)
            let changed = b.keys.filter { key in
                guard let x = a[key] as? NSObject, let y = b[key] as? NSObject else { return true }
                return !x.isEqual(y) || type(of: x) != type(of: y)
            }
            #expect(changed.count == 1, "line \(i): changed \(changed)")
        }
    }

    @Test func heavyCapDoesNotApplyWhenOnlyHeavyKindsAreSelected() throws {
        var c = config(seed: 53, badRate: 1, kinds: [.deepNesting])
        c.deepNestingDepth = 100
        c.maxHeavyLinesPerKind = 2
        var generator = try SampleGenerator(c)
        var buffer: [UInt8] = []
        generator.appendLines(20, to: &buffer)
        #expect(generator.statistics.badLines(of: .deepNesting) == 20)
    }

    @Test func summaryCountsEveryLine() throws {
        var generator = try SampleGenerator(config(seed: 54, badRate: 0.5, kinds: [.emptyLine, .notAnObject]))
        var buffer: [UInt8] = []
        generator.appendLines(1_000, to: &buffer)
        let s = generator.statistics
        #expect(s.lines == 1_000)
        #expect(s.bytes == buffer.count)
        #expect(s.goodLines + s.badLines(of: .emptyLine) + s.badLines(of: .notAnObject) == 1_000)
        let summary = try JSONSerialization.jsonObject(with: Data(s.summaryJSON.utf8)) as! [String: Any]
        #expect(summary["lines"] as? Int == 1_000)
        #expect(summary["bad_lines"] as? Int == s.badLines)
    }
}

@Suite("Bytes and config")
struct EncodingTests {
    @Test func escaperWritesQuoteBackslashAndControlCharactersAsJSONRequires() throws {
        var out: [UInt8] = []
        JSONStringEscaper.appendQuoted("a\"b\\c\n\t\u{0}\u{1F} é 🚚 /", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""a\"b\\c\n\t\u0000\u001f é 🚚 /""#)
        let back = try JSONSerialization.jsonObject(with: Data(out), options: [.fragmentsAllowed]) as? String
        #expect(back == "a\"b\\c\n\t\u{0}\u{1F} é 🚚 /")
    }

    @Test func escaperRoundTripsEveryASCIICharacter() throws {
        let text = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self)
        var out: [UInt8] = []
        JSONStringEscaper.appendQuoted(text, to: &out)
        let back = try JSONSerialization.jsonObject(with: Data(out), options: [.fragmentsAllowed]) as? String
        #expect(back == text)
    }

    @Test func timestampsAreFormattedAsRFC3339UTCWithMilliseconds() {
        #expect(UTCTimestamp.string(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(UTCTimestamp.string(millis: 1_772_366_400_123) == "2026-03-01T12:00:00.123Z")
        #expect(UTCTimestamp.string(millis: 1_709_251_199_999) == "2024-02-29T23:59:59.999Z")
        #expect(UTCTimestamp.string(millis: -1) == "1969-12-31T23:59:59.999Z")
    }

    @Test func timestampFormattingAgreesWithFoundationOverManyInstants() {
        // Whole seconds go through Foundation (no floating-point fraction to
        // round); the millisecond digits are checked arithmetically.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let seconds = Int64.random(in: 0...4_102_444_800, using: &rng)  // 1970...2100
            let ms = Int64.random(in: 0...999, using: &rng)
            let fromFoundation = formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
            let expected = fromFoundation.dropLast() + "." + String(1000 + ms).dropFirst() + "Z"
            let ours = UTCTimestamp.string(millis: seconds * 1000 + ms)
            #expect(ours == expected)
            #expect(UTCTimestamp.parseMillis(ours) == seconds * 1000 + ms)
        }
    }

    @Test(arguments: [
        "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-03-01T12:00:00+02:00", "2026-03-01 12:00:00",
        "2026-03-01T24:00:00Z", "yesterday", "2026-03-01T12:00:00.Z", "",
    ])
    func baseTimeParserRejectsNonUTCOrImpossibleTimes(_ text: String) {
        #expect(UTCTimestamp.parseMillis(text) == nil)
    }

    @Test func baseTimeParserAcceptsUTCWithOrWithoutFraction() {
        #expect(UTCTimestamp.parseMillis("2026-03-01T12:00:00Z") == 1_772_366_400_000)
        #expect(UTCTimestamp.parseMillis("2026-03-01T12:00:00.5Z") == 1_772_366_400_500)
        #expect(UTCTimestamp.parseMillis("2026-03-01t12:00:00.123456z") == 1_772_366_400_123)
    }

    @Test func configsThatCannotWorkAreRefusedWithTheFieldNamed() {
        var c = GeneratorConfig()
        c.tenants = [GeneratorTenant(id: "../etc", sites: 1, region: "eu")]
        #expect(throws: GeneratorConfigError.self) { try SampleGenerator(c) }
        c = GeneratorConfig()
        c.badRate = 1.5
        #expect(throws: GeneratorConfigError.invalid(field: "badRate", message: "must be 0...1, got 1.5")) {
            try SampleGenerator(c)
        }
        c = GeneratorConfig()
        c.partitions = 0
        #expect(throws: GeneratorConfigError.self) { try SampleGenerator(c) }
        c = GeneratorConfig()
        c.badRate = 0.1
        c.badKinds = []
        #expect(throws: GeneratorConfigError.self) { try SampleGenerator(c) }
    }

    @Test func badKindListsParseByName() {
        #expect(BadLineKind.parseList("wrong_type,empty_line") == [.wrongType, .emptyLine])
        #expect(BadLineKind.parseList("all") == BadLineKind.allCases)
        #expect(BadLineKind.parseList("nope") == nil)
    }

    @Test func safeIDRuleMatchesTheEnvelopeRule() {
        for id in ["acme", "a", "a.b_c-d", "0tenant", String(repeating: "a", count: 64)] {
            #expect(SampleGenerator.isSafeID(id))
        }
        for id in ["", "ACME", "-a", ".a", "a/b", "..", String(repeating: "a", count: 65), "a b", "\u{430}cme"] {
            #expect(!SampleGenerator.isSafeID(id))
        }
    }
}

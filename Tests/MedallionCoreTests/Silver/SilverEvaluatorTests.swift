import Foundation
import Testing

@testable import MedallionCore

/// The Silver evaluator on the bundled configuration tree: one record in,
/// one outcome out, no tables.
@Suite("Silver evaluator")
struct SilverEvaluatorTests {
    static func program(_ eventType: String) throws -> SilverProgram {
        let (_, programs) = try ConfigTree.silverPrograms(root: projectRoot.path, tenant: "acme", env: "dev", only: [eventType])
        return programs[0]
    }

    static func line(_ eventType: String, version: String = "1.1", eventID: String = "e-1",
                     time: String = "2026-01-01T12:00:00Z", payload: String) -> [UInt8] {
        Array(#"{"tenant_id":"acme","site_id":"acme-s01","device_id":"d1","device_type":"t","event_type":"\#(eventType)","event_id":"\#(eventID)","event_time_utc":"\#(time)","ingest_time_utc":"2026-01-01T12:00:01Z","schema_version":"\#(version)","source_system":"test","payload":\#(payload),"_source":{"source":"s","partition":0,"offset":7}}"#.utf8)
    }

    /// Runs one line through the envelope checker and the evaluator.
    static func evaluate(_ evaluator: inout SilverEvaluator, _ line: [UInt8], seen: inout Set<String>) -> SilverOutcome {
        var checker = EnvelopeChecker(policy: EnvelopePolicy(pipelineTenant: "acme"))
        var scanner = JSONScanner()
        return line.withUnsafeBytes { bytes in
            #expect(checker.check(bytes) == .valid)
            let e = SilverEvaluator.Envelope.read(checker, bytes, scanner: &scanner)
            return evaluator.evaluate(e) { _, key, request in
                switch request {
                case .check: return seen.contains(key)
                case .remember: seen.insert(key); return false
                }
            }
        }
    }

    static let thermostat = #"{"temperature":70.7,"unit":"F","humidity":40,"setpoint":68,"mode":"heat","battery_pct":90,"co2_ppm":600}"#

    @Test func aFahrenheitReadingIsStoredInCelsiusWithItsSiteAndLocalDate() throws {
        var evaluator = SilverEvaluator(program: try Self.program("thermostat.telemetry"))
        var seen = Set<String>()
        let outcome = Self.evaluate(&evaluator, Self.line("thermostat.telemetry", time: "2026-01-01T23:30:00Z", payload: Self.thermostat), seen: &seen)
        #expect(outcome == .kept(warnings: []))
        let p = evaluator.program
        func value(_ name: String) -> SilverValue { evaluator.row[p.columnByPath[name]!] }
        #expect(value("temperature") == .double(21.5))
        #expect(value("setpoint") == .double(20))
        #expect(value("unit") == .string("C"))
        #expect(value("region") == .string("eu-west"))
        #expect(value("event_date_local") == .days(Int32(Timestamp.daysFromCivil(year: 2026, month: 1, day: 2))))
        #expect(value("ingest_date") == .days(Int32(Timestamp.daysFromCivil(year: 2026, month: 1, day: 1))))
        #expect(value("_source_offset") == .long(7))
        #expect(value("battery_pct") == .long(90))
    }

    @Test func everySilverReasonComesFromARealRecord() throws {
        var evaluator = SilverEvaluator(program: try Self.program("thermostat.telemetry"))
        var seen = Set<String>()
        func reason(_ line: [UInt8]) -> RejectReason? {
            if case .dropped(let r) = Self.evaluate(&evaluator, line, seen: &seen) { return r.reason }
            return nil
        }
        #expect(reason(Self.line("thermostat.telemetry", version: "9.9", payload: Self.thermostat)) == .unknownSchemaVersion)
        #expect(reason(Self.line("thermostat.telemetry", payload: #"{"temperature":"hot"}"#)) == .schemaViolation)
        #expect(reason(Self.line("thermostat.telemetry", eventID: "hot", payload: Self.thermostat.replacingOccurrences(of: "70.7", with: "900"))) == .ruleFailed)
        #expect(reason(Self.line("thermostat.telemetry", eventID: "twice", payload: Self.thermostat)) == nil)
        #expect(reason(Self.line("thermostat.telemetry", eventID: "twice", payload: Self.thermostat)) == .duplicateEvent)
        #expect(reason(Self.line("thermostat.telemetry", payload: #"{"temperature":1,"temperature":2}"#)) == .duplicateField)
    }

    @Test func aNumberBeyondDoubleIsRefusedNotStoredAsInfinity() throws {
        var evaluator = SilverEvaluator(program: try Self.program("thermostat.telemetry"))
        var seen = Set<String>()
        let huge = Self.thermostat.replacingOccurrences(of: #""setpoint":68"#, with: #""setpoint":1e400"#)
        guard case .dropped(let r) = Self.evaluate(&evaluator, Self.line("thermostat.telemetry", payload: huge), seen: &seen) else {
            Issue.record("expected a reject"); return
        }
        #expect(r.reason == .schemaViolation && r.field == "payload.setpoint")
    }

    @Test func aRecordDroppedByASecondUniqueRuleLeavesNoKeyInTheFirst() throws {
        var program = try Self.program("thermostat.telemetry")
        let unique = program.rules.first { $0.isUnique }!
        var second = unique
        second.rule.name = "device_once"
        program.rules.append(second)
        var evaluator = SilverEvaluator(program: program)
        var remembered: [Int: Set<String>] = [:]
        let line = Self.line("thermostat.telemetry", eventID: "k1", payload: Self.thermostat)
        var checker = EnvelopeChecker(policy: EnvelopePolicy(pipelineTenant: "acme"))
        var scanner = JSONScanner()
        let outcome = line.withUnsafeBytes { bytes -> SilverOutcome in
            _ = checker.check(bytes)
            let e = SilverEvaluator.Envelope.read(checker, bytes, scanner: &scanner)
            return evaluator.evaluate(e) { i, key, request in
                switch request {
                case .check: return i == program.rules.count - 1  // the second unique rule finds a duplicate
                case .remember: remembered[i, default: []].insert(key); return false
                }
            }
        }
        guard case .dropped(let r) = outcome else { Issue.record("expected a drop"); return }
        #expect(r.rule == "device_once")
        #expect(remembered.isEmpty, "a dropped record must leave no key behind")
    }

    @Test func aSchemaViolationNamesThePointerAndTheKeyword() throws {
        var evaluator = SilverEvaluator(program: try Self.program("door.access"))
        var seen = Set<String>()
        let outcome = Self.evaluate(&evaluator, Self.line("door.access", version: "1.0",
            payload: #"{"door_id":"d","direction":"sideways","badge_id":"b-0001","granted":true}"#), seen: &seen)
        guard case .dropped(let r) = outcome else { Issue.record("expected a reject, got \(outcome)"); return }
        #expect(r.field == "payload.direction")
        #expect(r.message.contains("enum"))
    }

    @Test func aDropRuleNamesItselfAndCountsArePerRule() throws {
        var evaluator = SilverEvaluator(program: try Self.program("thermostat.telemetry"))
        var seen = Set<String>()
        let hot = Self.thermostat.replacingOccurrences(of: "70.7", with: "900")
        guard case .dropped(let r) = Self.evaluate(&evaluator, Self.line("thermostat.telemetry", payload: hot), seen: &seen) else {
            Issue.record("expected a drop"); return
        }
        #expect(r.rule == "temperature_plausible")
        #expect(r.message.contains("above max 150"))
        let i = evaluator.program.rules.firstIndex { $0.rule.name == "temperature_plausible" }!
        #expect(evaluator.counts.failed[i] == 1)
        #expect(evaluator.counts.passed[i] == 0)
    }

    @Test func undeclaredFieldsAreRescuedAsJSON() throws {
        var evaluator = SilverEvaluator(program: try Self.program("thermostat.telemetry"))
        var seen = Set<String>()
        let payload = #"{"temperature":20,"unit":"C","humidity":40,"setpoint":20,"mode":"heat","battery_pct":90,"co2_ppm":500,"note":{"a":[1,2]}}"#
        #expect(Self.evaluate(&evaluator, Self.line("thermostat.telemetry", version: "1.0", payload: payload), seen: &seen) == .kept(warnings: []))
        let rescued = evaluator.row[evaluator.program.columnByPath["_rescued_data"]!]
        #expect(rescued == .string(#"{"co2_ppm":500,"note":{"a":[1,2]}}"#))
        #expect(evaluator.row[evaluator.program.columnByPath["co2_ppm"]!] == .null)
    }

    @Test func aNewMinorVersionOnlyAddsNullableColumns() throws {
        let program = try Self.program("thermostat.telemetry")
        let names = program.deltaSchema.fields.map(\.name)
        #expect(names.contains("co2_ppm"))
        #expect(program.deltaSchema.field(named: "co2_ppm")?.nullable == true)
        #expect(program.deltaSchema.field(named: "battery_pct")?.type == .long)
        #expect(program.deltaSchema.field(named: "event_time_utc")?.type == .timestamp)
    }

    @Test func dedupStateForgetsKeysOutsideTheWindowAndKnowsAReplay() {
        var state = DedupState(windowMicros: 3_600_000_000)
        let first = state.isDuplicate("a", micros: 0, sourceID: "s", partition: 0, offset: 1)
        state.remember("a", micros: 0, sourceID: "s", partition: 0, offset: 1)
        let again = state.isDuplicate("a", micros: 60_000_000, sourceID: "s", partition: 0, offset: 2)
        let replay = state.isDuplicate("a", micros: 0, sourceID: "s", partition: 0, offset: 1)
        let later = state.isDuplicate("a", micros: 7_200_000_001, sourceID: "s", partition: 0, offset: 3)
        state.remember("a", micros: 7_200_000_001, sourceID: "s", partition: 0, offset: 3)
        // A late event does not replace the newer entry.
        state.remember("a", micros: 10, sourceID: "s", partition: 0, offset: 4)
        let afterLate = state.isDuplicate("a", micros: 7_200_000_002, sourceID: "s", partition: 0, offset: 5)
        #expect(!first)
        #expect(again)
        #expect(!replay, "the same position is a replay, not a duplicate")
        #expect(!later, "outside the window")
        #expect(afterLate, "the late event must not make the state forget the newer one")
        state.evict()
        #expect(state.count == 1)
    }

    @Test func payloadTimestampsWithOffsetsAreNormalisedToUTC() {
        #expect(SilverTime.parse("2026-01-01T01:30:00+02:00") == SilverTime.parse("2025-12-31T23:30:00Z"))
        #expect(SilverTime.parse("2026-01-01T00:00:00-05:30") == SilverTime.parse("2026-01-01T05:30:00Z"))
        #expect(SilverTime.parse("2026-02-30T00:00:00Z") == nil)
        #expect(SilverTime.iso(SilverTime.parse("2026-01-01T01:30:00.5+02:00")!) == "2025-12-31T23:30:00.500000Z")
    }
}

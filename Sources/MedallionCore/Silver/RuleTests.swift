import Foundation

/// `medallion test`: the unit tests of an event type's Silver
/// configuration, kept next to its rules in `rules/event_types/<e>.tests.yaml`
/// and run offline through the same `SilverEvaluator` as `silver-validate`.
///
/// ```yaml
/// version: 1
/// event_type: thermostat.telemetry
/// tenant: acme                  # whose sites enrich the events (default: the first tenant enabling the type)
/// defaults:                     # merged under every event (payload key by key)
///   schema_version: "1.1"
///   payload: {temperature: 21.5, unit: C, ...}
/// tests:
///   - name: fahrenheit is stored in celsius
///     event: {payload: {temperature: 70.7, unit: F}}
///     expect: {outcome: kept, values: {temperature: 21.5, unit: C}}
///   - name: implausible temperature is dropped
///     event: {payload: {temperature: 999}}
///     expect: {outcome: dropped, rule: temperature_plausible}
/// ```
///
/// `events:` (a list) feeds earlier events through first (for `unique`);
/// the expectation is about the last one.
package enum RuleTests {
    package struct CaseResult: Sendable {
        package var name: String
        package var line: Int
        /// Empty when the case passed.
        package var differences: [String]
        package var passed: Bool { differences.isEmpty }
    }

    package struct FileResult: Sendable {
        package var eventType: String
        package var file: String
        package var cases: [CaseResult]
        package var failures: Int { cases.filter { !$0.passed }.count }
    }

    static let fileShape = Shape.record([
        Field("version", .integer(1...1), required: true),
        Field("event_type", .text(.safeID), required: true),
        Field("tenant", .text(.safeID)),
        Field("defaults", .anything),
        Field("tests", .list(.record([
            Field("name", .text(.any), required: true),
            Field("event", .anything),
            Field("events", .list(.anything, nonEmpty: true)),
            Field("expect", .record([
                Field("outcome", .choice(["kept", "dropped", "failed"]), required: true),
                Field("rule", .text(.any)),
                Field("reason", .choice(RejectReason.allCases.map(\.rawValue))),
                Field("values", .anything),
                Field("warnings", .list(.text(.any), nonEmpty: false)),
            ]), required: true),
        ]), nonEmpty: true), required: true),
    ])

    /// Runs every `rules/event_types/*.tests.yaml` under `root` (or only
    /// those of `eventTypes`). Problems with the files themselves are thrown.
    package static func run(root: String, env: String = "dev", eventTypes: [String]? = nil) throws(ConfigError) -> [FileResult] {
        let dir = root + "/rules/event_types"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".tests.yaml") }.sorted()
        var results: [FileResult] = []
        var problems: [ConfigProblem] = []
        for file in files {
            let eventType = String(file.dropLast(".tests.yaml".count))
            if let eventTypes, !eventTypes.contains(eventType) { continue }
            let relative = "rules/event_types/\(file)"
            do {
                results.append(try runFile(root: root, relative: relative, eventType: eventType, env: env))
            } catch {
                problems += error.problems
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return results
    }

    private static func runFile(root: String, relative: String, eventType: String, env: String) throws(ConfigError) -> FileResult {
        func problem(_ line: Int, _ key: String, _ message: String, _ fix: String) -> ConfigError {
            ConfigError([ConfigProblem(file: relative, line: line, keyPath: key, message: message, fix: fix)])
        }
        guard let data = FileManager.default.contents(atPath: root + "/" + relative) else {
            throw problem(1, "", "cannot read the file", "check its permissions")
        }
        let value: ConfigValue
        switch ConfigValue.parseYAML(String(decoding: data, as: UTF8.self), file: relative) {
        case .success(let v): value = v
        case .failure(let p): throw ConfigError([p])
        }
        var checker = ShapeChecker()
        checker.check(value, fileShape, path: "")
        if !checker.problems.isEmpty { throw ConfigError(checker.problems) }
        if let declared = value["event_type"]?.string, declared != eventType {
            throw problem(value["event_type"]!.origin.line, "event_type", "the file says event type '\(declared)' but is named for \(eventType)",
                          "write `event_type: \(eventType)`")
        }
        let tree = ConfigTree.load(root: root)
        let tenant = value["tenant"]?.string
            ?? tree.tenantNames.first { name in tree.tenantFiles[name]?["event_types"]?.strings.contains(eventType) ?? false }
        guard let tenant else {
            throw problem(1, "tenant", "no tenant enables \(eventType)", "add `tenant: NAME` naming the tenant whose sites the events use")
        }
        let (settings, programs) = try ConfigTree.silverPrograms(root: root, tenant: tenant, env: env, only: [eventType])
        let program = programs[0]
        let newest = program.versions.keys.sorted { $0.split(separator: ".").compactMap { Int($0) }
            .lexicographicallyPrecedes($1.split(separator: ".").compactMap { Int($0) }) }.last ?? "1.0"
        var base: [(key: String, value: JSONValue)] = [
            ("tenant_id", .string(tenant)), ("site_id", .string(settings.sites.first?.id ?? "site-1")),
            ("device_id", .string("test-device")), ("device_type", .string("test")), ("event_type", .string(eventType)),
            ("event_id", .string("test-event")), ("event_time_utc", .string("2026-01-01T12:00:00Z")),
            ("ingest_time_utc", .string("2026-01-01T12:00:01Z")), ("schema_version", .string(newest)),
            ("source_system", .string("medallion-test")), ("payload", .object([])), ("attributes", .object([])),
        ]
        if let defaults = value["defaults"] { base = merge(base, defaults.json) }

        var cases: [CaseResult] = []
        for (index, test) in (value["tests"]?.items ?? []).enumerated() {
            let name = test["name"]?.string ?? "test \(index + 1)"
            let inputs = test["events"]?.items ?? test["event"].map { [$0] } ?? [ConfigValue(.map([]), origin: test.origin)]
            var evaluator = SilverEvaluator(program: program)
            var dedup: [Int: DedupState] = [:]
            for (i, rule) in program.rules.enumerated() {
                if case .unique(let w) = rule.kind { dedup[i] = DedupState(windowMicros: w) }
            }
            var outcome: SilverOutcome = .kept(warnings: [])
            var envelopeProblem: Rejection?
            for (n, input) in inputs.enumerated() {
                var fields = merge(base, input.json)
                if input["event_id"] == nil {
                    fields = merge(fields, .object([("event_id", .string("test-\(index + 1)-\(n + 1)"))]))
                }
                let line = Array(JSONValue.object(fields).compactText.utf8)
                var envelopeChecker = EnvelopeChecker(policy: EnvelopePolicy(pipelineTenant: tenant, allowedEventTypes: [eventType]))
                var scanner = JSONScanner()
                line.withUnsafeBytes { bytes in
                    switch envelopeChecker.check(bytes) {
                    case .rejected(let r):
                        envelopeProblem = r
                    case .mark:
                        envelopeProblem = Rejection(.notAnObject, "a _mark line is not an event")
                    case .valid:
                        envelopeProblem = nil
                        let e = SilverEvaluator.Envelope.read(envelopeChecker, bytes, scanner: &scanner)
                        outcome = evaluator.evaluate(e) { i, key, request in
                            switch request {
                            case .check:
                                return dedup[i]!.isDuplicate(tenant + "|" + key, micros: e.eventMicros, sourceID: nil, partition: nil, offset: nil)
                            case .remember:
                                dedup[i]!.remember(tenant + "|" + key, micros: e.eventMicros, sourceID: nil, partition: nil, offset: nil)
                                return false
                            }
                        }
                    }
                }
            }
            var differences: [String] = []
            if let envelopeProblem {
                outcome = .dropped(envelopeProblem)
            }
            compare(outcome, evaluator: evaluator, expect: test["expect"]!, into: &differences)
            cases.append(CaseResult(name: name, line: test.origin.line, differences: differences))
        }
        return FileResult(eventType: eventType, file: relative, cases: cases)
    }

    private static func describe(_ outcome: SilverOutcome) -> String {
        switch outcome {
        case .kept(let w): "kept" + (w.isEmpty ? "" : " with warnings \(w.joined(separator: ","))")
        case .dropped(let r): "dropped (\(r.reason.rawValue)\(r.rule.map { ", rule \($0)" } ?? "")): \(r.message)"
        case .failed(let rule, let message): "failed (rule \(rule)): \(message)"
        }
    }

    private static func compare(_ outcome: SilverOutcome, evaluator: SilverEvaluator, expect: ConfigValue, into d: inout [String]) {
        let wanted = expect["outcome"]?.string ?? "kept"
        let got: String, gotRule: String?, gotReason: String?
        switch outcome {
        case .kept: (got, gotRule, gotReason) = ("kept", nil, nil)
        case .dropped(let r): (got, gotRule, gotReason) = ("dropped", r.rule, r.reason.rawValue)
        case .failed(let rule, _): (got, gotRule, gotReason) = ("failed", rule, nil)
        }
        if got != wanted {
            var want = wanted
            if let rule = expect["rule"]?.string { want += " by rule \(rule)" }
            if let reason = expect["reason"]?.string { want += " (\(reason))" }
            d.append("outcome: expected \(want), got \(describe(outcome))")
            return
        }
        if let rule = expect["rule"]?.string, rule != gotRule {
            d.append("rule: expected \(rule), got \(gotRule ?? "none") — \(describe(outcome))")
        }
        if let reason = expect["reason"]?.string, reason != gotReason {
            d.append("reason: expected \(reason), got \(gotReason ?? "none") — \(describe(outcome))")
        }
        if let warnings = expect["warnings"]?.strings, case .kept(let w) = outcome, warnings.sorted() != w.sorted() {
            d.append("warnings: expected [\(warnings.joined(separator: ", "))], got [\(w.joined(separator: ", "))]")
        }
        guard case .kept = outcome else {
            if expect["values"] != nil { d.append("values: expected a kept row, but the record was \(got)") }
            return
        }
        for entry in expect["values"]?.entries ?? [] {
            guard let column = evaluator.program.columnByPath[entry.key] ?? evaluator.program.columns.firstIndex(where: { $0.name == entry.key }) else {
                d.append("\(entry.key): no such column (columns: \(evaluator.program.columns.map(\.name).joined(separator: ", ")))")
                continue
            }
            let actual = evaluator.row[column]
            if !matches(actual, entry.value) {
                d.append("\(entry.key): expected \(entry.value.renderJSON()), got \(actual == .null ? "null" : actual.text)")
            }
        }
    }

    private static func matches(_ actual: SilverValue, _ expected: ConfigValue) -> Bool {
        switch expected.kind {
        case .null: return actual == .null
        case .bool(let b): return actual == .bool(b)
        case .int, .double:
            guard let x = actual.number, let y = expected.double else { return false }
            return abs(x - y) <= 1e-9 * max(1, abs(y))
        case .string(let s):
            switch actual {
            case .micros(let m): return SilverTime.parse(s) == m
            case .days(let d): return SilverTime.parseDate(s) == d
            default: return actual.text == s
            }
        case .list, .map:
            if case .string(let text) = actual, let a = try? JSONValue.parse(text) { return a == expected.json }
            return false
        }
    }

    /// Overlays `overlay` (an object) on `base`; `payload` and `attributes` merge key by key.
    private static func merge(_ base: [(key: String, value: JSONValue)], _ overlay: JSONValue) -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = overlay else { return base }
        var out = base
        for (key, value) in members {
            if let i = out.firstIndex(where: { $0.key == key }) {
                if (key == "payload" || key == "attributes"), case .object(let old) = out[i].value, case .object = value {
                    out[i].value = .object(merge(old, value))
                } else {
                    out[i].value = value
                }
            } else {
                out.append((key, value))
            }
        }
        return out
    }
}

extension ConfigValue {
    /// The value as JSON (YAML scalars keep their type; `1.1` is a number, quote it for a version).
    package var json: JSONValue {
        switch kind {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .number(String(i))
        case .double(let d): .number(String(d))
        case .string(let s): .string(s)
        case .list(let items): .array(items.map(\.json))
        case .map(let entries): .object(entries.map { ($0.key, $0.value.json) })
        }
    }
}

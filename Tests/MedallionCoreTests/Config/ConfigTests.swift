import Foundation
import Testing
@testable import MedallionCore

/// A scratch copy of the bundled tree (configs/, schemas/, rules/, pipelines/),
/// so a test can break one thing and see what `check` says.
struct TreeCopy {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("medallion-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for dir in ["configs", "schemas", "rules", "pipelines"] {
            try FileManager.default.copyItem(atPath: projectRoot.appendingPathComponent(dir).path, toPath: "\(root)/\(dir)")
        }
    }

    func write(_ relative: String, _ text: String) throws {
        let path = "\(root)/\(relative)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func remove(_ relative: String) throws { try FileManager.default.removeItem(atPath: "\(root)/\(relative)") }

    /// What `medallion check` reports.
    func check(envs: [String]? = nil) -> [ConfigProblem] { ConfigTree.checkAll(root: root, envs: envs).problems }

    func cleanUp() { try? FileManager.default.removeItem(atPath: root) }
}

let brokenFixtures = projectRoot.appendingPathComponent("Tests/MedallionCoreTests/Config/Fixtures/broken")

func brokenCases() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: brokenFixtures.path)) ?? []).sorted()
}

@Suite("Configuration tree")
struct ConfigTreeTests {
    @Test("the bundled tree passes check in every environment")
    func bundledTreeIsClean() {
        let tree = ConfigTree.load(root: projectRoot.path)
        #expect(tree.check() == [])
        for env in ConfigSchemas.environments { #expect(tree.check(envs: [env]) == [], "env \(env)") }
        #expect(tree.tenantNames == ["acme", "globex", "initech"])
        #expect(tree.schemas.keys.sorted() == ["door.access", "energy.meter", "thermostat.telemetry"])
        #expect(tree.schemas["thermostat.telemetry"]?.map(\.version) == ["1.0", "1.1"])
        #expect(tree.rules["thermostat.telemetry"]?.gold.first?.windowSeconds == 3600)
        #expect(tree.pipelines["acme"]?.stages.map(\.run) == ConfigSchemas.stageKinds)
    }

    @Test("the bundled tenants match what the generator emits")
    func bundledMatchesGenerator() throws {
        let tree = ConfigTree.load(root: projectRoot.path)
        for tenant in GeneratorConfig.defaultTenants {
            let s = try tree.settings(tenant: tenant.id, env: "dev")
            #expect(s.sites.map(\.id) == (1...tenant.sites).map { String(format: "\(tenant.id)-s%02d", $0) })
            #expect(Set(s.eventTypes) == Set(SampleEventType.allCases.map(\.rawValue)))
        }
    }

    @Test("overlays merge global → tenant → environment: maps by key, lists replace")
    func mergeOrder() throws {
        let tree = ConfigTree.load(root: projectRoot.path)
        let dev = try tree.settings(tenant: "acme", env: "dev")
        let prod = try tree.settings(tenant: "acme", env: "prod")
        #expect(dev.storageRoot == "./lake")                       // global
        #expect(dev.batching.rows == 10_000)                       // dev.yaml
        #expect(dev.batching.bytes == 67_108_864)                  // global, next to an overridden sibling
        #expect(prod.batching.rows == 500_000 && prod.batching.flushIntervalSeconds == 10)
        #expect(prod.compressionLevel == 3)
        #expect(prod.eventHubs.hub == "telemetry")                 // tenant.yaml, next to overridden siblings
        #expect(prod.eventHubs.namespace == "acme-prod-ehns")
        #expect(prod.eventHubs.connectionStringEnv == "ACME_PROD_EVENTHUBS_CONNECTION")
        #expect(prod.dlqRetentionDays == 90 && prod.dlqMaxRejectRatio == 0.05)
        let initech = try tree.settings(tenant: "initech", env: "stage")  // no stage.yaml: tenant settings as they are
        #expect(initech.allowedLatenessSeconds == 900)
        #expect(initech.sites.first == TenantSettings.Site(id: "initech-s01", region: "apac-southeast", timezone: "Asia/Singapore", name: nil))

        let list = try ConfigValue.parseYAML("a: [1, 2]\nm: {x: 1, y: 2}\n", file: "a").get()
        let over = try ConfigValue.parseYAML("a: [3]\nm: {y: 5}\n", file: "b").get()
        let merged = ConfigTree.merge(list, over)
        #expect(merged["a"]?.items.compactMap(\.int) == [3])
        #expect(merged["m"]?["x"]?.int == 1 && merged["m"]?["y"]?.int == 5)
        #expect(merged["m"]?["y"]?.origin == ConfigOrigin(file: "b", line: 2))
    }

    @Test("every broken fixture gives its one problem with file and line", arguments: brokenCases())
    func brokenFixture(_ name: String) throws {
        let dir = brokenFixtures.appendingPathComponent(name)
        let tree = try TreeCopy()
        defer { tree.cleanUp() }
        let files = FileManager.default.enumerator(atPath: dir.path)?.compactMap { $0 as? String } ?? []
        for file in files where !["expected.txt", "remove.txt", "fix.txt"].contains(file) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path, isDirectory: &isDir), !isDir.boolValue
            else { continue }
            try tree.write(file, String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8))
        }
        if let removals = try? String(contentsOf: dir.appendingPathComponent("remove.txt"), encoding: .utf8) {
            for path in removals.split(separator: "\n") { try tree.remove(String(path)) }
        }
        let expected = try String(contentsOf: dir.appendingPathComponent("expected.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let problems = tree.check()
        let got = problems.map { $0.description.components(separatedBy: " (fix: ").first! }
        #expect(got == expected)
        #expect(problems.allSatisfy { !$0.fix.isEmpty })
        if let fix = try? String(contentsOf: dir.appendingPathComponent("fix.txt"), encoding: .utf8) {
            let want = fix.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(problems.contains { $0.fix.contains(want) }, "fix should mention \(want): \(problems.map(\.fix))")
        }
    }

    @Test("all problems are collected, not just the first")
    func collectsEverything() throws {
        let tree = try TreeCopy()
        defer { tree.cleanUp() }
        try tree.write("configs/tenants/globex/dev.yaml", "version: 1\nbatching:\n  rows: lots\ncompresion: {level: 3}\n")
        try tree.write("pipelines/initech.yaml", "version: 1\ntenant: initech\nenv: qa\nstages: []\n")
        let problems = tree.check()
        #expect(problems.map { "\($0.file):\($0.line):\($0.keyPath)" } == [
            "configs/tenants/globex/dev.yaml:3:batching.rows",
            "configs/tenants/globex/dev.yaml:4:compresion",
            "pipelines/initech.yaml:3:env",
            "pipelines/initech.yaml:4:stages",
        ])
        #expect(problems[1].fix == "did you mean 'compression'?")
    }

    @Test("a filter's load reads only its tenant's files")
    func tenantScopedLoad() throws {
        let tree = try TreeCopy()
        defer { tree.cleanUp() }
        try tree.write("configs/tenants/globex/tenant.yaml", "version: 1\ntenant: [broken\n")
        let acme = try ConfigTree.load(root: tree.root, tenant: "acme").settings(tenant: "acme", env: "dev")
        #expect(acme.eventTypes.count == 3)
        #expect(throws: ConfigError.self) { try ConfigTree.load(root: tree.root, tenant: "globex").settings(tenant: "globex", env: "dev") }
        do {
            _ = try ConfigTree.load(root: tree.root, tenant: "nobody").settings(tenant: "nobody", env: "dev")
            Issue.record("expected an error")
        } catch {
            #expect(error.problems.first?.message.contains("no such tenant 'nobody'") == true)
        }
    }

    @Test("scaffolds pass check and refuse to overwrite")
    func scaffolds() throws {
        let tree = try TreeCopy()
        defer { tree.cleanUp() }
        let tenant = try Scaffold.tenant("wayne", eventTypes: ["door.access", "pump.pressure"])
        #expect(try ConfigTree.write(tenant, root: tree.root).count == 3)
        #expect(try ConfigTree.write(Scaffold.eventType("pump.pressure"), root: tree.root).count == 2)
        #expect(tree.check() == [])
        #expect(throws: Scaffold.Refusal.self) { try ConfigTree.write(Scaffold.eventType("pump.pressure"), root: tree.root) }
        #expect(throws: Scaffold.Refusal.self) { try Scaffold.tenant("../etc", eventTypes: ["door.access"]) }
        #expect(Scaffold.connectionVariable(for: "wayne-ent.eu") == "WAYNE_ENT_EU_EVENTHUBS_CONNECTION")
        #expect(Scaffold.connectionVariable(for: "42corp") == "T_42CORP_EVENTHUBS_CONNECTION")
    }

    @Test("YAML output reads back as the same values")
    func yamlRoundTrip() throws {
        let tree = ConfigTree.load(root: projectRoot.path)
        let merged = try #require(tree.mergedValue(tenant: "acme", env: "prod").value)
        let text = merged.renderYAML()
        let back = try ConfigValue.parseYAML(text, file: "x").get()
        #expect(back.renderJSON() == merged.renderJSON())
        let tricky = try ConfigValue.parseYAML(##"a: ["off", "1.0", "x: y", "", "#c", "yes", "-1", "é"]"##, file: "t").get()
        #expect(try ConfigValue.parseYAML(tricky.renderYAML(), file: "t").get().renderJSON() == tricky.renderJSON())
    }

    @Test("every key of every file is documented in docs/configuration.md")
    func keysDocumented() throws {
        let doc = try String(contentsOf: projectRoot.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for key in ConfigSchemas.allKeyNames.sorted() {
            #expect(doc.contains("`\(key)`"), "docs/configuration.md does not document `\(key)`")
        }
    }
}

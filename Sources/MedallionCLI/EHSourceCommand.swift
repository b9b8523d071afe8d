import ArgumentParser
import MedallionCore

#if canImport(Glibc)
import Glibc
#endif

package struct EHSourceCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "eh-source",
        abstract: "Read Event Hubs (Kafka endpoint), a Capture archive, an NDJSON replay or the generator; write NDJSON with _source positions.",
        discussion: """
        Exactly one mode:
          live      --topic HUB (or EntityPath in the connection string): a consumer group on the Kafka endpoint;
                    or --config DIR --tenant T [--env E]: hub, consumer group and connection-string variable
                    from the tenant's eventhubs settings (flags override them; --resume starts at its lake)
          replay    --replay [FILE...]: NDJSON files or stdin ('-'); *.zst decompressed; --follow tails a growing file
          generate  --generate: deterministic sample events (--count, --seed, --bad-rate)
          capture   --capture-dir DIR: Event Hubs Capture Avro files, in partition and time order

        Every output line is a JSON object with a reserved _source = {"source","partition","offset"} \
        (live: kafka:<bootstrap>/<topic>; replay: file:<path> with the line number; capture: \
        capture:<namespace>/<hub> with the sequence number) and, live and capture, ingest_time_utc from \
        the broker's time when the record has none. A record that is not a JSON object goes to the DLQ \
        with its bytes. Replay and generate read no wall clock: the same input gives the same bytes.

        Live settings follow Microsoft's Event Hubs guidance (SASL_SSL/PLAIN, user $ConnectionString, \
        the connection string from the environment variable named by --connection-string-env, never \
        logged). Offsets are stored only after records are written; --resume-from-lake DIR starts each \
        partition after the lowest position the pipeline's sinks stored (the txn actions of \
        bronze/events and of each silver/<event_type> table). Broker outages are \
        retried with backoff and reported on stderr; past --max-retry-seconds the exit status is 75.

        Examples:
          EH_CONN='Endpoint=sb://ns.servicebus.windows.net/;...' eh-source --connection-string-env EH_CONN \\
              --topic telemetry --group bronze --resume-from-lake ./lake | envelope-check --tenant acme | bronze-sink --lake ./lake --tenant acme
          eh-source --replay capture.ndjson.zst --rate 1000 | envelope-check --tenant acme
          eh-source --plaintext --bootstrap 127.0.0.1:9092 --topic t --group g --idle-exit-seconds 5
        """,
        version: medallionVersion)

    // Modes.
    @Option(name: .long, help: "Live: the event hub (Kafka topic) to consume.")
    var topic: String?
    @Flag(name: .long, help: "Replay NDJSON: the FILE arguments (default '-', stdin).")
    var replay = false
    @Argument(help: ArgumentHelp("Files for --replay ('-' is stdin; *.zst is decompressed).", valueName: "file"))
    var files: [String] = []
    @Flag(name: .long, help: "Generate deterministic sample events (see --count, --seed, --bad-rate).")
    var generate = false
    @Option(name: .long, help: ArgumentHelp("Replay Event Hubs Capture Avro files under this directory.", valueName: "dir"))
    var captureDir: String?

    // Live connection.
    @Option(name: .long, help: ArgumentHelp("Name of the environment variable holding the Event Hubs connection string (never pass the string itself).", valueName: "name"))
    var connectionStringEnv: String?
    @Flag(name: .long, help: "Connect without TLS or SASL to --bootstrap (a local Kafka or librdkafka's mock cluster; tests only).")
    var plaintext = false
    @Option(name: .long, help: ArgumentHelp("host:port of the brokers (default with a connection string: <namespace>:9093).", valueName: "host:port"))
    var bootstrap: String?
    @Option(name: .long, help: "Kafka consumer group (default: the tenant's eventhubs.consumer_group with --config, else medallion-eh-source).")
    var group: String?
    @Option(name: .long, help: "Where a partition starts without a committed position: earliest or latest.")
    var start: String = "earliest"
    @Option(name: .long, help: ArgumentHelp("Start each partition after the lowest offset the pipeline's sinks stored under <dir> (txn actions of bronze/events and each silver/<event_type>); repeat for several lakes (the lowest wins).", valueName: "dir"))
    var resumeFromLake: [String] = []
    @Flag(name: .long, help: "Live with --config: start each partition at the slowest of the pipeline's sinks in the tenant's storage.root (as --resume-from-lake ROOT).")
    var resume = false
    @Option(name: .long, help: ArgumentHelp("With --resume-from-lake: only this Bronze sink's txns (default: any sink of the table).", valueName: "id"))
    var resumeSinkId: String?
    @Option(name: .long, help: ArgumentHelp("Exit 75 when every broker stays unreachable this long.", valueName: "seconds"))
    var maxRetrySeconds: Double = 300
    @Option(name: .long, help: ArgumentHelp("Consumer session timeout (Event Hubs: 30000; the mock cluster in tests: 6000).", valueName: "ms"))
    var sessionTimeoutMs: Int = 30_000
    @Option(name: .long, help: ArgumentHelp("Heartbeat interval (3000; 1000 with a 6000 session timeout).", valueName: "ms"))
    var heartbeatIntervalMs: Int = 3_000
    @Option(name: .long, help: ArgumentHelp("librdkafka queued.min.messages: prefetch depth; the default avoids librdkafka 2.0's refill pauses.", valueName: "n"))
    var queuedMinMessages: Int = 500_000
    @Option(name: .long, help: ArgumentHelp("librdkafka queued.max.messages.kbytes: bound on prefetched data.", valueName: "kbytes"))
    var queuedMaxKbytes: Int = 65_536
    @Option(name: .long, help: ArgumentHelp("Any other librdkafka property (repeatable); secrets are refused here.", valueName: "key=value"))
    var kafkaProperty: [String] = []

    // Shared.
    @Option(name: .long, help: ArgumentHelp("The 'source' written in every _source (default per mode, see above).", valueName: "id"))
    var sourceId: String?
    @Option(name: .long, help: ArgumentHelp("Stop after this many records.", valueName: "n"))
    var maxRecords: Int?
    @Option(name: .long, help: ArgumentHelp("Stop after this long without a record (live, --follow); live, a rebalance or a broker error restarts the clock.", valueName: "seconds"))
    var idleExitSeconds: Double?
    @Option(name: .long, help: ArgumentHelp("At most this many records per second (0: unlimited).", valueName: "n"))
    var rate: Double = 0
    @Flag(name: .long, help: "With --replay: at the end of a file, wait for more (tail -f) until SIGTERM or --idle-exit-seconds.")
    var follow = false
    @Option(name: .long, help: ArgumentHelp("Also write what was read to this zstd file, one record per line (live: the emitted lines).", valueName: "file.ndjson.zst"))
    var captureTo: String?

    // Generator.
    @Option(name: .long, help: "--generate: number of events.") var count: Int = 1_000_000
    @Option(name: .long, help: "--generate: seed; the same seed gives the same bytes.") var seed: UInt64 = 42
    @Option(name: .long, help: "--generate: fraction of bad lines (0 to 1).") var badRate: Double = 0
    @Option(name: .long, help: "--generate: source partitions.") var partitions: Int = 4

    @Flag(name: .long, help: "Live: write no position marks ({\"_mark\":...} lines after each partition's records; the sinks record them so their positions advance).")
    var noMarks = false

    @OptionGroup var fleet: FleetFlags
    @OptionGroup var standard: StandardOptions

    package init() {}

    private var modeCount: Int {
        [isLive, replay, generate, captureDir != nil].filter { $0 }.count
    }

    /// Live unless another mode is named: --topic, a connection string, or
    /// a tenant's eventhubs settings from the tree.
    private var isLive: Bool {
        guard !replay, !generate, captureDir == nil else { return topic != nil }
        return topic != nil || connectionStringEnv != nil || fleet.config != nil
    }

    package func validate() throws {
        guard standard.input.isEmpty else {
            throw ValidationError("eh-source reads no --input; give files with --replay FILE... (or '-' for stdin)")
        }
        guard modeCount == 1 else {
            throw ValidationError("choose exactly one mode: --topic (live), --replay [FILE...], --generate or --capture-dir DIR")
        }
        if !files.isEmpty, !replay {
            throw ValidationError("file arguments are for --replay; add --replay or remove \(files[0])")
        }
        if follow, !replay { throw ValidationError("--follow works with --replay only") }
        if fleet.config != nil, !generate, !isLive {
            throw ValidationError("--config DIR works in live mode (the tenant's eventhubs settings) and with --generate; replays and Capture files carry their own positions")
        }
        if isLive, fleet.config != nil, fleet.tenant == nil {
            throw ValidationError("live mode with --config needs --tenant T: the Event Hubs settings are per tenant")
        }
        if resume {
            guard isLive, fleet.config != nil else { throw ValidationError("--resume starts at the tenant's lake: it needs live mode with --config DIR --tenant T (or use --resume-from-lake DIR)") }
            guard resumeFromLake.isEmpty else { throw ValidationError("give --resume or --resume-from-lake DIR, not both") }
        }
        if replay, sourceId != nil, files.count > 1 {
            throw ValidationError("--source-id with several replay files would give their lines the same positions; replay one file per --source-id")
        }
        guard KafkaStart(rawValue: start) != nil else { throw ValidationError("--start must be earliest or latest, got '\(start)'") }
        guard rate >= 0 else { throw ValidationError("--rate must be 0 (unlimited) or positive") }
        if let maxRecords, maxRecords < 0 { throw ValidationError("--max-records must be >= 0") }
        if isLive {
            if plaintext {
                guard bootstrap != nil else { throw ValidationError("--plaintext needs --bootstrap host:port") }
            } else if connectionStringEnv == nil, fleet.config == nil {
                throw ValidationError("live mode needs --connection-string-env NAME (the variable holding the Event Hubs connection string), or --plaintext --bootstrap host:port for a local peer")
            }
            for property in kafkaProperty {
                guard let eq = property.firstIndex(of: "="), eq != property.startIndex else {
                    throw ValidationError("--kafka-property takes key=value, got '\(property)'")
                }
                if KafkaProperty.secretKeys.contains(String(property[..<eq])) {
                    throw ValidationError("--kafka-property \(property[..<eq]) would put a secret on the command line; use --connection-string-env")
                }
            }
        } else if !resumeFromLake.isEmpty {
            throw ValidationError("--resume-from-lake applies to live mode (--topic); replays keep the positions in their lines")
        }
    }

    func makeMode() throws(StageError) -> EHSourceOptions.Mode {
        if replay { return .replay(paths: files.isEmpty ? ["-"] : files, follow: follow) }
        if generate {
            var config = GeneratorConfig(seed: seed, count: count, badRate: badRate)
            config.partitions = partitions
            do {
                try fleet.apply(to: &config, stage: "eh-source")
            } catch {
                throw StageError(.config, "the configuration tree has problems (listed above)")
            }
            return .generate(config)
        }
        if let captureDir { return .capture(directory: captureDir) }
        // Flags win; the tenant's eventhubs settings (--config) fill the rest.
        let tree = try treeSettings()
        let connection: KafkaConsumerSettings.Connection
        var resolvedTopic = topic ?? tree?.eventHubs.hub
        if plaintext {
            connection = .plaintext(bootstrap: bootstrap!)
        } else {
            let name = connectionStringEnv ?? tree!.eventHubs.connectionStringEnv
            let named = connectionStringEnv != nil ? "--connection-string-env \(name)" : "eventhubs.connection_string_env \(name) (tenant \(fleet.tenant!), env \(fleet.env))"
            guard let raw = getenv(name), case let value = String(cString: raw), !value.isEmpty else {
                throw StageError(.config, "\(named): the variable is not set or empty; export it with the namespace's connection string")
            }
            let parsed = try EventHubsConnection.parse(value, origin: "environment variable \(name)")
            if let tree, connectionStringEnv == nil, bootstrap == nil,
               !Self.sameNamespace(host: parsed.host, configured: tree.eventHubs.namespace) {
                throw StageError(.config, "environment variable \(name) points at namespace \(parsed.host), but tenant \(tree.tenant)'s eventhubs.namespace in env \(fleet.env) is \(tree.eventHubs.namespace) (fix: export the connection string of \(tree.eventHubs.namespace), or correct eventhubs.namespace)")
            }
            if resolvedTopic == nil { resolvedTopic = parsed.entityPath }
            connection = .eventHubs(connectionString: value, origin: "environment variable \(name)")
        }
        guard let resolvedTopic else {
            throw StageError(.config, "no topic: give --topic HUB, or use a connection string with EntityPath=HUB")
        }
        var settings = KafkaConsumerSettings(connection: connection, groupID: group ?? tree?.eventHubs.consumerGroup ?? "medallion-eh-source")
        if !plaintext, let bootstrap { settings.bootstrapOverride = bootstrap }
        settings.start = KafkaStart(rawValue: start)!
        settings.sessionTimeoutMillis = sessionTimeoutMs
        settings.heartbeatIntervalMillis = heartbeatIntervalMs
        settings.queuedMinMessages = queuedMinMessages
        settings.queuedMaxKilobytes = queuedMaxKbytes
        settings.extra = kafkaProperty.map { p in
            let eq = p.firstIndex(of: "=")!
            return KafkaProperty(String(p[..<eq]), String(p[p.index(after: eq)...]))
        }
        var lakes = resumeFromLake
        if resume, let tree {
            if let scheme = LakeRoot.urlScheme(tree.storageRoot) {
                throw StageError(.config, "--resume: tenant \(tree.tenant)'s storage.root in env \(fleet.env) is a \(scheme):// URL; this build reads local paths only (fix: mount it and set storage.root to the mount path, or pass --resume-from-lake DIR)")
            }
            lakes = [tree.storageRoot]
        }
        let resume = lakes.isEmpty ? nil : EHSourceOptions.LakeResume(lakeRoots: lakes, sinkID: resumeSinkId)
        return .kafka(settings, topic: resolvedTopic, resume: resume)
    }

    /// Whether a connection string's host is the configured namespace, given
    /// as a name (`acme-prod-ehns`) or a host (`acme-prod-ehns.servicebus.windows.net`);
    /// DNS names compare without case.
    static func sameNamespace(host: String, configured: String) -> Bool {
        let host = host.lowercased(), name = configured.lowercased()
        return host == name || host.hasPrefix(name + ".")
    }

    /// The tenant's merged settings in live mode with --config, else nil.
    private func treeSettings() throws(StageError) -> TenantSettings? {
        guard isLive, let root = fleet.config, let tenant = fleet.tenant else { return nil }
        do {
            return try ConfigTree.load(root: root, tenant: tenant).settings(tenant: tenant, env: fleet.env)
        } catch {
            for problem in error.problems.dropLast() { reportError(stage: "eh-source", StageError(.config, problem.formatted(root: root))) }
            throw StageError(.config, error.problems.last?.formatted(root: root) ?? "the configuration tree has problems")
        }
    }

    /// The summary's `input`: what this run reads.
    private var inputLabel: String {
        if replay { return (files.isEmpty ? ["-"] : files).joined(separator: ",") }
        if generate { return "generate:\(seed)" }
        if let captureDir { return "capture-dir:\(captureDir)" }
        return "kafka:\(bootstrap ?? "event-hubs")/\(topic ?? (fleet.config != nil ? "(eventhubs.hub)" : "(EntityPath)"))"
    }

    package func run() throws {
        try runFilter(stage: "eh-source", options: standard, summaryInput: inputLabel) { (runtime) throws(StageError) in
            var options = EHSourceOptions(mode: try makeMode())
            options.sourceID = sourceId
            options.maxRecords = maxRecords
            options.idleExitSeconds = idleExitSeconds
            options.maxRetrySeconds = maxRetrySeconds
            options.rate = rate
            options.captureTo = captureTo
            options.marks = !noMarks
            try EHSource(options: options, runtime: runtime).run()
        }
    }
}

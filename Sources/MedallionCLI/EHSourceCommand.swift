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
          live      --topic HUB (or EntityPath in the connection string): a consumer group on the Kafka endpoint
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
    @Option(name: .long, help: "Kafka consumer group (Kafka groups are separate from Event Hubs consumer groups).")
    var group: String = "medallion-eh-source"
    @Option(name: .long, help: "Where a partition starts without a committed position: earliest or latest.")
    var start: String = "earliest"
    @Option(name: .long, help: ArgumentHelp("Start each partition after the lowest offset the pipeline's sinks stored under <dir> (txn actions of bronze/events and each silver/<event_type>); repeat for several lakes (the lowest wins).", valueName: "dir"))
    var resumeFromLake: [String] = []
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
        [topic != nil || (connectionStringEnv != nil && !replay && !generate && captureDir == nil), replay, generate, captureDir != nil]
            .filter { $0 }.count
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
        if fleet.config != nil, !generate { throw ValidationError("--config DIR (the fleet to generate) works with --generate only") }
        if replay, sourceId != nil, files.count > 1 {
            throw ValidationError("--source-id with several replay files would give their lines the same positions; replay one file per --source-id")
        }
        guard KafkaStart(rawValue: start) != nil else { throw ValidationError("--start must be earliest or latest, got '\(start)'") }
        guard rate >= 0 else { throw ValidationError("--rate must be 0 (unlimited) or positive") }
        if let maxRecords, maxRecords < 0 { throw ValidationError("--max-records must be >= 0") }
        if isLive {
            if plaintext {
                guard bootstrap != nil else { throw ValidationError("--plaintext needs --bootstrap host:port") }
            } else if connectionStringEnv == nil {
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

    private var isLive: Bool { topic != nil || (connectionStringEnv != nil && !replay && !generate && captureDir == nil) }

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
        let connection: KafkaConsumerSettings.Connection
        var resolvedTopic = topic
        if plaintext {
            connection = .plaintext(bootstrap: bootstrap!)
        } else {
            let name = connectionStringEnv!
            guard let raw = getenv(name), case let value = String(cString: raw), !value.isEmpty else {
                throw StageError(.config, "--connection-string-env \(name): the variable is not set or empty; export it with the namespace's connection string")
            }
            let parsed = try EventHubsConnection.parse(value, origin: "environment variable \(name)")
            if resolvedTopic == nil { resolvedTopic = parsed.entityPath }
            connection = .eventHubs(connectionString: value, origin: "environment variable \(name)")
        }
        guard let resolvedTopic else {
            throw StageError(.config, "no topic: give --topic HUB, or use a connection string with EntityPath=HUB")
        }
        var settings = KafkaConsumerSettings(connection: connection, groupID: group)
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
        let resume = resumeFromLake.isEmpty ? nil : EHSourceOptions.LakeResume(lakeRoots: resumeFromLake, sinkID: resumeSinkId)
        return .kafka(settings, topic: resolvedTopic, resume: resume)
    }

    /// The summary's `input`: what this run reads.
    private var inputLabel: String {
        if replay { return (files.isEmpty ? ["-"] : files).joined(separator: ",") }
        if generate { return "generate:\(seed)" }
        if let captureDir { return "capture-dir:\(captureDir)" }
        return "kafka:\(bootstrap ?? "event-hubs")/\(topic ?? "(EntityPath)")"
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

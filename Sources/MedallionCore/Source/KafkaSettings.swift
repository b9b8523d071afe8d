/// One librdkafka configuration property.
package struct KafkaProperty: Sendable, Equatable, CustomStringConvertible {
    package var key: String
    package var value: String

    package init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }

    /// Properties whose value is a secret: never printed, never logged.
    package static let secretKeys: Set<String> = ["sasl.password", "ssl.key.password", "sasl.oauthbearer.client.secret"]

    package var isSecret: Bool { Self.secretKeys.contains(key) }

    /// `key=value`, with secrets shown as `<redacted>`.
    package var description: String { "\(key)=\(isSecret ? "<redacted>" : value)" }
}

/// Where the consumer starts when nothing says otherwise (no committed group
/// offset, or no `txn` for the partition with `--resume-from-lake`).
package enum KafkaStart: String, Sendable, CaseIterable {
    case earliest, latest
}

/// What an Event Hubs connection string says, as far as Kafka needs it.
///
/// `Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<name>;SharedAccessKey=<key>[;EntityPath=<hub>]`
/// (or `SharedAccessSignature=...` instead of the key pair). The string itself
/// is the SASL password, so errors name the missing key but never quote the
/// string.
package struct EventHubsConnection: Sendable, Equatable {
    /// `<namespace>.servicebus.windows.net`
    package var host: String
    /// The event hub, when the string is scoped to one (`EntityPath`).
    package var entityPath: String?

    /// The Kafka endpoint: Event Hubs serves Kafka on port 9093 of the namespace host.
    package var bootstrap: String { "\(host):9093" }

    /// - Parameter origin: where the string came from (e.g. the variable's
    ///   name), for messages.
    /// - Throws: `StageError(.config)` naming what is missing and how to fix it.
    package static func parse(_ connectionString: String, origin: String) throws(StageError) -> EventHubsConnection {
        var fields: [String: String] = [:]
        for part in connectionString.split(separator: ";", omittingEmptySubsequences: true) {
            let trimmed = part.drop(while: { $0 == " " })
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw StageError(.config, "\(origin): a part of the connection string has no '=' (expected Key=Value pairs separated by ';', as the Azure portal's 'Connection string–primary key' shows)")
            }
            // Values (base64 keys) may themselves contain '=': split at the first one only.
            fields[trimmed[..<eq].lowercased()] = String(trimmed[trimmed.index(after: eq)...])
        }
        guard let endpoint = fields["endpoint"], !endpoint.isEmpty else {
            throw StageError(.config, "\(origin): the connection string has no Endpoint=sb://<namespace>.servicebus.windows.net/; copy it from the Event Hubs namespace's 'Shared access policies'")
        }
        guard endpoint.lowercased().hasPrefix("sb://") else {
            throw StageError(.config, "\(origin): Endpoint must start with sb:// (e.g. sb://<namespace>.servicebus.windows.net/)")
        }
        var host = Substring(endpoint.dropFirst(5))
        if let end = host.firstIndex(where: { $0 == "/" || $0 == ":" }) { host = host[..<end] }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else {
            throw StageError(.config, "\(origin): Endpoint has no valid host name after sb://")
        }
        let hasKey = fields["sharedaccesskeyname"].map { !$0.isEmpty } == true && fields["sharedaccesskey"].map { !$0.isEmpty } == true
        let hasSignature = fields["sharedaccesssignature"].map { !$0.isEmpty } == true
        guard hasKey || hasSignature else {
            throw StageError(.config, "\(origin): the connection string has neither SharedAccessKeyName + SharedAccessKey nor SharedAccessSignature; use a policy's full connection string")
        }
        let entity = fields["entitypath"].flatMap { $0.isEmpty ? nil : $0 }
        return EventHubsConnection(host: String(host), entityPath: entity)
    }
}

/// The librdkafka settings of `eh-source`'s consumer, built by a pure
/// function so they can be unit-tested: SASL/TLS to Event Hubs cannot be
/// reached from a test machine, only the mapping can.
package struct KafkaConsumerSettings: Sendable, Equatable {
    /// How to reach the brokers.
    package enum Connection: Sendable, Equatable {
        /// Event Hubs: SASL_SSL/PLAIN, user `$ConnectionString`, the string as password.
        case eventHubs(connectionString: String, origin: String)
        /// A plaintext Kafka peer (librdkafka's mock cluster in tests).
        case plaintext(bootstrap: String)
    }

    package var connection: Connection
    /// Replaces the namespace's `:9093` endpoint (e.g. a private endpoint's name).
    package var bootstrapOverride: String?
    package var groupID: String
    package var start: KafkaStart = .earliest
    /// Microsoft's value for Event Hubs; tests on the mock cluster use 6000.
    package var sessionTimeoutMillis = 30_000
    package var heartbeatIntervalMillis = 3_000
    /// librdkafka 2.0.2 pauses a consumer for about a second whenever its
    /// queue refills below the default threshold; a higher one keeps fetches
    /// flowing (measured 150k → 400k+ messages/s, eventhubs.md).
    package var queuedMinMessages = 500_000
    /// Bound on prefetched data per partition, which bounds memory.
    package var queuedMaxKilobytes = 65_536
    /// Extra properties (`--kafka-property key=value`), applied last.
    package var extra: [KafkaProperty] = []

    package init(connection: Connection, groupID: String) {
        self.connection = connection
        self.groupID = groupID
    }

    /// The bootstrap address: the namespace's port 9093, or the plaintext peer.
    package func bootstrap() throws(StageError) -> String {
        if let bootstrapOverride { return bootstrapOverride }
        switch connection {
        case .plaintext(let bootstrap): return bootstrap
        case .eventHubs(let string, let origin): return try EventHubsConnection.parse(string, origin: origin).bootstrap
        }
    }

    /// Every property, in the order they are applied.
    /// - Throws: `StageError(.config)` for a malformed connection string.
    package func properties() throws(StageError) -> [KafkaProperty] {
        var p: [KafkaProperty] = [KafkaProperty("bootstrap.servers", try bootstrap())]
        switch connection {
        case .eventHubs(let string, let origin):
            _ = try EventHubsConnection.parse(string, origin: origin)
            p += [
                KafkaProperty("security.protocol", "SASL_SSL"),
                KafkaProperty("sasl.mechanisms", "PLAIN"),
                KafkaProperty("sasl.username", "$ConnectionString"),
                KafkaProperty("sasl.password", string),
            ]
        case .plaintext:
            p.append(KafkaProperty("security.protocol", "plaintext"))
        }
        p += [
            KafkaProperty("client.id", "medallion-eh-source"),
            KafkaProperty("group.id", groupID),
            // Azure closes idle connections after 240 s: keep them alive and
            // refresh metadata before that.
            KafkaProperty("socket.keepalive.enable", "true"),
            KafkaProperty("metadata.max.age.ms", "180000"),
            KafkaProperty("session.timeout.ms", String(sessionTimeoutMillis)),
            KafkaProperty("heartbeat.interval.ms", String(heartbeatIntervalMillis)),
            KafkaProperty("max.poll.interval.ms", "300000"),
            // At-least-once into the pipe: an offset is stored only after the
            // record was handed to stdout; stored offsets are committed in the background.
            KafkaProperty("enable.auto.commit", "true"),
            KafkaProperty("enable.auto.offset.store", "false"),
            KafkaProperty("auto.offset.reset", start.rawValue),
            KafkaProperty("queued.min.messages", String(queuedMinMessages)),
            KafkaProperty("queued.max.messages.kbytes", String(queuedMaxKilobytes)),
            KafkaProperty("reconnect.backoff.ms", "100"),
            KafkaProperty("reconnect.backoff.max.ms", "5000"),
        ]
        p += extra
        return p
    }
}

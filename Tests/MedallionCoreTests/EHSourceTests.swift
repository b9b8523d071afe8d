import Testing
@testable import MedallionCore

@Suite("eh-source: Event Hubs settings, stamping, lake positions")
struct EHSourceTests {
    static let connection = "Endpoint=sb://contoso-iot.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=abc/DEF+ghi==;EntityPath=telemetry"

    func property(_ props: [KafkaProperty], _ key: String) -> String? {
        props.last { $0.key == key }?.value
    }

    @Test func connectionStringMapsToMicrosoftsKafkaSettings() throws {
        let parsed = try EventHubsConnection.parse(Self.connection, origin: "EH_CONN")
        #expect(parsed == EventHubsConnection(host: "contoso-iot.servicebus.windows.net", entityPath: "telemetry"))
        let settings = KafkaConsumerSettings(connection: .eventHubs(connectionString: Self.connection, origin: "EH_CONN"),
                                             groupID: "bronze")
        let props = try settings.properties()
        #expect(property(props, "bootstrap.servers") == "contoso-iot.servicebus.windows.net:9093")
        #expect(property(props, "security.protocol") == "SASL_SSL")
        #expect(property(props, "sasl.mechanisms") == "PLAIN")
        #expect(property(props, "sasl.username") == "$ConnectionString")
        #expect(property(props, "sasl.password") == Self.connection)
        #expect(property(props, "socket.keepalive.enable") == "true")
        #expect(property(props, "metadata.max.age.ms") == "180000")
        #expect(property(props, "session.timeout.ms") == "30000")
        #expect(property(props, "heartbeat.interval.ms") == "3000")
        #expect(property(props, "max.poll.interval.ms") == "300000")
        #expect(property(props, "enable.auto.offset.store") == "false")
        #expect(property(props, "group.id") == "bronze")
        #expect(Int(property(props, "queued.min.messages")!)! > 100_000)  // librdkafka 2.0's default pauses
        // The password never appears in a printable form.
        #expect(!props.map(\.description).joined(separator: " ").contains("SharedAccessKey=abc"))
        #expect(props.first { $0.key == "sasl.password" }!.description == "sasl.password=<redacted>")
    }

    @Test func plaintextHasNoSASLAndExtraPropertiesComeLast() throws {
        var settings = KafkaConsumerSettings(connection: .plaintext(bootstrap: "127.0.0.1:9092"), groupID: "g")
        settings.start = .latest
        settings.extra = [KafkaProperty("session.timeout.ms", "6000")]
        let props = try settings.properties()
        #expect(property(props, "security.protocol") == "plaintext")
        #expect(property(props, "sasl.password") == nil)
        #expect(property(props, "auto.offset.reset") == "latest")
        #expect(property(props, "session.timeout.ms") == "6000")
    }

    @Test(arguments: [
        ("SharedAccessKeyName=a;SharedAccessKey=b", "Endpoint"),
        ("Endpoint=https://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b", "sb://"),
        ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a", "SharedAccessKey"),
        ("Endpoint=sb://x.servicebus.windows.net/;garbage", "Key=Value"),
    ])
    func badConnectionStringsNameTheProblemNotTheSecret(_ input: (String, String)) {
        do {
            _ = try EventHubsConnection.parse(input.0, origin: "environment variable EH_CONN")
            Issue.record("accepted \(input.0)")
        } catch {
            #expect(error.code == .config)
            #expect(error.message.contains(input.1))
            #expect(error.message.contains("EH_CONN"))
            #expect(!error.message.contains("SharedAccessKey=b"))
        }
    }

    @Test func sharedAccessSignatureIsAccepted() throws {
        let s = "Endpoint=sb://ns.servicebus.windows.net;SharedAccessSignature=SharedAccessSignature sr=x&sig=y"
        #expect(try EventHubsConnection.parse(s, origin: "X").bootstrap == "ns.servicebus.windows.net:9093")
    }

    func stamp(_ record: String, existing: SourceStamper.ExistingSource = .renameToOrigin, ingest: Int64? = 1_772_366_400_123) -> String {
        var stamper = SourceStamper(sourceID: "kafka:b/t", existing: existing)
        let outcome = [UInt8](record).withUnsafeBytes { stamper.stamp($0, partition: 3, offset: 42, ingestMillis: ingest) }
        switch outcome {
        case .emit: return String(decoding: stamper.line, as: UTF8.self)
        case .rejected(let r): return "reject:\(r.reason.rawValue)"
        }
    }

    @Test func stampsPositionAndIngestTimeInFrontOfTheSendersBytes() {
        #expect(stamp(#"{"a": 1}"#) == #"{"_source":{"source":"kafka:b/t","partition":3,"offset":42},"ingest_time_utc":"2026-03-01T12:00:00.123Z","a": 1}"#)
        #expect(stamp(#" {} "#) == #"{"_source":{"source":"kafka:b/t","partition":3,"offset":42},"ingest_time_utc":"2026-03-01T12:00:00.123Z"}"#)
        #expect(stamp(#"{"ingest_time_utc":"x","a":1}"#) == #"{"_source":{"source":"kafka:b/t","partition":3,"offset":42},"ingest_time_utc":"x","a":1}"#)
        #expect(stamp("{\"a\":\n1}", ingest: nil) == #"{"_source":{"source":"kafka:b/t","partition":3,"offset":42},"a": 1}"#)
        #expect(stamp(#"{"_source":{"x":1},"a":1}"#, ingest: nil) == #"{"_source":{"source":"kafka:b/t","partition":3,"offset":42},"_origin":{"x":1},"a":1}"#)
        #expect(stamp(#"{"_source":{"x":1},"_origin":2}"#) == "reject:duplicate_field")
    }

    @Test func replaysKeepAPositionTheLineAlreadyHas() {
        #expect(stamp(#"{"_source":{"x":1},"a":1}"#, existing: .keep, ingest: nil) == #"{"_source":{"x":1},"a":1}"#)
        #expect(stamp(#"{"a":1}"#, existing: .keep, ingest: nil) == #"{"_source":{"source":"kafka:b/t","partition":3,"offset":42},"a":1}"#)
    }

    /// Regression: the stamper once borrowed the source id's bytes from a
    /// temporary array after it was freed, and live output carried garbage in
    /// `_source.source` about one run in six. Long ids and allocation churn
    /// make a borrowed buffer show.
    @Test func theSourceIDIsCopiedNotBorrowed() {
        for i in 0..<300 {
            let id = "kafka:broker-\(i).example.internal:9093/" + String(repeating: "t", count: 40 + i % 50)
            var stamper = SourceStamper(sourceID: id, existing: .keep)
            let churn = [UInt8](repeating: 0x7B, count: 64 + i % 200)
            let outcome = [UInt8](#"{"a":1}"#).withUnsafeBytes { stamper.stamp($0, partition: 0, offset: Int64(i), ingestMillis: nil) }
            guard case .emit = outcome else { Issue.record("rejected"); continue }
            let text = String(decoding: stamper.line, as: UTF8.self)
            #expect(text.hasPrefix(#"{"_source":{"source":""# + id + #"","#), "\(text.prefix(160))")
            #expect(churn.count > 0)
        }
    }

    @Test func nonObjectsAreRejectedWithTheirReason() {
        #expect(stamp("[1]") == "reject:not_an_object")
        #expect(stamp("nope") == "reject:invalid_json")
        #expect(stamp("") == "reject:invalid_json")
        #expect(stamp("{\"a\":\"\u{FFFD}\"") == "reject:invalid_json")
        #expect([UInt8]([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]).withUnsafeBytes { raw -> Bool in
            var s = SourceStamper(sourceID: "x", existing: .keep)
            if case .rejected(let r) = s.stamp(raw, partition: 0, offset: 0, ingestMillis: nil) { return r.reason == .invalidUTF8 }
            return false
        })
    }

    @Test func lakePositionsPickTheSourcesTxnsPerPartition() {
        let txns: [String: Int64] = [
            "bronze-sink|kafka:b/t|0": 10, "bronze-sink|kafka:b/t|1": 7, "other|kafka:b/t|1": 9,
            "bronze-sink|kafka:b/u|0": 99, "bronze-sink|gen:1|0": 5, "garbage": 1,
        ]
        #expect(LakePositions(transactions: txns, source: "kafka:b/t", sinkID: nil).offsets == [0: 10, 1: 9])
        #expect(LakePositions(transactions: txns, source: "kafka:b/t", sinkID: "bronze-sink").offsets == [0: 10, 1: 7])
        // Per sink (per-tenant Silver instances write one table): each is a sink of its own.
        let sinks = LakePositions.perSink(transactions: txns, source: "kafka:b/t")
        #expect(sinks["bronze-sink"]?.offsets == [0: 10, 1: 7])
        #expect(sinks["other"]?.offsets == [1: 9])
        #expect(sinks.count == 2)
        let lowest = LakePositions.lowest([LakePositions(offsets: [0: 10, 1: 9]), LakePositions(offsets: [0: 4])])
        #expect(lowest.offsets == [0: 4])
    }

    @Test func dlqPositionsAreKeptPerStageAndThePipelineTakesTheLowestKnown() {
        let txns: [String: Int64] = [
            "dlq-sink|envelope-check/kafka:b/t|0": 40, "dlq-sink|envelope-check/kafka:b/t|1": 12,
            "dlq-sink|silver-validate/kafka:b/t|0": 35, "dlq-sink|envelope-check/kafka:b/u|0": 99,
            "dlq-sink|kafka:b/t|0": 1, "garbage": 3,
        ]
        let stages = LakePositions.perStage(transactions: txns, source: "kafka:b/t")
        #expect(stages["envelope-check"]?.offsets == [0: 40, 1: 12])
        #expect(stages["silver-validate"]?.offsets == [0: 35])
        #expect(stages.count == 2)
        // An active sink without a position for a partition may have lost its records in a pipe:
        // that partition starts from the beginning (-1). A sink with no position at all is not active.
        let all = [LakePositions(offsets: [0: 50, 1: 50, 2: 50]), LakePositions()] + stages.values
        #expect(LakePositions.lowestOfActive(all).offsets == [0: 35, 1: -1, 2: -1])
        let marked = [LakePositions(offsets: [0: 50, 1: 50]), LakePositions(offsets: [0: 40, 1: 45])]
        #expect(LakePositions.lowestOfActive(marked).offsets == [0: 40, 1: 45])
    }

    @Test func positionMarksRoundTripAndOnlyMarksParse() {
        let mark = PositionMark(source: "kafka:b/t", partition: 3, offset: 4096)
        let line = mark.encoded()
        #expect(String(decoding: line, as: UTF8.self) == #"{"_mark":{"source":"kafka:b/t","partition":3,"offset":4096}}"#)
        #expect(line.withUnsafeBytes { PositionMark.parse($0) } == mark)
        let stamped = mark.encoded(stage: "envelope-check")
        #expect(stamped.withUnsafeBytes { PositionMark.parse($0) }?.stage == "envelope-check")
        for other in [#"{"_mark":{"source":"","partition":1,"offset":2}}"#, #"{"_mark":{"source":"s","partition":"x","offset":2}}"#,
                      #"{"tenant_id":"acme"}"#, "[1]", "not json"] {
            #expect(Array(other.utf8).withUnsafeBytes { PositionMark.parse($0) } == nil, "\(other)")
        }
    }

    @Test func enqueuedTimeIsParsedLeniently() {
        #expect(EnqueuedTime.parseMillis("11/26/2025 3:59:58 PM") == 1_764_172_798_000)
        #expect(EnqueuedTime.parseMillis("11/26/2025 12:00:00 AM") == 1_764_115_200_000)
        #expect(EnqueuedTime.parseMillis("11/26/2025 15:59:58.25") == 1_764_172_798_250)
        #expect(EnqueuedTime.parseMillis("2025-11-26T15:59:58.123Z") == 1_764_172_798_123)
        #expect(EnqueuedTime.parseMillis("2025-11-26T15:59:58") == 1_764_172_798_000)
        #expect(EnqueuedTime.parseMillis("13/26/2025 3:59:58 PM") == nil)
        #expect(EnqueuedTime.parseMillis("yesterday") == nil)
    }

    @Test func captureFilesSortByPartitionThenTime() {
        let a = CaptureLayout.classify(relative: "ns/hub/10/2025/01/01/00/00/00.avro", root: "/c")
        let b = CaptureLayout.classify(relative: "ns/hub/2/2025/01/01/00/01/00.avro", root: "/c")
        #expect(a.partition == 10 && b.partition == 2 && a.sourceID == "capture:ns/hub")
        #expect(a.timeKey == "2025/01/01/00/00/00.avro")
        #expect(CaptureLayout.classify(relative: "x.avro", root: "/c").sourceID == "capture:/c")
    }
}

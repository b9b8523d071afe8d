import CRdKafka

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A librdkafka high-level consumer on one topic, in a consumer group.
///
/// Everything runs on the caller's thread: librdkafka's main queue is
/// forwarded to the consumer queue, so rebalance and error callbacks fire
/// inside `poll`, between two records, never while a record is half emitted.
/// That is what lets a revoke flush our output and commit the offsets of what
/// was emitted before another group member takes the partition over.
package final class KafkaConsumer {
    /// One consumed record; `value` is valid until the next `poll`.
    package struct Record {
        package var partition: Int32
        package var offset: Int64
        package var value: UnsafeRawBufferPointer
        /// The broker (or producer) timestamp, when the broker gives one.
        package var timestampMillis: Int64?
    }

    package enum Event {
        case record(Record)
        /// Nothing arrived within the timeout.
        case idle
    }

    /// Set once in `init` (callbacks need `self` before the handle exists).
    private var handle: OpaquePointer!
    package let topic: String
    package let bootstrap: String
    /// Where to start a newly assigned partition: an absolute offset, or
    /// `nil` for the group's committed offset (else `auto.offset.reset`).
    package var startOffset: ((Int32) -> Int64?)?
    /// Runs before partitions are revoked: flush output, store offsets.
    package var beforeRevoke: (() -> Void)?
    /// Diagnostics (level, event, message).
    package var log: (String, String, String) -> Void = { _, _, _ in }
    package private(set) var assignment: [Int32] = []
    /// Rebalance events seen (assign or revoke).
    package private(set) var rebalances = 0
    /// Set when librdkafka reports every broker down; cleared by a successful probe or a record.
    package private(set) var unreachableSince: Double?
    package private(set) var brokerErrors = 0
    private var lastProbe = 0.0
    private var current: UnsafeMutablePointer<rd_kafka_message_t>?
    /// Next offset to store per partition (last emitted + 1).
    private var pending: [Int32: Int64] = [:]
    /// Offsets were stored since the last commit request.
    private var storedSinceCommit = false
    /// Commits that failed (each reported on stderr).
    package private(set) var commitFailures = 0
    private var closed = false
    private var closedWithoutBrokers = false

    /// Creates the consumer and subscribes to `topic`.
    /// - Throws: `StageError(.config)` naming a property librdkafka refuses
    ///   (never quoting a secret's value).
    package init(settings: KafkaConsumerSettings, topic: String) throws(StageError) {
        self.topic = topic
        bootstrap = try settings.bootstrap()
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for property in try settings.properties() {
            if rd_kafka_conf_set(conf, property.key, property.value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = property.isSecret ? "refused" : Self.text(errstr)
                throw StageError(.config, "Kafka setting '\(property.key)': \(reason); fix --kafka-property or the connection flags")
            }
        }
        rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
            guard let opaque else { return }
            Unmanaged<KafkaConsumer>.fromOpaque(opaque).takeUnretainedValue().rebalance(rk, err, partitions)
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            guard let opaque else { return }
            Unmanaged<KafkaConsumer>.fromOpaque(opaque).takeUnretainedValue()
                .brokerError(err, reason.map { String(cString: $0) } ?? "")
        }
        // librdkafka's own log lines are plain text; route warnings and
        // errors to stderr as JSON lines (stderr carries JSON only), drop the rest.
        rd_kafka_conf_set_log_cb(conf) { _, level, facility, text in
            // FAIL lines repeat what the error callback reports as broker_error.
            guard level <= 4, let facility, strcmp(facility, "FAIL") != 0 else { return }
            var w = JSONWriter.diagnostic(level: level <= 3 ? "error" : "warning", stage: "eh-source", event: "librdkafka")
            w.key("facility"); w.string(String(cString: facility))
            w.key("msg"); w.string(text.map { String(cString: $0) } ?? "")
            w.endObject()
            writeDiagnostic(w.bytes)
        }
        // Retained by `handle` until `close()`; released in deinit.
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        rd_kafka_conf_set_opaque(conf, opaque)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            throw StageError(.config, "cannot create the Kafka consumer: \(Self.text(errstr))")
        }
        handle = rk
        rd_kafka_poll_set_consumer(rk)
        let list = rd_kafka_topic_partition_list_new(1)
        rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA)
        let err = rd_kafka_subscribe(rk, list)
        rd_kafka_topic_partition_list_destroy(list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_destroy(rk)
            handle = nil
            throw StageError(.config, "cannot subscribe to topic '\(topic)': \(String(cString: rd_kafka_err2str(err)))")
        }
    }

    deinit {
        guard let handle else { return }
        close()
        // With every broker down, a consumer close would wait for them: leave without it.
        rd_kafka_destroy_flags(handle, closedWithoutBrokers ? Int32(RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE) : 0)
    }

    /// The next record or `.idle`; a record's bytes stay valid until the next call.
    package func poll(timeoutMillis: Int32) -> Event {
        if let current {
            rd_kafka_message_destroy(current)
            self.current = nil
        }
        while true {
            guard let message = rd_kafka_consumer_poll(handle, timeoutMillis) else {
                probeIfUnreachable()
                return .idle
            }
            let m = message.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    let text = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
                    brokerError(m.err.rawValue, text, partition: m.partition)
                }
                rd_kafka_message_destroy(message)
                continue
            }
            current = message
            if unreachableSince != nil {
                unreachableSince = nil
                log("info", "broker_reachable", "records arrive again from \(bootstrap)")
            }
            var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let stamp = rd_kafka_message_timestamp(message, &type)
            return .record(Record(
                partition: m.partition, offset: m.offset,
                value: UnsafeRawBufferPointer(start: m.payload, count: m.payload == nil ? 0 : m.len),
                timestampMillis: type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || stamp < 0 ? nil : stamp))
        }
    }

    /// Notes that a record was emitted; its offset is stored by `storeOffsets()`.
    @inline(__always)
    package func emitted(partition: Int32, offset: Int64) {
        pending[partition] = offset + 1
    }

    /// Stores the offsets of everything emitted so far (call after the output
    /// was flushed); librdkafka commits stored offsets in the background.
    package func storeOffsets() {
        guard !pending.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(pending.count))!
        for (partition, offset) in pending {
            rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = offset
        }
        pending.removeAll(keepingCapacity: true)
        storedSinceCommit = true
        let err = rd_kafka_offsets_store(handle, list)
        // _STATE: a partition was revoked meanwhile; its records were emitted
        // and the new owner starts from the last commit (at-least-once).
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR__STATE {
            log("warning", "offset_store_failed", String(cString: rd_kafka_err2str(err)))
        }
        rd_kafka_topic_partition_list_destroy(list)
    }

    /// Asks for a commit of what was stored since the last one, without
    /// waiting. Called when the topic goes quiet: the background auto-commit
    /// runs only every few seconds, and a rebalance in that window hands the
    /// partitions over at the previous commit (brokers may refuse a commit
    /// once the rebalance has begun, as librdkafka's mock cluster does).
    package func commitStored() {
        guard storedSinceCommit, !assignment.isEmpty else { return }
        storedSinceCommit = false
        _ = rd_kafka_commit(handle, nil, 1)
    }

    /// Commits stored offsets synchronously and leaves the group. When every
    /// broker is unreachable, neither is possible and both would block for
    /// as long as the outage lasts; the consumer then leaves at once, saying
    /// what that costs (the group's position stays at the last commit).
    package func close() {
        guard !closed else { return }
        closed = true
        if let current {
            rd_kafka_message_destroy(current)
            self.current = nil
        }
        storeOffsets()
        if let down = unreachableSince {
            closedWithoutBrokers = true
            log("warning", "close_without_brokers",
                "every broker has been unreachable for \(Int(monotonicSeconds() - down)) s: leaving without a final commit; the next reader of these partitions starts at the last commit and repeats the records after it (at-least-once; --resume-from-lake starts from what the lake stored)")
            return
        }
        commitNow(handle, why: "on close")
        _ = rd_kafka_consumer_close(handle)
    }

    /// A synchronous commit whose failure is reported with its consequence:
    /// the group keeps an older position and the partitions' next reader
    /// repeats what came after it (at-least-once; a sink that records its
    /// positions, like bronze-sink, skips what it already stored).
    private func commitNow(_ rk: OpaquePointer?, why: String) {
        storedSinceCommit = false
        let err = rd_kafka_commit(rk, nil, 0)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR__NO_OFFSET {
            commitFailures += 1
            log("warning", "offset_commit_failed",
                "committing the offsets of topic \(topic) \(why) failed (\(String(cString: rd_kafka_err2str(err)))); the next reader of these partitions starts at the previous commit and repeats the records after it (at-least-once); bronze-sink skips those it already stored")
        }
    }

    private func rebalance(_ rk: OpaquePointer?, _ err: rd_kafka_resp_err_t,
                           _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        rebalances += 1
        if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, let partitions {
            var described: [String] = []
            var assigned: [Int32] = []
            for i in 0..<Int(partitions.pointee.cnt) {
                let element = partitions.pointee.elems + i
                assigned.append(element.pointee.partition)
                if let start = startOffset?(element.pointee.partition) {
                    element.pointee.offset = start
                    described.append("\(element.pointee.partition)@\(start)")
                } else {
                    described.append("\(element.pointee.partition)@committed")
                }
            }
            rd_kafka_assign(rk, partitions)
            assignment = assigned.sorted()
            log("info", "partitions_assigned", "topic \(topic): " + (described.isEmpty ? "none" : described.sorted().joined(separator: ",")))
        } else {
            beforeRevoke?()
            storeOffsets()
            // Commit now, so the next owner starts after what we emitted.
            commitNow(rk, why: "before giving partitions \(assignment.map(String.init).joined(separator: ",")) up")
            rd_kafka_assign(rk, nil)
            log("info", "partitions_revoked", "topic \(topic): \(assignment.map(String.init).joined(separator: ","))")
            assignment = []
        }
    }

    private func brokerError(_ code: Int32, _ reason: String, partition: Int32 = -1) {
        brokerErrors += 1
        let err = rd_kafka_resp_err_t(rawValue: code)
        if err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE, unreachableSince == nil {
            unreachableSince = monotonicSeconds()
        }
        let name = String(cString: rd_kafka_err2name(err))
        let fatal = err == RD_KAFKA_RESP_ERR__FATAL
        log(fatal ? "error" : "warning", "broker_error",
            "\(name): \(reason)\(partition >= 0 ? " (partition \(partition))" : ""); retrying with backoff")
    }

    /// While every broker is down, asks for metadata about once a second: a
    /// quiet topic sends no records, so an answer is the only sign of recovery.
    /// librdkafka itself reconnects with backoff (`reconnect.backoff.ms`, up to `reconnect.backoff.max.ms`).
    private func probeIfUnreachable() {
        guard unreachableSince != nil else { return }
        let now = monotonicSeconds()
        guard now - lastProbe >= 1 else { return }
        lastProbe = now
        var metadata: UnsafePointer<rd_kafka_metadata>?
        if rd_kafka_metadata(handle, 0, nil, &metadata, 500) == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let metadata { rd_kafka_metadata_destroy(metadata) }
            unreachableSince = nil
            log("info", "broker_reachable", "\(bootstrap) answers again")
        }
    }
}

extension KafkaConsumer {
    /// The NUL-terminated text librdkafka wrote into an error buffer.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

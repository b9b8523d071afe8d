/// The twelve fields of the universal envelope, in canonical order.
package enum EnvelopeField: Int, CaseIterable, Sendable {
    case tenantID, siteID, deviceID, deviceType, eventType, eventID
    case eventTimeUTC, ingestTimeUTC, schemaVersion, sourceSystem, payload, attributes

    package var name: String { Self.names[rawValue] }

    static let names = [
        "tenant_id", "site_id", "device_id", "device_type", "event_type", "event_id",
        "event_time_utc", "ingest_time_utc", "schema_version", "source_system", "payload", "attributes",
    ]
    private static let nameBytes: [[UInt8]] = names.map { Array($0.utf8) }

    /// Every field but `attributes` is required (absent attributes mean `{}`).
    package var isRequired: Bool { self != .attributes }

    /// The field whose name is exactly these bytes, if any.
    @inline(__always)
    package static func lookup(_ key: UnsafeRawBufferPointer) -> EnvelopeField? {
        let n = key.count
        guard n >= 7, n <= 15 else { return nil }
        for (index, candidate) in nameBytes.enumerated() where candidate.count == n && candidate[0] == key[0] {
            if candidate.withUnsafeBytes({ memcmpEqual($0, key) }) { return EnvelopeField(rawValue: index) }
        }
        return nil
    }
}

/// Byte equality of two buffers.
@inline(__always)
package func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    if a.count == 0 { return true }
    return memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

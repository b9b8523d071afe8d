/// The twelve fields of the universal envelope, in canonical order.
package enum EnvelopeField: Int, CaseIterable, Sendable {
    case tenantID, siteID, deviceID, deviceType, eventType, eventID
    case eventTimeUTC, ingestTimeUTC, schemaVersion, sourceSystem, payload, attributes

    package var name: String { Self.names[rawValue] }

    static let names = [
        "tenant_id", "site_id", "device_id", "device_type", "event_type", "event_id",
        "event_time_utc", "ingest_time_utc", "schema_version", "source_system", "payload", "attributes",
    ]

    /// Every field but `attributes` is required (absent attributes mean `{}`).
    package var isRequired: Bool { self != .attributes }

    /// A key's identity as two overlapping little-endian words (the first and
    /// last eight bytes, or four for 7-byte names): comparing these costs two
    /// loads, with no table walk and no reference counting per line.
    @inline(__always)
    private static func fingerprint(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
        if n >= 8 {
            return p.loadUnaligned(as: UInt64.self) &* 31 &+ p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        return UInt64(p.loadUnaligned(as: UInt32.self)) << 32 | UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
    }

    private static func fingerprint(_ name: StaticString) -> UInt64 {
        fingerprint(UnsafeRawPointer(name.utf8Start), name.utf8CodeUnitCount)
    }

    private static let fpTenantID = fingerprint("tenant_id")
    private static let fpSiteID = fingerprint("site_id")
    private static let fpDeviceID = fingerprint("device_id")
    private static let fpDeviceType = fingerprint("device_type")
    private static let fpEventType = fingerprint("event_type")
    private static let fpEventID = fingerprint("event_id")
    private static let fpEventTime = fingerprint("event_time_utc")
    private static let fpIngestTime = fingerprint("ingest_time_utc")
    private static let fpSchemaVersion = fingerprint("schema_version")
    private static let fpSourceSystem = fingerprint("source_system")
    private static let fpPayload = fingerprint("payload")
    private static let fpAttributes = fingerprint("attributes")

    /// The field whose name is exactly these bytes, if any. The fingerprint
    /// picks a candidate; one `memcmp` confirms it.
    @inline(__always)
    package static func lookup(_ key: UnsafeRawBufferPointer) -> EnvelopeField? {
        let n = key.count
        guard n >= 7, n <= 15, let p = key.baseAddress else { return nil }
        let fp = fingerprint(p, n)
        let candidate: EnvelopeField? = switch n {
        case 7: fp == fpSiteID ? .siteID : fp == fpPayload ? .payload : nil
        case 8: fp == fpEventID ? .eventID : nil
        case 9: fp == fpTenantID ? .tenantID : fp == fpDeviceID ? .deviceID : nil
        case 10: fp == fpEventType ? .eventType : fp == fpAttributes ? .attributes : nil
        case 11: fp == fpDeviceType ? .deviceType : nil
        case 13: fp == fpSourceSystem ? .sourceSystem : nil
        case 14: fp == fpEventTime ? .eventTimeUTC : fp == fpSchemaVersion ? .schemaVersion : nil
        case 15: fp == fpIngestTime ? .ingestTimeUTC : nil
        default: nil
        }
        guard let candidate else { return nil }
        let name = candidate.staticName
        return name.utf8CodeUnitCount == n && memcmp(p, name.utf8Start, n) == 0 ? candidate : nil
    }

    private var staticName: StaticString {
        switch self {
        case .tenantID: "tenant_id"
        case .siteID: "site_id"
        case .deviceID: "device_id"
        case .deviceType: "device_type"
        case .eventType: "event_type"
        case .eventID: "event_id"
        case .eventTimeUTC: "event_time_utc"
        case .ingestTimeUTC: "ingest_time_utc"
        case .schemaVersion: "schema_version"
        case .sourceSystem: "source_system"
        case .payload: "payload"
        case .attributes: "attributes"
        }
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

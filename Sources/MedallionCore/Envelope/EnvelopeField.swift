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

    var staticName: StaticString {
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

/// Recognises envelope keys with two word loads and one `memcmp`.
///
/// A key's fingerprint is built from its first and last eight bytes (four
/// for 7-byte names), which together cover every byte of the 7- to 15-byte
/// envelope names; the fingerprint picks a candidate and `memcmp` confirms
/// it. The constants live in the instance, so the hot path reads no lazily
/// initialised globals.
struct EnvelopeKeyTable {
    private let fingerprints: InlineArray<12, UInt64>

    init() {
        var table = InlineArray<12, UInt64>(repeating: 0)
        for field in EnvelopeField.allCases {
            let name = field.staticName
            table[field.rawValue] = Self.fingerprint(UnsafeRawPointer(name.utf8Start), name.utf8CodeUnitCount)
        }
        fingerprints = table
    }

    @inline(__always)
    static func fingerprint(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
        if n >= 8 {
            return p.loadUnaligned(as: UInt64.self) &* 31 &+ p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        return UInt64(p.loadUnaligned(as: UInt32.self)) << 32 | UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
    }

    /// The field whose name is exactly these bytes, if any.
    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer) -> EnvelopeField? {
        let n = key.count
        guard n >= 7, n <= 15, let p = key.baseAddress else { return nil }
        let key = Self.fingerprint(p, n)
        @inline(__always) func fp(_ f: EnvelopeField) -> UInt64 { fingerprints[f.rawValue] }
        let candidate: EnvelopeField? = switch n {
        case 7: key == fp(.siteID) ? .siteID : key == fp(.payload) ? .payload : nil
        case 8: key == fp(.eventID) ? .eventID : nil
        case 9: key == fp(.tenantID) ? .tenantID : key == fp(.deviceID) ? .deviceID : nil
        case 10: key == fp(.eventType) ? .eventType : key == fp(.attributes) ? .attributes : nil
        case 11: key == fp(.deviceType) ? .deviceType : nil
        case 13: key == fp(.sourceSystem) ? .sourceSystem : nil
        case 14: key == fp(.eventTimeUTC) ? .eventTimeUTC : key == fp(.schemaVersion) ? .schemaVersion : nil
        case 15: key == fp(.ingestTimeUTC) ? .ingestTimeUTC : nil
        default: nil
        }
        guard let candidate else { return nil }
        let name = candidate.staticName
        return name.utf8CodeUnitCount == n && memcmp(p, name.utf8Start, n) == 0 ? candidate : nil
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

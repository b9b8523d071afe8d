/// Which tenants and event types a stage accepts.
///
/// Until the configuration tree lands these come from flags: `--tenant T`
/// names the pipeline's own tenant (any other is `tenant_mismatch`),
/// `--tenants a,b` lists the tenants a shared stream may carry (any other is
/// `unknown_tenant`), `--event-types` lists the enabled event types (absent:
/// any event type with a safe name).
package struct EnvelopePolicy: Sendable {
    package var pipelineTenant: String?
    package var allowedTenants: [String]?
    package var allowedEventTypes: [String]?
    /// Longest id accepted, in bytes.
    package var maxIDLength = 256

    package init(pipelineTenant: String? = nil, allowedTenants: [String]? = nil, allowedEventTypes: [String]? = nil) {
        self.pipelineTenant = pipelineTenant
        self.allowedTenants = allowedTenants
        self.allowedEventTypes = allowedEventTypes
    }

    /// Whether `name` is safe as a Hive partition path segment:
    /// `[a-z0-9][a-z0-9._-]{0,63}`. A leading dot is impossible, so `.` and
    /// `..` are never accepted, and no `/` can appear.
    @inline(__always)
    package static func isSafeID(_ name: UnsafeRawBufferPointer) -> Bool {
        guard name.count >= 1, name.count <= 64 else { return false }
        // Bit b of (low, high) is set when byte b (0-63, 64-127) may appear:
        // low holds '-', '.', '0'-'9'; high holds '_', 'a'-'z'.
        let low: UInt64 = (1 << 45) | (1 << 46) | (0x3FF << 48)
        let high: UInt64 = (1 << (95 - 64)) | (0x3FF_FFFF << (97 - 64))
        for b in name {
            let allowed = b < 64 ? (low >> UInt64(b)) & 1 : b < 128 ? (high >> UInt64(b - 64)) & 1 : 0
            if allowed == 0 { return false }
        }
        // The first byte must be a letter or digit, so "." and ".." never pass.
        let first = name[0]
        return (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "z")) || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
    }

    package static func isSafeID(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isSafeID(UnsafeRawBufferPointer($0)) }
    }
}

/// The outcome of checking one line.
package enum EnvelopeVerdict: Equatable {
    /// A valid envelope: forward the line unchanged.
    case valid
    /// A position mark (`{"_mark":...}`): forward it, it is not a record.
    case mark
    case rejected(Rejection)
}

/// Checks NDJSON lines against the universal envelope without building a tree.
///
/// One pass of `JSONScanner` validates the whole line (so nothing malformed
/// reaches Bronze, even deep inside `payload`) and yields the offsets of the
/// top-level members; the twelve envelope fields are then checked on those
/// byte ranges. After `check`, `tenant`, `eventType` and `source` describe
/// what could be read from the line, for the DLQ record.
package struct EnvelopeChecker {
    package let policy: EnvelopePolicy
    private var scanner = JSONScanner()
    private var attributesScanner = JSONScanner()
    /// Member index of each envelope field in the last line, -1 when absent.
    private let fieldMember = FieldSlots()
    private let keys = EnvelopeKeyTable()
    /// Indices (into the scanner's members) of the reserved `_` keys of the last line.
    package private(set) var reservedIndices: [Int] = []
    /// Index of the `_source` member among them, if present.
    package private(set) var sourceIndex: Int?
    private var scratch: [UInt8] = []
    private let allowedTenantBytes: [[UInt8]]?
    private let allowedEventTypeBytes: [[UInt8]]?
    private let pipelineTenantBytes: [UInt8]?

    /// Offsets of the last line's fields, for DLQ records and for stages that
    /// extract values (Bronze). `nil` when absent.
    package private(set) var lastLineParsed = false

    package init(policy: EnvelopePolicy) {
        self.policy = policy
        allowedTenantBytes = policy.allowedTenants?.map { Array($0.utf8) }
        allowedEventTypeBytes = policy.allowedEventTypes?.map { Array($0.utf8) }
        pipelineTenantBytes = policy.pipelineTenant.map { Array($0.utf8) }
    }

    /// The member of the last scanned line holding `field`, if present.
    @inline(__always)
    package func member(_ field: EnvelopeField) -> JSONMember? {
        guard lastLineParsed else { return nil }
        let index = Int(fieldMember[field.rawValue])
        return index >= 0 ? scanner.members[index] : nil
    }

    /// A member of the last scanned line by index.
    package func member(at index: Int) -> JSONMember { scanner.members[index] }

    /// The raw JSON of the `_source` member of the last line, if any.
    package private(set) var sourceRange: Range<Int>?

    /// A field's string value as text, decoded if escaped (cold path: DLQ records).
    package func stringValue(_ field: EnvelopeField, in line: UnsafeRawBufferPointer) -> String? {
        guard let m = member(field), m.kind == .string else { return nil }
        return JSONString.decode(UnsafeRawBufferPointer(rebasing: line[(m.valueStart + 1)..<(m.valueEnd - 1)]))
    }

    package mutating func check(_ line: UnsafeRawBufferPointer) -> EnvelopeVerdict {
        lastLineParsed = false
        sourceRange = nil
        let kind: JSONKind
        do {
            kind = try scanner.scan(line)
        } catch {
            return .rejected(Self.syntaxRejection(error, line: line))
        }
        guard kind == .object else {
            return .rejected(Rejection(.notAnObject, "the line is a JSON \(kind.name), not an object; each line must be one envelope object"))
        }
        lastLineParsed = true
        fieldMember.reset()
        reservedIndices.removeAll(keepingCapacity: true)
        sourceIndex = nil

        // Identify keys: envelope fields, reserved `_` keys, nothing else.
        if let rejection = identifyKeys(line) {
            // The position must reach the DLQ record even when the key that fails
            // comes before `_source`: without it dlq-sink cannot tell a replayed
            // reject from a new one and stores it again on every replay.
            if sourceRange == nil { locateSource(line) }
            return .rejected(rejection)
        }
        if isMarkOnly { return .mark }
        for field in EnvelopeField.allCases where field.isRequired && fieldMember[field.rawValue] < 0 {
            return .rejected(Rejection(.missingField, field: field.name, "required envelope field '\(field.name)' is missing"))
        }
        return checkValues(line)
    }

    /// Set by `identifyKeys` when the line is a position mark (`{"_mark":...}` alone).
    private var isMarkOnly = false

    /// Finds a literal `_source` member among the top-level members.
    private mutating func locateSource(_ line: UnsafeRawBufferPointer) {
        for m in scanner.members where !m.keyEscaped && m.keyEnd - m.keyStart == 7 {
            if memcmpEqual(UnsafeRawBufferPointer(rebasing: line[m.keyStart..<m.keyEnd]), Self.sourceKey) {
                sourceRange = m.valueStart..<m.valueEnd
                return
            }
        }
    }

    /// Maps each top-level key to its envelope field or reserved slot; the
    /// first unknown, duplicate or badly escaped key is the rejection.
    private mutating func identifyKeys(_ line: UnsafeRawBufferPointer) -> Rejection? {
        isMarkOnly = false
        for (index, m) in scanner.members.enumerated() {
            let keyRange = m.keyStart..<m.keyEnd
            let key = UnsafeRawBufferPointer(rebasing: line[keyRange])
            if m.keyEscaped {
                scratch.removeAll(keepingCapacity: true)
                JSONString.decode(key, into: &scratch)
                if let rejection = identify(bytes: scratch, memberIndex: index, rawKey: keyRange, line: line) {
                    return rejection
                }
                continue
            }
            if let field = keys.lookup(key) {
                if fieldMember[field.rawValue] >= 0 {
                    return Rejection(.duplicateField, field: field.name,
                        "envelope field '\(field.name)' appears more than once; readers disagree on which value wins, so the record is rejected")
                }
                fieldMember[field.rawValue] = Int32(index)
            } else if key.count > 0, key[0] == UInt8(ascii: "_") {
                for other in reservedIndices
                where memcmpEqual(UnsafeRawBufferPointer(rebasing: line[scanner.members[other].keyStart..<scanner.members[other].keyEnd]), key) {
                    return Rejection(.duplicateField, field: String(decoding: key, as: UTF8.self),
                        "reserved key '\(String(decoding: key, as: UTF8.self))' appears more than once")
                }
                reservedIndices.append(index)
                if key.count == 7, memcmpEqual(key, Self.sourceKey) {
                    sourceRange = m.valueStart..<m.valueEnd
                    sourceIndex = index
                }
                if key.count == 5, memcmpEqual(key, Self.markKey), scanner.members.count == 1 {
                    isMarkOnly = true
                    return nil
                }
            } else {
                return Rejection(.unknownField, field: String(decoding: key, as: UTF8.self),
                    "unknown top-level key '\(Self.preview(key))'; the envelope has \(EnvelopeField.names.joined(separator: ", ")) and reserved keys starting with '_'")
            }
        }
        return nil
    }

    private static let sourceKeyText: StaticString = "_source"
    private static let markKeyText: StaticString = "_mark"
    private static var sourceKey: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: sourceKeyText.utf8Start, count: sourceKeyText.utf8CodeUnitCount) }
    private static var markKey: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: markKeyText.utf8Start, count: markKeyText.utf8CodeUnitCount) }

    /// The slow path for a key written with escapes (`"tenant\u005fid"`).
    private mutating func identify(bytes: [UInt8], memberIndex: Int, rawKey: Range<Int>, line: UnsafeRawBufferPointer) -> Rejection? {
        bytes.withUnsafeBytes { key -> Rejection? in
            if let field = keys.lookup(key) {
                if fieldMember[field.rawValue] >= 0 {
                    return Rejection(.duplicateField, field: field.name,
                        "envelope field '\(field.name)' appears more than once (once with escapes); the record is rejected")
                }
                fieldMember[field.rawValue] = Int32(memberIndex)
                return nil
            }
            let text = String(decoding: key, as: UTF8.self)
            if key.count > 0, key[0] == UInt8(ascii: "_") {
                return Rejection(.unknownField, field: text, "reserved key '\(Self.preview(key))' is written with escapes; write reserved keys literally")
            }
            return Rejection(.unknownField, field: text, "unknown top-level key '\(Self.preview(key))'")
        }
    }

    private mutating func checkValues(_ line: UnsafeRawBufferPointer) -> EnvelopeVerdict {
        // Ids and texts.
        if let r = checkText(.tenantID, line) ?? checkText(.siteID, line) ?? checkText(.deviceID, line)
            ?? checkText(.deviceType, line) ?? checkText(.eventType, line) ?? checkText(.eventID, line)
            ?? checkText(.sourceSystem, line) {
            return .rejected(r)
        }
        let tenant = stringBytes(.tenantID, line)
        if !EnvelopePolicy.isSafeID(tenant) {
            return .rejected(Rejection(.unsafeID, field: "tenant_id",
                "tenant_id \"\(Self.preview(tenant))\" is not safe as a partition name; use [a-z0-9][a-z0-9._-]{0,63}"))
        }
        if let allowed = allowedTenantBytes, !Self.contains(allowed, tenant) {
            return .rejected(Rejection(.unknownTenant, field: "tenant_id",
                "tenant '\(Self.preview(tenant))' is not served here; known tenants: \(policy.allowedTenants!.joined(separator: ", "))"))
        }
        if let own = pipelineTenantBytes, !own.withUnsafeBytes({ memcmpEqual($0, tenant) }) {
            return .rejected(Rejection(.tenantMismatch, field: "tenant_id",
                "tenant '\(Self.preview(tenant))' does not match this pipeline's tenant '\(policy.pipelineTenant!)'"))
        }
        let eventType = stringBytes(.eventType, line)
        if !EnvelopePolicy.isSafeID(eventType) {
            return .rejected(Rejection(.unsafeID, field: "event_type",
                "event_type \"\(Self.preview(eventType))\" is not safe as a partition name; use [a-z0-9][a-z0-9._-]{0,63}"))
        }
        if let allowed = allowedEventTypeBytes, !Self.contains(allowed, eventType) {
            return .rejected(Rejection(.unknownEventType, field: "event_type",
                "event type '\(Self.preview(eventType))' is not enabled; enabled: \(policy.allowedEventTypes!.joined(separator: ", "))"))
        }
        // Timestamps.
        if let r = checkTimestamp(.eventTimeUTC, line) ?? checkTimestamp(.ingestTimeUTC, line) {
            return .rejected(r)
        }
        // schema_version: MAJOR.MINOR.
        guard let sv = member(.schemaVersion), sv.kind == .string else {
            return .rejected(wrongType(.schemaVersion, expected: "a \"MAJOR.MINOR\" string", line))
        }
        let version = stringBytes(.schemaVersion, line)
        if !Self.isMajorMinor(version) {
            return .rejected(Rejection(.badSchemaVersion, field: "schema_version",
                "schema_version \"\(Self.preview(version))\" is not MAJOR.MINOR, e.g. \"1.0\""))
        }
        // payload: an object. attributes: an object of strings.
        if let p = member(.payload), p.kind != .object {
            return .rejected(wrongType(.payload, expected: "an object", line))
        }
        if let a = member(.attributes) {
            guard a.kind == .object else { return .rejected(wrongType(.attributes, expected: "an object of string values", line)) }
            let body = UnsafeRawBufferPointer(rebasing: line[a.valueStart..<a.valueEnd])
            _ = try? attributesScanner.scan(body)  // already validated as part of the line
            for am in attributesScanner.members where am.kind != .string {
                let key = String(decoding: UnsafeRawBufferPointer(rebasing: body[am.keyStart..<am.keyEnd]), as: UTF8.self)
                return .rejected(Rejection(.wrongType, field: "attributes.\(key)",
                    "attributes.\(key) is a \(am.kind.name); attribute values must be strings"))
            }
        }
        return .valid
    }

    private func checkTimestamp(_ field: EnvelopeField, _ line: UnsafeRawBufferPointer) -> Rejection? {
        guard let m = member(field), m.kind == .string else {
            return wrongType(field, expected: "an RFC 3339 UTC timestamp string", line)
        }
        let value = stringBytes(field, line)
        switch Timestamp.parseMicros(value) {
        case .success(let micros):
            guard Timestamp.supportedMicros.contains(micros) else {
                return Rejection(.badTimestamp, field: field.name,
                    "\(field.name) \"\(Self.preview(value))\" is outside the supported years \(Timestamp.supportedYears.lowerBound)–\(Timestamp.supportedYears.upperBound) (a device clock fault?)")
            }
            return nil
        case .failure(.notUTC):
            return Rejection(.timestampNotUTC, field: field.name,
                "\(field.name) \"\(Self.preview(value))\" has a non-UTC offset; send UTC ('Z'), e.g. 2026-03-01T12:00:00.000Z")
        case .failure(.outOfRange):
            return Rejection(.badTimestamp, field: field.name,
                "\(field.name) \"\(Self.preview(value))\" names a date or time that does not exist")
        case .failure(.malformed):
            return Rejection(.badTimestamp, field: field.name,
                "\(field.name) \"\(Self.preview(value))\" is not an RFC 3339 timestamp like 2026-03-01T12:00:00.000Z")
        }

    }

    private func wrongType(_ field: EnvelopeField, expected: String, _ line: UnsafeRawBufferPointer) -> Rejection {
        let kind = member(field)?.kind.name ?? "absent"
        return Rejection(.wrongType, field: field.name, "\(field.name) is a \(kind); expected \(expected)")
    }

    @inline(__always)
    private func checkText(_ field: EnvelopeField, _ line: UnsafeRawBufferPointer) -> Rejection? {
        guard let m = member(field) else { return nil }
        guard m.kind == .string else { return wrongType(field, expected: "a non-empty string", line) }
        let value = stringBytes(field, line)
        if value.isEmpty { return Rejection(.emptyField, field: field.name, "\(field.name) is the empty string") }
        if value.count > policy.maxIDLength {
            return Rejection(.fieldTooLong, field: field.name, "\(field.name) is \(value.count) bytes; the limit is \(policy.maxIDLength)")
        }
        // Ids end up in logs, file names of exports and partition values
        // downstream: a control character (only possible escaped, so only
        // an escaped value needs the scan) or a blank id is refused.
        if member(field)!.valueEscaped, value.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            return Rejection(.unsafeID, field: field.name, "\(field.name) \"\(Self.preview(value))\" contains a control character; ids must be printable")
        }
        if value[0] == 0x20 || value[0] == 0x09 || value[value.count - 1] == 0x20,
           value.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
            return Rejection(.emptyField, field: field.name, "\(field.name) is blank (only spaces)")
        }
        return nil
    }

    /// A string field's bytes. Escaped values (rare) are decoded into a
    /// scratch buffer whose view stays valid until the next call.
    @inline(__always)
    private func stringBytes(_ field: EnvelopeField, _ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let m = scanner.members[Int(fieldMember[field.rawValue])]
        let body = UnsafeRawBufferPointer(rebasing: line[(m.valueStart + 1)..<(m.valueEnd - 1)])
        guard m.valueEscaped else { return body }
        var decoded: [UInt8] = []
        JSONString.decode(body, into: &decoded)
        return decodedScratch.hold(decoded)
    }

    private let decodedScratch = ByteScratch()

    private static func contains(_ list: [[UInt8]], _ value: UnsafeRawBufferPointer) -> Bool {
        list.contains { $0.withUnsafeBytes { memcmpEqual($0, value) } }
    }

    private static func isMajorMinor(_ v: UnsafeRawBufferPointer) -> Bool {
        guard let dot = v.firstIndex(of: UInt8(ascii: ".")), dot > 0, dot < v.count - 1, dot <= 4, v.count - dot - 1 <= 4 else { return false }
        for (i, b) in v.enumerated() where i != dot && !(b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) { return false }
        return true
    }

    /// At most 64 characters of a value, for messages.
    package static func preview(_ bytes: UnsafeRawBufferPointer) -> String {
        let text = String(decoding: bytes.prefix(64), as: UTF8.self)
        return bytes.count > 64 ? text + "…" : text
    }

    /// Maps a scanner error to a reason: invalid UTF-8 anywhere in the line
    /// wins, since it also decides how the raw line is kept.
    package static func syntaxRejection(_ error: JSONSyntaxError, line: UnsafeRawBufferPointer) -> Rejection {
        if error.kind == .invalidUTF8 || !UTF8Validation.isValid(line) {
            return Rejection(.invalidUTF8, "the line is not valid UTF-8 (\(error.kind == .invalidUTF8 ? error.description : "bytes outside strings"))")
        }
        if error.kind == .tooDeep {
            return Rejection(.tooDeep, "JSON nesting is too deep: \(error.description)")
        }
        return Rejection(.invalidJSON, "not valid JSON: \(error.description)")
    }
}

/// A heap buffer whose contents stay put until the next `hold`, so a decoded
/// value can be handed out as a raw view without escaping an array's storage.
package final class ByteScratch {
    private var pointer: UnsafeMutableRawPointer
    private var capacity: Int

    package init(capacity: Int = 256) {
        self.capacity = capacity
        pointer = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit { pointer.deallocate() }

    package func hold(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        if bytes.count > capacity {
            pointer.deallocate()
            capacity = bytes.count
            pointer = .allocate(byteCount: capacity, alignment: 8)
        }
        bytes.withUnsafeBytes { if $0.count > 0 { pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return UnsafeRawBufferPointer(start: pointer, count: bytes.count)
    }
}

/// The member index of each envelope field in the current line (-1: absent),
/// in storage that is read and written in place on the hot path.
private final class FieldSlots {
    private let slots = UnsafeMutablePointer<Int32>.allocate(capacity: 12)

    init() { reset() }

    deinit { slots.deallocate() }

    @inline(__always)
    func reset() { slots.update(repeating: -1, count: 12) }

    @inline(__always)
    subscript(_ field: Int) -> Int32 {
        get { slots[field] }
        set { slots[field] = newValue }
    }
}

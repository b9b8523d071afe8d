/// The stable, machine-readable reason codes of DLQ records.
///
/// These strings are an interface: dashboards, redrive filters and alerts key
/// on them, so a code is never renamed or reused. docs/dlq.md lists every code
/// with its meaning; a test checks that list against this enum.
package enum RejectReason: String, CaseIterable, Sendable {
    /// The line is longer than `--max-line-bytes`.
    case lineTooLong = "line_too_long"
    /// The line is not well-formed UTF-8.
    case invalidUTF8 = "invalid_utf8"
    /// The line is not RFC 8259 JSON.
    case invalidJSON = "invalid_json"
    /// Arrays/objects nested deeper than the limit (512).
    case tooDeep = "too_deep"
    /// The line is JSON but not an object.
    case notAnObject = "not_an_object"
    /// A key appears twice in the envelope (a smuggling risk: readers disagree on which wins).
    case duplicateField = "duplicate_field"
    /// A required envelope field is absent.
    case missingField = "missing_field"
    /// A top-level key that is neither an envelope field nor reserved (`_`-prefixed).
    case unknownField = "unknown_field"
    /// A field has the wrong JSON type.
    case wrongType = "wrong_type"
    /// An id is the empty string.
    case emptyField = "empty_field"
    /// An id is longer than its limit.
    case fieldTooLong = "field_too_long"
    /// `tenant_id` or `event_type` is not safe as a partition path segment.
    case unsafeID = "unsafe_id"
    /// A timestamp is not RFC 3339 or names a date/time that does not exist.
    case badTimestamp = "bad_timestamp"
    /// A timestamp carries a non-zero UTC offset.
    case timestampNotUTC = "timestamp_not_utc"
    /// `schema_version` is not `MAJOR.MINOR`.
    case badSchemaVersion = "bad_schema_version"
    /// The tenant is not one this stage serves.
    case unknownTenant = "unknown_tenant"
    /// The record's tenant differs from the pipeline's tenant.
    case tenantMismatch = "tenant_mismatch"
    /// The event type is not enabled.
    case unknownEventType = "unknown_event_type"
    /// dlq-sink received a line that is not a DLQ record; it stores it wrapped.
    case notADLQRecord = "not_a_dlq_record"
    /// eh-source could not decode a block of an Event Hubs Capture Avro file.
    case corruptCaptureBlock = "corrupt_capture_block"
    /// silver-validate: no schema file for the record's event type and version.
    case unknownSchemaVersion = "unknown_schema_version"
    /// silver-validate: the payload breaks its JSON Schema.
    case schemaViolation = "schema_violation"
    /// silver-validate: a data-quality rule with action `drop` failed.
    case ruleFailed = "rule_failed"
    /// silver-validate: a `unique` rule with action `drop` saw the id again within its window.
    case duplicateEvent = "duplicate_event"

    /// One sentence for docs and `--list-reasons`.
    package var summary: String {
        switch self {
        case .lineTooLong: "the line is longer than --max-line-bytes; the record keeps its length and a 4 KiB prefix"
        case .invalidUTF8: "the line is not well-formed UTF-8 (RFC 3629); the raw bytes are kept as base64"
        case .invalidJSON: "the line is not RFC 8259 JSON (syntax error, truncated line, trailing data)"
        case .tooDeep: "arrays and objects are nested deeper than 512 levels"
        case .notAnObject: "the line is a JSON value other than an object"
        case .duplicateField: "a top-level key appears more than once"
        case .missingField: "a required envelope field is absent"
        case .unknownField: "a top-level key is neither an envelope field nor reserved (starting with '_')"
        case .wrongType: "a field has the wrong JSON type (ids must be strings, payload an object, attributes an object of strings)"
        case .emptyField: "an id or text field is the empty string or only spaces"
        case .fieldTooLong: "an id is longer than 256 bytes"
        case .unsafeID: "tenant_id or event_type does not match [a-z0-9][a-z0-9._-]{0,63}, or an id contains a control character"
        case .badTimestamp: "a timestamp is not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.f]Z), names a date or time that does not exist, or is outside the years 1900–2999"
        case .timestampNotUTC: "a timestamp has a UTC offset other than Z/+00:00"
        case .badSchemaVersion: "schema_version is not MAJOR.MINOR (digits)"
        case .unknownTenant: "tenant_id is not one of the tenants this stage serves (--tenants)"
        case .tenantMismatch: "tenant_id differs from the pipeline's tenant (--tenant)"
        case .unknownEventType: "event_type is not one of the enabled event types (--event-types)"
        case .notADLQRecord: "dlq-sink received a line that is not a DLQ record; it is stored wrapped in one, bytes kept"
        case .corruptCaptureBlock: "eh-source could not decode a block of an Event Hubs Capture Avro file; the record keeps the block's first 4 KiB"
        case .unknownSchemaVersion: "silver-validate has no schema for this event type and schema_version (schemas/event_types/<e>/v<M>.<m>.json)"
        case .schemaViolation: "silver-validate: the payload breaks its JSON Schema; the message names the JSON pointer and the keyword"
        case .ruleFailed: "silver-validate: a data-quality rule with action drop failed; `rule` names it"
        case .duplicateEvent: "silver-validate: a unique rule with action drop saw this id again within its window; `rule` names it"
        }
    }
}

/// Why one record was rejected: the code, the envelope field concerned (if
/// any) and a sentence for a human that quotes the offending value.
package struct Rejection: Sendable, Equatable {
    package var reason: RejectReason
    package var field: String?
    package var message: String
    /// The data-quality rule that dropped the record (silver-validate).
    package var rule: String?

    package init(_ reason: RejectReason, field: String? = nil, _ message: String, rule: String? = nil) {
        self.reason = reason
        self.field = field
        self.message = message
        self.rule = rule
    }
}

/// One way an instance breaks its schema, located on both sides so that a
/// DLQ record or a test failure can be acted on without re-running anything.
package struct SchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// RFC 6901 pointer to the offending value inside the validated document,
    /// prefixed with the base the caller passed (`/payload/temperature`).
    /// For `required` it is the object that lacks the member.
    package var instancePointer: String
    /// RFC 6901 pointer to the keyword inside the schema document
    /// (`/properties/temperature/maximum`). Where a `$ref` was followed this
    /// is the keyword's own place (`/$defs/celsius/maximum`), the one a
    /// reader can find in the file, not the path through the reference.
    package var schemaPointer: String
    /// The keyword whose rule failed (`maximum`, `required`, `false` for a
    /// `false` schema).
    package var rule: String
    /// What is wrong, quoting the value and the limit (`21.5 is above maximum 20`).
    package var message: String

    package init(instancePointer: String, schemaPointer: String, rule: String, message: String) {
        self.instancePointer = instancePointer
        self.schemaPointer = schemaPointer
        self.rule = rule
        self.message = message
    }

    /// `/payload/temperature: 21.5 is above maximum 20 (maximum at /properties/temperature/maximum)`.
    package var description: String {
        "\(instancePointer.isEmpty ? "(root)" : instancePointer): \(message) (\(rule) at \(schemaPointer.isEmpty ? "#" : "#" + schemaPointer))"
    }
}

/// Why a schema document cannot be compiled. Compilation collects every
/// problem it finds (like `medallion check` does), so a schema author sees
/// all of them at once.
package struct SchemaCompileError: Error, Sendable, Hashable, CustomStringConvertible {
    package var problems: [SchemaProblem]

    package init(_ problems: [SchemaProblem]) { self.problems = problems }

    package var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// One problem in a schema document.
package struct SchemaProblem: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable, Hashable {
        /// A keyword this validator does not implement. Refused, never
        /// ignored: ignoring it would let data through that the author
        /// meant to reject.
        case unsupportedKeyword = "unsupported keyword"
        /// A `$ref` that is not a local JSON pointer (`#`, `#/$defs/...`).
        case unsupportedReference = "unsupported reference"
        /// A `format` other than date-time, date and uuid.
        case unsupportedFormat = "unsupported format"
        /// A keyword whose value has the wrong shape (`"minimum": "5"`).
        case invalidValue = "invalid value"
        /// A local `$ref` whose target does not exist or is not a schema.
        case unresolvedReference = "unresolved reference"
        /// `$ref`s that lead back to themselves without descending into the
        /// instance, so validation would never end.
        case referenceCycle = "reference cycle"

        /// What to do about it, for `medallion check`.
        package var fix: String {
            switch self {
            case .unsupportedKeyword: "remove it, or express the rule with supported keywords (docs/json-schema.md)"
            case .unsupportedReference: "refer to a subschema of this file, e.g. \"$ref\": \"#/$defs/name\""
            case .unsupportedFormat: "use date-time, date or uuid, or a \"pattern\""
            case .invalidValue: "give the keyword a value of the documented shape (docs/json-schema.md)"
            case .unresolvedReference: "point \"$ref\" at an existing subschema, e.g. \"#/$defs/name\""
            case .referenceCycle: "make the reference descend into the value (properties, items) or remove it"
            }
        }
    }

    package var kind: Kind
    /// RFC 6901 pointer to the keyword in the schema document (`/properties/x/contains`).
    package var pointer: String
    /// The keyword at fault (`contains`, `$ref`, `format`).
    package var keyword: String
    package var message: String

    package init(kind: Kind, pointer: String, keyword: String, message: String) {
        self.kind = kind
        self.pointer = pointer
        self.keyword = keyword
        self.message = message
    }

    /// The message, led by the keyword's name when the keyword itself is
    /// the problem (`unsupported keyword "contains": ...`).
    package var summary: String {
        kind == .unsupportedKeyword ? "unsupported keyword \"\(keyword)\": \(message)" : message
    }

    /// `#/properties/tags/contains: unsupported keyword "contains": ...`.
    package var description: String { "#\(pointer): \(summary)" }
}

/// RFC 6901 JSON pointers and the URI-fragment form `$ref` uses.
package enum JSONPointer {
    /// `~` → `~0`, `/` → `~1`.
    package static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    package static func join(_ tokens: [String]) -> String {
        tokens.reduce(into: "") { $0 += "/" + escape($1) }
    }

    /// The reference tokens of a pointer (`/a~1b/0` → `["a/b", "0"]`); nil
    /// when it does not start with `/` (and is not empty) or has a bad `~` escape.
    package static func tokens(_ pointer: String) -> [String]? {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { return nil }
        var tokens: [String] = []
        for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var tilde = false
            for c in raw.unicodeScalars {
                if tilde {
                    switch c {
                    case "0": token.unicodeScalars.append("~")
                    case "1": token.unicodeScalars.append("/")
                    default: return nil
                    }
                    tilde = false
                } else if c == "~" {
                    tilde = true
                } else {
                    token.unicodeScalars.append(c)
                }
            }
            if tilde { return nil }
            tokens.append(token)
        }
        return tokens
    }

    /// Decodes `%XX` escapes of a URI fragment (as UTF-8); nil when an
    /// escape is malformed or the bytes are not UTF-8.
    package static func percentDecode(_ s: String) -> String? {
        guard s.utf8.contains(UInt8(ascii: "%")) else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hexValue(it.removeFirst()), let lo = hexValue(it.removeFirst()) else { return nil }
                bytes.append(hi << 4 | lo)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}

/// A Delta primitive column type that the Lake writer can store.
///
/// Only flat primitives: medallion keeps nested JSON as text (`payload`), so
/// structs, arrays and maps are deliberately out of scope. `timestamp` is
/// microseconds since the epoch, UTC-adjusted (never `timestamp_ntz`, which would
/// need protocol (3,7) and a table feature).
package enum DeltaType: String, Sendable, Equatable, CaseIterable {
    case string
    /// 32-bit signed integer (Delta's name; Parquet INT32).
    case integer
    /// 64-bit signed integer (Parquet INT64).
    case long
    case double
    case boolean
    /// Days since 1970-01-01, Parquet INT32 + DATE.
    case date
    /// Microseconds since the epoch, UTC; Parquet INT64 + TIMESTAMP(MICROS, adjustedToUTC).
    case timestamp
    /// Raw bytes that need not be UTF-8 (for example an undecodable DLQ line).
    case binary

    /// The name used in `schemaString`.
    package var deltaName: String { rawValue }
}

/// One top-level column of a Delta table.
package struct DeltaField: Sendable, Equatable {
    package var name: String
    package var type: DeltaType
    /// Delta readers do not enforce `nullable:false`; only claim it when it is guaranteed.
    package var nullable: Bool

    package init(_ name: String, _ type: DeltaType, nullable: Bool = true) {
        self.name = name
        self.type = type
        self.nullable = nullable
    }
}

/// The schema of a Delta table: an ordered list of flat fields.
package struct DeltaSchema: Sendable, Equatable {
    package var fields: [DeltaField]

    package init(_ fields: [DeltaField]) {
        self.fields = fields
    }

    package func field(named name: String) -> DeltaField? {
        fields.first { $0.name == name }
    }

    /// The Spark StructType JSON that goes (as a string) into `metaData.schemaString`.
    ///
    /// Every field carries all four keys; readers reject a field without
    /// `"metadata":{}` (spec §1.3).
    package var schemaString: String {
        var json = JSONText()
        json.beginObject()
        json.key("type")
        json.string("struct")
        json.key("fields")
        json.beginArray()
        for field in fields {
            json.beginObject()
            json.key("name")
            json.string(field.name)
            json.key("type")
            json.string(field.type.deltaName)
            json.key("nullable")
            json.bool(field.nullable)
            json.key("metadata")
            json.raw("{}")
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.text
    }

    /// Checks names are non-empty and unique ignoring case, as Delta requires.
    package func validate(tablePath: String) throws(LakeError) {
        var seen: Set<String> = []
        for field in fields {
            if field.name.isEmpty {
                throw LakeError(.invalidArgument, "A column name is empty; give every column a name.", path: tablePath)
            }
            if !seen.insert(field.name.lowercased()).inserted {
                throw LakeError(
                    .invalidArgument,
                    "Column '\(field.name)' appears twice (Delta compares names ignoring case); rename one of them.",
                    path: tablePath)
            }
        }
    }

    /// Whether files written with `self` (the writer's schema) are readable under `table`:
    /// every writer column exists in the table with the same type, and the table does not
    /// promise non-null where the writer may write nulls. Returns a sentence on mismatch.
    package func incompatibility(writingInto table: DeltaSchema) -> String? {
        for field in fields {
            guard let existing = table.field(named: field.name) else {
                return "column '\(field.name)' is not in the table schema"
            }
            if existing.type != field.type {
                return "column '\(field.name)' is \(existing.type.deltaName) in the table but \(field.type.deltaName) in the writer"
            }
            if !existing.nullable && field.nullable {
                return "column '\(field.name)' is non-nullable in the table but nullable in the writer"
            }
        }
        return nil
    }

    /// Whether `newer` only adds nullable columns to `self` (the evolution we allow).
    package func evolutionProblem(to newer: DeltaSchema) -> String? {
        for field in fields {
            guard let kept = newer.field(named: field.name) else {
                return "the new schema drops column '\(field.name)'"
            }
            if kept.type != field.type {
                return "the new schema changes column '\(field.name)' from \(field.type.deltaName) to \(kept.type.deltaName)"
            }
        }
        for field in newer.fields where self.field(named: field.name) == nil && !field.nullable {
            return "the new column '\(field.name)' must be nullable, because existing files have no values for it"
        }
        return nil
    }
}

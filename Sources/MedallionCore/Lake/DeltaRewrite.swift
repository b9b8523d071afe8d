extension DeltaTableWriter {
    /// Rewrites every live file that lacks a column of the current schema, with
    /// that column all null, in one commit (`remove` + `add`, `dataChange: false`).
    ///
    /// Why: after a schema evolution (``commit(_:transactions:info:newSchema:removes:)``
    /// with added columns) Delta readers fill the new columns with nulls from the
    /// log, but readers that open the Parquet files without the log (pyarrow
    /// datasets, `polars.scan_parquet`, DuckDB `read_parquet`) see files with
    /// different column sets and fail or drop columns. Evolution is rare (a new
    /// minor schema version); paying one rewrite then keeps every file readable by
    /// every reader. Memory: one row group at a time.
    ///
    /// - Returns: the number of files rewritten (0 when every file is complete).
    package mutating func rewriteFilesMissingColumns(info: DeltaCommitInfo) throws(LakeError) -> Int {
        // Two writers may start this at once (per-tenant instances): the loser's commit
        // fails with .commitConflict, and it looks again at what is left to rewrite.
        for attempt in 1...5 {
            do {
                return try rewriteOnce(info: info)
            } catch where error.code == .commitConflict && attempt < 5 {
                try refresh()
            }
        }
        return 0
    }

    private mutating func rewriteOnce(info: DeltaCommitInfo) throws(LakeError) -> Int {
        let reader = try DeltaTableReader.open(tablePath: tablePath)
        let wanted = dataFields
        var stale: [DeltaDataFile] = []
        for file in try reader.files() {
            // Our stats name every column of the file in `nullCount`: the log answers without opening it.
            if let stats = file.add.stats, case .object(let members)? = try? JSONValue.parse(stats),
               case .object(let counts)? = members.first(where: { $0.key == "nullCount" })?.value {
                let present = Set(counts.map(\.key))
                if wanted.contains(where: { !present.contains($0.name) }) { stale.append(file) }
                continue
            }
            let parquet = try ParquetFileReader(path: file.absolutePath, options: ParquetReadOptions())
            if wanted.contains(where: { parquet.column(named: $0.name) == nil }) { stale.append(file) }
        }
        guard !stale.isEmpty else { return 0 }
        var removes: [DeltaAddAction] = []
        var adds: [DeltaAddAction] = []
        let scan = DeltaTableScan(files: stale, fields: wanted, partitionColumns: Set(partitionColumns), options: ParquetReadOptions())
        var out: DeltaDataFileWriter?
        var outPath = ""
        while let batch = try scan.next() {
            if batch.file.add.path != outPath {
                if let out { adds.append(try out.finish()) }
                outPath = batch.file.add.path
                removes.append(batch.file.add)
                out = try openDataFile(partitionValues: partitionColumns.map { batch.file.partitionValues[$0] })
            }
            var columns = makeColumnBuffers()
            for (j, field) in wanted.enumerated() {
                for row in 0..<batch.rowCount {
                    try Self.append(batch.value(j, row), to: &columns[j], field: field, path: batch.file.absolutePath)
                }
            }
            try out!.write(columns)
        }
        if let out { adds.append(try out.finish()) }
        for i in adds.indices { adds[i].dataChange = false }
        _ = try commit(adds, info: info, removes: removes)
        return removes.count
    }

    private static func append(_ value: ParquetValue, to column: inout ColumnBuffer, field: DeltaField, path: String) throws(LakeError) {
        switch (value, field.type) {
        case (.null, _):
            guard column.nullable else {
                throw LakeError(.schemaMismatch, "Column '\(field.name)' is non-nullable but has a null; the file cannot be rewritten.", path: path)
            }
            column.appendNull()
        case (.string(let s), .string): column.append(string: s)
        case (.binary(let b), .binary): b.withUnsafeBytes { column.append(string: $0) }
        case (.int64(let v), .long): column.append(int64: v)
        case (.int64(let v), .timestamp): column.append(timestampMicros: v)
        case (.int32(let v), .integer): column.append(int32: v)
        case (.int32(let v), .date): column.append(dateDays: v)
        case (.double(let v), .double): column.append(double: v)
        case (.bool(let v), .boolean): column.append(bool: v)
        default:
            throw LakeError(.schemaMismatch, "Column '\(field.name)' holds \(value) but is \(field.type.deltaName) in the schema.", path: path)
        }
    }
}

import Glibc

/// The partition values of one data file, as the Delta log states them (never read
/// from the file or its directory name). A missing key or `""` is null, as in Delta.
package struct DeltaPartitionValues: Sendable, Equatable {
    private var values: [String: String]

    package init(_ values: [PartitionValue]) {
        var map: [String: String] = [:]
        for pv in values {
            if let v = PartitionPath.normalize(pv.value) { map[pv.column] = v }
        }
        self.values = map
    }

    /// The value of `column`, or nil when it is null (or not a partition column).
    package subscript(column: String) -> String? { values[column] }
}

/// One live data file of a snapshot, with its path resolved safely inside the table.
package struct DeltaDataFile: Sendable {
    /// The add action as in the log (`add.path` still URI-encoded).
    package let add: DeltaAddAction
    /// `add.path` percent-decoded once: the path relative to the table directory.
    package let relativePath: String
    /// `tablePath + "/" + relativePath`.
    package let absolutePath: String
    package let partitionValues: DeltaPartitionValues
    package var numRecords: Int64? { add.numRecords }
}

/// Reads a Delta table written by medallion (or any writer using the same subset):
/// replays the log with ``DeltaSnapshot``, prunes files on their partition values,
/// then reads the remaining Parquet files one row group at a time.
///
/// ```
/// let table = try DeltaTableReader.open(tablePath: lake + "/dlq/events")
/// let scan = try table.scan(columns: ["tenant_id", "reason", "raw", "time"]) { $0["tenant_id"] == "acme" }
/// while let batch = try scan.next() {
///     let reason = batch.columnIndex("reason")!, raw = batch.columnIndex("raw")!
///     for row in 0..<batch.rowCount {
///         guard batch.string(reason, row) == "bad_timestamp" else { continue }
///         emit(batch.bytes(raw, row))
///     }
/// }
/// ```
package struct DeltaTableReader: Sendable {
    package let snapshot: DeltaSnapshot
    /// The latest schema in the log (schema evolution: older files may lack columns).
    package let schema: DeltaSchema
    package let partitionColumns: [String]

    package var tablePath: String { snapshot.tablePath }
    package var version: Int64 { snapshot.version }

    /// Loads the latest snapshot of the table at `tablePath`.
    ///
    /// - Throws: `.invalidArgument` if there is no table there, `.unsupported` for
    ///   reader features we do not implement, and whatever the log replay throws.
    package static func open(tablePath: String) throws(LakeError) -> DeltaTableReader {
        try DeltaTableReader(snapshot: DeltaSnapshot.load(tablePath: tablePath, trackFiles: true))
    }

    /// Wraps an already loaded snapshot (it must track files).
    package init(snapshot: DeltaSnapshot) throws(LakeError) {
        guard snapshot.exists, let metadata = snapshot.metadata else {
            throw LakeError(.invalidArgument, "There is no Delta table here (no _delta_log commits).", path: snapshot.tablePath)
        }
        guard snapshot.tracksFiles else {
            throw LakeError(.invalidArgument, "The snapshot was loaded without file tracking; load it with trackFiles: true.", path: snapshot.tablePath)
        }
        if let p = snapshot.protocolVersions, p.minReaderVersion > 1 {
            throw LakeError(
                .unsupported,
                "The table needs reader protocol \(p.minReaderVersion) (column mapping, deletion vectors or other reader features); this reader implements version 1 only and would return wrong rows.",
                path: snapshot.tablePath)
        }
        self.snapshot = snapshot
        self.schema = metadata.schema
        self.partitionColumns = metadata.partitionColumns
    }

    /// Live files whose partition values satisfy `include`, sorted by path. Only these
    /// files' paths are resolved; nothing is opened.
    package func files(where include: (DeltaPartitionValues) -> Bool = { _ in true }) throws(LakeError) -> [DeltaDataFile] {
        let realTable = try Self.realPath(tablePath, what: "table directory")
        var result: [DeltaDataFile] = []
        for add in snapshot.liveFiles {
            let values = DeltaPartitionValues(add.partitionValues)
            guard include(values) else { continue }
            let relative = try Self.resolve(logPath: add.path, tablePath: tablePath)
            let absolute = tablePath + "/" + relative
            let real = try Self.realPath(absolute, what: "data file")
            guard real.hasPrefix(realTable == "/" ? "/" : realTable + "/") else {
                throw LakeError(
                    .corruptLog,
                    "The add path '\(add.path)' resolves (through a symbolic link) to \(real), outside the table directory; refusing to read it.",
                    path: tablePath)
            }
            result.append(DeltaDataFile(add: add, relativePath: relative, absolutePath: absolute, partitionValues: values))
        }
        return result
    }

    /// Percent-decodes an `add.path` once and checks it stays inside the table:
    /// relative, no `.`/`..`/empty segments, no NUL, no URI scheme.
    package static func resolve(logPath: String, tablePath: String) throws(LakeError) -> String {
        func refuse(_ why: String) -> LakeError {
            LakeError(.corruptLog, "The add path '\(logPath)' \(why); refusing to read it.", path: tablePath)
        }
        guard let decoded = PartitionPath.percentDecode(logPath) else {
            throw refuse("has a malformed %-escape or is not UTF-8 once decoded")
        }
        if decoded.isEmpty { throw refuse("is empty") }
        if decoded.utf8.contains(0) { throw refuse("contains a NUL byte") }
        if decoded.hasPrefix("/") {
            throw LakeError(
                .unsupported,
                "The add path '\(logPath)' is absolute (shallow clones / external files); this reader only reads files inside the table directory.",
                path: tablePath)
        }
        if let colon = decoded.firstIndex(of: ":"), let slash = decoded.firstIndex(of: "/"), colon < slash,
            decoded[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." })
        {
            throw LakeError(.unsupported, "The add path '\(logPath)' is an absolute URI; this reader only reads files inside the table directory.", path: tablePath)
        }
        for segment in decoded.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty || segment == "." || segment == ".." {
                throw refuse("has an empty, '.' or '..' segment and could leave the table directory")
            }
        }
        return decoded
    }

    static func realPath(_ path: String, what: String) throws(LakeError) -> String {
        guard let resolved = realpath(path, nil) else {
            let code = errno
            throw LakeError(
                .io, code == ENOENT ? "The \(what) listed by the Delta log does not exist." : "Could not resolve the \(what).",
                path: path, cause: errnoText(code))
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Starts a scan of the live files whose partition values satisfy `include`.
    ///
    /// - Parameters:
    ///   - columns: column names to return, in this order (data and/or partition
    ///     columns); nil means every schema column.
    ///   - include: partition pruning, evaluated on the log's partition values before
    ///     any file is opened.
    /// - Throws: `.invalidArgument` for a column that is not in the schema.
    package func scan(
        columns: [String]? = nil, options: ParquetReadOptions = .init(),
        where include: (DeltaPartitionValues) -> Bool = { _ in true }
    ) throws(LakeError) -> DeltaTableScan {
        var fields: [DeltaField] = []
        for name in columns ?? schema.fields.map(\.name) {
            guard let field = schema.field(named: name) else {
                throw LakeError(
                    .invalidArgument,
                    "The table has no column '\(name)'; its columns are \(schema.fields.map(\.name).joined(separator: ", ")).",
                    path: tablePath)
            }
            fields.append(field)
        }
        return DeltaTableScan(
            files: try files(where: include), fields: fields, partitionColumns: Set(partitionColumns), options: options)
    }

    /// Calls `body` for every row of the selected files, one row group in memory at a time.
    package func forEachRow(
        columns: [String]? = nil, where include: (DeltaPartitionValues) -> Bool = { _ in true },
        _ body: (DeltaRow) throws(LakeError) -> Void
    ) throws(LakeError) {
        let scan = try scan(columns: columns, where: include)
        while let batch = try scan.next() {
            for row in 0..<batch.rowCount { try body(DeltaRow(batch: batch, row: row)) }
        }
    }
}

/// A pull iterator over the row groups of a table scan: `while let batch = try scan.next()`.
///
/// Holds at most one open file and one decoded row group. Not thread-safe.
package final class DeltaTableScan {
    /// The files to read (already pruned), in path order.
    package let files: [DeltaDataFile]
    /// The selected columns, in the requested order.
    package let fields: [DeltaField]
    private let partitionColumns: Set<String>
    private let options: ParquetReadOptions
    private var fileIndex = 0
    private var rowGroupIndex = 0
    private var current: ParquetFileReader?
    /// Per selected field: its column index in the current file, nil if absent.
    private var fileColumns: [Int?] = []

    init(files: [DeltaDataFile], fields: [DeltaField], partitionColumns: Set<String>, options: ParquetReadOptions) {
        self.files = files
        self.fields = fields
        self.partitionColumns = partitionColumns
        self.options = options
    }

    /// The next non-empty row group, or nil when every file has been read.
    ///
    /// An error concerns the current file only: the caller may log it and call
    /// `next()` again, which continues with the next file (the failed file's
    /// remaining row groups are skipped). ``failedFile`` names the file.
    package func next() throws(LakeError) -> DeltaBatch? {
        do {
            return try nextBatch()
        } catch {
            failedFile = fileIndex < files.count ? files[fileIndex] : nil
            current = nil
            fileIndex += 1
            rowGroupIndex = 0
            throw error
        }
    }

    /// The file whose read failed in the last `next()` that threw.
    package private(set) var failedFile: DeltaDataFile?

    private func nextBatch() throws(LakeError) -> DeltaBatch? {
        while fileIndex < files.count {
            let file = files[fileIndex]
            if current == nil { try openCurrent(file) }
            guard let reader = current, rowGroupIndex < reader.rowGroupCount else {
                current = nil
                fileIndex += 1
                rowGroupIndex = 0
                continue
            }
            let g = rowGroupIndex
            rowGroupIndex += 1
            let numRows = Int(reader.metadata.rowCount(ofRowGroup: g))
            if numRows == 0 { continue }
            var slots: [DeltaBatch.Slot] = []
            slots.reserveCapacity(fields.count)
            for (k, field) in fields.enumerated() {
                if partitionColumns.contains(field.name) {
                    slots.append(.partition(file.partitionValues[field.name]))
                } else if let c = fileColumns[k] {
                    slots.append(.data(try reader.readColumn(rowGroup: g, column: c)))
                } else {
                    slots.append(.missing)
                }
            }
            return DeltaBatch(file: file, rowGroup: g, rowCount: numRows, fields: fields, slots: slots)
        }
        return nil
    }

    /// Opens a file and maps the selected fields to its columns, checking types.
    private func openCurrent(_ file: DeltaDataFile) throws(LakeError) {
        var opts = options
        opts.expectedFileSize = file.add.size
        let reader = try ParquetFileReader(path: file.absolutePath, options: opts)
        var mapping: [Int?] = []
        for field in fields {
            guard !partitionColumns.contains(field.name), let d = reader.column(named: field.name) else {
                mapping.append(nil)  // partition column, or a column added after this file was written
                continue
            }
            let expected = ParquetPhysicalType(field.type)
            guard d.physicalType == expected else {
                throw LakeError(
                    .schemaMismatch,
                    "Column '\(field.name)' is \(field.type.deltaName) in the table schema but \(d.physicalType) in the data file; the file does not belong to this table.",
                    path: file.absolutePath)
            }
            mapping.append(d.index)
        }
        fileColumns = mapping
        current = reader
    }
}

/// One row group of one data file: the selected columns, plus partition values.
///
/// Accessors take a column index (``columnIndex(_:)``, i.e. the position in the
/// scan's `columns`) and a row in `0..<rowCount`. Typed accessors return nil for
/// null and require the column's Delta type (`string`: string/binary/partition
/// columns; `int64`: long/timestamp; `int32`: integer/date; ...); calling one on
/// another type is a programming error and traps. Partition columns are always
/// text: the canonical string from the log (`"2024-05-17"` for a date).
package struct DeltaBatch: Sendable {
    enum Slot: Sendable {
        case data(ParquetColumn)
        case partition(String?)
        /// The file predates the column (schema evolution): all null.
        case missing
    }

    package let file: DeltaDataFile
    package let rowGroup: Int
    package let rowCount: Int
    /// The selected columns, in scan order.
    package let fields: [DeltaField]
    let slots: [Slot]

    package func columnIndex(_ name: String) -> Int? { fields.firstIndex { $0.name == name } }

    package func isNull(_ column: Int, _ row: Int) -> Bool {
        switch slots[column] {
        case .data(let c): c.isNull(row)
        case .partition(let v): v == nil
        case .missing: true
        }
    }

    /// Text of a string/binary column (invalid UTF-8 repaired) or of a partition column.
    package func string(_ column: Int, _ row: Int) -> String? {
        switch slots[column] {
        case .data(let c): c.string(row)
        case .partition(let v): v
        case .missing: nil
        }
    }

    /// Exact bytes of a string/binary column, or the UTF-8 of a partition value.
    package func bytes(_ column: Int, _ row: Int) -> [UInt8]? {
        switch slots[column] {
        case .data(let c): c.bytes(row).map(Array.init)
        case .partition(let v): v.map { Array($0.utf8) }
        case .missing: nil
        }
    }

    /// Calls `body` with the bytes of a string/binary data column without copying them.
    package func withBytes<R>(_ column: Int, _ row: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        switch slots[column] {
        case .data(let c): return c.withBytes(row, body)
        case .partition(let v):
            guard var v else { return nil }
            return v.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .missing: return nil
        }
    }

    /// long and timestamp (microseconds) columns.
    package func int64(_ column: Int, _ row: Int) -> Int64? { dataColumn(column)?.int64(row) }
    /// integer and date (days since epoch) columns.
    package func int32(_ column: Int, _ row: Int) -> Int32? { dataColumn(column)?.int32(row) }
    package func double(_ column: Int, _ row: Int) -> Double? { dataColumn(column)?.double(row) }
    package func bool(_ column: Int, _ row: Int) -> Bool? { dataColumn(column)?.bool(row) }

    /// The value boxed; partition columns give `.string` (or `.null`), `binary` columns `.binary`.
    package func value(_ column: Int, _ row: Int) -> ParquetValue {
        switch slots[column] {
        case .data(let c):
            if fields[column].type == .binary, let b = c.bytes(row) { return .binary(Array(b)) }
            if fields[column].type == .string, let s = c.string(row) { return .string(s) }
            return c.value(row)
        case .partition(let v): return v.map(ParquetValue.string) ?? .null
        case .missing: return .null
        }
    }

    private func dataColumn(_ column: Int) -> ParquetColumn? {
        switch slots[column] {
        case .data(let c): return c
        case .partition:
            preconditionFailure("typed accessor on partition column '\(fields[column].name)'; partition values are text, use string(_:_:)")
        case .missing: return nil
        }
    }
}

/// One row of a ``DeltaBatch``, with by-name accessors (a linear name lookup per
/// call; resolve ``DeltaBatch/columnIndex(_:)`` once for hot loops).
package struct DeltaRow: Sendable {
    package let batch: DeltaBatch
    package let row: Int

    package var file: DeltaDataFile { batch.file }
    package var partitionValues: DeltaPartitionValues { batch.file.partitionValues }

    private func index(_ name: String) -> Int {
        guard let i = batch.columnIndex(name) else {
            preconditionFailure("column '\(name)' was not selected in this scan")
        }
        return i
    }

    package subscript(_ name: String) -> ParquetValue { batch.value(index(name), row) }
    package func isNull(_ name: String) -> Bool { batch.isNull(index(name), row) }
    package func string(_ name: String) -> String? { batch.string(index(name), row) }
    package func bytes(_ name: String) -> [UInt8]? { batch.bytes(index(name), row) }
    package func int64(_ name: String) -> Int64? { batch.int64(index(name), row) }
    package func int32(_ name: String) -> Int32? { batch.int32(index(name), row) }
    package func double(_ name: String) -> Double? { batch.double(index(name), row) }
    package func bool(_ name: String) -> Bool? { batch.bool(index(name), row) }

    /// Every selected column of the row (convenient for tests and cold paths).
    package var values: [String: ParquetValue] {
        var out: [String: ParquetValue] = [:]
        for (i, field) in batch.fields.enumerated() { out[field.name] = batch.value(i, row) }
        return out
    }
}

/// `silver-validate`: Bronze records in, typed Silver rows out.
///
/// One `silver/<event_type>` Delta table per event type, partitioned like
/// Bronze. A batch is committed table by table (each commit carrying its
/// `txn` positions, as bronze-sink does), then its per-rule counts go to
/// `audit/quality_rule_counts`, then the committed rows are forwarded as
/// NDJSON. A `fail` rule stops before any of that: nothing of the batch is
/// committed or forwarded, and the stage exits 65 naming the rule and the
/// record.
///
/// Exactly-once: a record whose position its table already stores is not
/// stored again but is still evaluated and forwarded, so a downstream stage
/// that lost it in a crash gets it back; the `unique` state, rebuilt from
/// the table, recognises such a record as itself.
package final class SilverValidate: EnvelopeSink {
    package static let stage = "silver-validate"

    /// One event type's table, batch and state.
    private final class Table {
        var evaluator: SilverEvaluator
        let rows: PartitionedBatch
        /// For each data field of the table, the program column that fills it (-1: none, null).
        let fill: [Int]
        let types: [DeltaType]
        var dedup: [Int: DedupState] = [:]
        var totals: RuleCounts
        /// `"name":` per program column, empty for the `_source_*` columns (forwarded as `_source`).
        let forwardKeys: [[UInt8]]
        /// Columns holding JSON text, forwarded as JSON (attributes, _rescued_data).
        let rawJSON: [Bool]

        init(evaluator: SilverEvaluator, rows: PartitionedBatch, fill: [Int], types: [DeltaType]) {
            self.evaluator = evaluator
            self.rows = rows
            self.fill = fill
            self.types = types
            totals = evaluator.counts
            forwardKeys = evaluator.program.columns.map { c in
                switch c.origin {
                case .sourceID, .sourcePartition, .sourceOffset: return []
                default:
                    var key: [UInt8] = []
                    var name = c.name
                    name.withUTF8 { JSONWriter.appendQuoted(UnsafeRawBufferPointer($0), to: &key) }
                    key.append(UInt8(ascii: ":"))
                    return key
                }
            }
            rawJSON = evaluator.program.columns.map { c in
                switch c.origin {
                case .attributes, .rescued: true
                default: false
                }
            }
        }
    }

    let options: SinkOptions
    var checker: EnvelopeChecker
    private var sourceScanner = JSONScanner()
    private var tables: [String: Table] = [:]
    private var order: [String] = []
    private var audit: AuditWriter?
    private var quality: QualityCountsWriter?
    var forward: [UInt8] = []
    var batch = BatchCounters()
    private var replayed = 0
    private var batchesCommitted = 0

    package init(options: SinkOptions, policy: EnvelopePolicy, programs: [SilverProgram]) throws(StageError) {
        self.options = options
        checker = EnvelopeChecker(policy: policy)
        for program in programs {
            tables[program.eventType] = try Self.openTable(program, options: options)
            order.append(program.eventType)
        }
        if !options.dryRun {
            if options.writeAudit { audit = try AuditWriter(lakeRoot: options.lakeRoot) }
            quality = try QualityCountsWriter(lakeRoot: options.lakeRoot)
        }
    }

    package static func tableSubpath(_ eventType: String) -> String { "silver/\(eventType)" }

    /// Opens (or creates) the table, evolving its schema when the program
    /// has columns the table lacks (a new minor version: nullable columns,
    /// one metaData commit); columns the table has and the program does not
    /// produce are written as null. Then rebuilds the `unique` state.
    private static func openTable(_ program: SilverProgram, options: SinkOptions) throws(StageError) -> Table {
        let wanted = program.deltaSchema
        var writer: DeltaTableWriter?
        if !options.dryRun {
            let path = options.lakeRoot + "/" + tableSubpath(program.eventType)
            do {
                let existing = try DeltaSnapshot.load(tablePath: path, trackFiles: false).schema
                var schema = existing ?? wanted
                var added: [String] = []
                for field in wanted.fields where schema.field(named: field.name) == nil {
                    schema.fields.append(DeltaField(field.name, field.type, nullable: true))
                    added.append(field.name)
                }
                if let existing {
                    for field in wanted.fields {
                        if let have = existing.field(named: field.name), have.type != field.type {
                            throw StageError(.config, "\(path): column '\(field.name)' is \(have.type.deltaName) in the table but the schemas of \(program.eventType) now make it \(field.type.deltaName); a Silver column keeps its type — use a new field name")
                        }
                    }
                }
                var w = try options.openTable(tableSubpath(program.eventType), schema: existing ?? schema,
                                              partitionColumns: SilverProgram.partitionColumns, engine: stage)!
                if existing != nil, !added.isEmpty {
                    _ = try w.commit([], info: DeltaCommitInfo(operation: "ADD COLUMNS",
                                                               operationParameters: ["columns": added.joined(separator: ",")]),
                                     newSchema: schema)
                }
                // Also after a crash between the two commits: files without every column are
                // rewritten, so readers that skip the log see one schema too.
                if existing != nil {
                    _ = try w.rewriteFilesMissingColumns(info: DeltaCommitInfo(
                        operation: "OPTIMIZE", operationParameters: ["reason": "fill columns added by schema evolution"]))
                }
                writer = w
            } catch let error as StageError {
                throw error
            } catch let error as LakeError {
                throw StageError(error)
            } catch {
                throw StageError(.software, "\(error)")
            }
        }
        let dataFields = writer?.dataFields
            ?? wanted.fields.filter { !SilverProgram.partitionColumns.contains($0.name) }
        let fill = dataFields.map { f in program.columns.firstIndex { $0.name == f.name } ?? -1 }
        // A dry run opens no writer but reads an existing table's positions and
        // dedup state, so it predicts what a real run would do.
        let path = options.lakeRoot + "/" + tableSubpath(program.eventType)
        var existing: DeltaSnapshot?
        if options.dryRun, let snapshot = try? DeltaSnapshot.load(tablePath: path, trackFiles: false), snapshot.exists {
            existing = snapshot
        }
        let table = Table(evaluator: SilverEvaluator(program: program),
                          rows: PartitionedBatch(table: writer, dataFields: dataFields, appIDPrefix: options.sinkID,
                                                 knownTransactions: existing?.transactions ?? [:]),
                          fill: fill, types: dataFields.map(\.type))
        for (i, rule) in program.rules.enumerated() {
            if case .unique(let window) = rule.kind { table.dedup[i] = DedupState(windowMicros: window) }
        }
        if !table.dedup.isEmpty, (writer?.version ?? -1) >= 0 || existing != nil {
            try loadDedup(table, program: program, tablePath: path, tenant: options.tenant)
        }
        return table
    }

    /// Reads back, from this tenant's rows committed within each window, the
    /// keys a `unique` rule must remember, keyed exactly as live records are
    /// (`SilverValue.text` of the column, or the attribute's value). Files
    /// whose newest event time is older than the window are skipped by their
    /// statistics; the state then keeps the window behind the newest row, as a
    /// running process does.
    private static func loadDedup(_ table: Table, program: SilverProgram, tablePath: String, tenant: String?) throws(StageError) {
        do throws(LakeError) {
            let reader = try DeltaTableReader.open(tablePath: tablePath)
            let mine: (DeltaPartitionValues) -> Bool = { values in tenant == nil || values["tenant_id"] == tenant }
            var newest = Int64.min
            var fileNewest: [String: Int64] = [:]
            let files = try reader.files(where: mine)
            for file in files {
                if let stats = file.add.stats, let json = try? JSONValue.parse(stats),
                   case .string(let text)? = json["maxValues"]?["event_time_utc"], let micros = SilverTime.parse(text) {
                    fileNewest[file.add.path] = micros + 999  // stats keep milliseconds
                    newest = max(newest, micros + 999)
                }
            }
            for (i, var state) in table.dedup {
                let rule = program.rules[i]
                let column = rule.column.map { program.columns[$0] }
                let name = column?.name ?? "attributes"
                let type = column?.type ?? .string
                let horizon = newest == Int64.min ? Int64.min : newest - state.windowMicros - 1_000
                // Only files whose newest event time reaches the window are opened.
                let recent = files.filter { (fileNewest[$0.add.path] ?? Int64.max) >= horizon }
                let names = ["tenant_id", name, "event_time_utc", "_source_id", "_source_partition", "_source_offset"]
                let fields = names.compactMap { reader.schema.field(named: $0) }
                guard fields.count == names.count else { continue }
                let scan = DeltaTableScan(files: recent, fields: fields, partitionColumns: Set(reader.partitionColumns),
                                          options: ParquetReadOptions())
                while let b = try scan.next() {
                    for r in 0..<b.rowCount {
                        guard let micros = b.int64(2, r), micros >= horizon else { continue }
                        let text: String?
                        if let key = rule.attributeKey {
                            if let json = b.string(1, r), let attributes = try? JSONValue.parse(json), case .string(let v)? = attributes[key] {
                                text = v
                            } else {
                                text = nil
                            }
                        } else {
                            text = Self.keyText(b.value(1, r), type)
                        }
                        guard let text else { continue }
                        state.load((b.string(0, r) ?? "") + "|" + text, micros: micros, sourceID: b.string(3, r),
                                   partition: b.int64(4, r), offset: b.int64(5, r))
                    }
                }
                state.evict()
                table.dedup[i] = state
            }
        } catch {
            throw StageError(error)
        }
    }

    /// A stored value as the text a live record's `SilverValue` gives (`SilverValue.text`).
    private static func keyText(_ value: ParquetValue, _ type: DeltaType) -> String? {
        switch (value, type) {
        case (.null, _), (.binary, _): return nil
        case (.string(let v), _): return v
        case (.int64(let v), .timestamp): return SilverValue.micros(v).text
        case (.int64(let v), _): return SilverValue.long(v).text
        case (.int32(let v), .date): return SilverValue.days(v).text
        case (.int32(let v), _): return SilverValue.int(v).text
        case (.double(let v), _): return SilverValue.double(v).text
        case (.bool(let v), _): return SilverValue.bool(v).text
        }
    }

    // MARK: running

    /// Every table advances to a mark, also those that saw no record of its partition.
    func record(_ mark: PositionMark) {
        for eventType in order { tables[eventType]!.rows.advance(to: mark) }
    }

    package func run(_ runtime: StageRuntime) throws(StageError) {
        try runLoop(runtime)
        for eventType in order {
            let table = tables[eventType]!
            for (i, rule) in table.evaluator.program.rules.enumerated() {
                runtime.log(level: "info", event: "rule_counts",
                            "\(eventType) rule '\(rule.rule.name)' (\(rule.rule.kind), \(rule.rule.action.rawValue)): passed \(table.totals.passed[i]), failed \(table.totals.failed[i])")
            }
        }
        runtime.log(level: "info", event: "silver_done",
                    "committed \(batchesCommitted) batch(es); \(replayed) record(s) already stored by an earlier run were forwarded, not stored again")
    }

    private func sourceBytes(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        checker.sourceRange.map { UnsafeRawBufferPointer(rebasing: line[$0]) }
    }

    func accept(_ line: Line, _ runtime: StageRuntime) throws(StageError) {
        let bytes = line.bytes
        let envelope = SilverEvaluator.Envelope.read(checker, bytes, scanner: &sourceScanner)
        let eventType = envelope.strings[.eventType] ?? ""
        let tenant = envelope.strings[.tenantID]
        guard let table = tables[eventType] else {
            batch.dlqRows += 1
            try runtime.reject(line, Rejection(.unknownEventType, field: "event_type",
                "event type '\(eventType)' has no Silver program here (enabled: \(order.joined(separator: ", "))); enable it in the tenant's event_types"),
                source: sourceBytes(bytes), tenantID: tenant, eventType: eventType)
            return
        }
        let strings = envelope.strings
        let position = envelope.position
        let sourceID = envelope.sourceID
        var slot = -1
        var replay = false
        if let position {
            slot = table.rows.position(key: UnsafeRawBufferPointer(rebasing: bytes[position.sourceRange]), partition: position.partition)
            replay = table.rows.isCommitted(slot, offset: position.offset)
        }
        // A replay was counted when it was first stored (copied only then: a copy per record costs).
        let countsBefore = replay ? table.evaluator.counts : nil
        let outcome = table.evaluator.evaluate(envelope) { index, key, request in
            let k = (tenant ?? "") + "|" + key
            switch request {
            case .check:
                return table.dedup[index]!.isDuplicate(k, micros: envelope.eventMicros, sourceID: sourceID,
                                                       partition: position?.partition, offset: position?.offset)
            case .remember:
                table.dedup[index]!.remember(k, micros: envelope.eventMicros, sourceID: sourceID,
                                             partition: position?.partition, offset: position?.offset)
                return false
            }
        }
        if let countsBefore {
            table.evaluator.counts = countsBefore
            replayed += 1
        }
        switch outcome {
        case .failed(let rule, let message):
            let at = position.map { " at \(sourceID ?? "?") partition \($0.partition) offset \($0.offset)" } ?? ""
            let preview = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, 512)]), as: UTF8.self)
            throw StageError(.data,
                "\(message); record \(strings[.eventID] ?? "?") (line \(line.number)\(at)): \(preview)\(bytes.count > 512 ? "…" : "") — the batch of \(batch.inputRows) record(s) was not committed; fix the data or rule '\(rule)' in rules/event_types/\(eventType).yaml, then restart")
        case .dropped(let rejection):
            batch.dlqRows += 1
            try runtime.reject(line, rejection, source: sourceBytes(bytes), tenantID: tenant, eventType: eventType)
        case .kept:
            if !replay { store(table, envelope: envelope, slot: slot) }
            writeForward(table, line: bytes)
        }
    }

    /// Appends the evaluator's row to its partition's buffers.
    private func store(_ table: Table, envelope: SilverEvaluator.Envelope, slot: Int) {
        let row = table.evaluator.row
        let days = Int32(envelope.ingestMicros.floorDividedBy(86_400_000_000).quotient)
        let tenant = Array((envelope.strings[.tenantID] ?? "").utf8)
        let eventType = Array((envelope.strings[.eventType] ?? "").utf8)
        let p = tenant.withUnsafeBytes { t in eventType.withUnsafeBytes { e in table.rows.slot(tenant: t, eventType: e, days: days) } }
        var bytes = 48
        table.rows.withColumns(p) { cols in
            for (j, source) in table.fill.enumerated() {
                let value = source >= 0 ? row[source] : .null
                bytes += Self.append(value, table.types[j], &cols[j])
            }
        }
        if slot >= 0, let position = envelope.position { table.rows.markPending(slot, offset: position.offset) }
        table.rows.rows += 1
        batch.storedRows += 1
        batch.bytes += bytes
    }

    private static func append(_ value: SilverValue, _ type: DeltaType, _ column: inout ColumnBuffer) -> Int {
        switch (type, value) {
        case (_, .null):
            if column.nullable { column.appendNull() } else { column.append(string: "") }
            return 1
        case (.string, .string(let s)):
            column.append(string: s)
            return s.utf8.count
        case (.string, _):
            let text = value.text
            column.append(string: text)
            return text.utf8.count
        case (.long, .long(let v)): column.append(int64: v)
        case (.long, .int(let v)): column.append(int64: Int64(v))
        case (.double, _): column.append(double: value.number ?? .nan)
        case (.boolean, .bool(let b)): column.append(bool: b)
        case (.timestamp, .micros(let m)): column.append(timestampMicros: m)
        case (.date, .days(let d)): column.append(dateDays: d)
        case (.integer, .int(let v)): column.append(int32: v)
        default:
            if column.nullable { column.appendNull() }
        }
        return 8
    }

    /// The forwarded row: the Silver columns as one JSON object, with
    /// `attributes` and `_rescued_data` as objects and the record's `_source`
    /// kept verbatim, so downstream sinks deduplicate the same way. Written
    /// straight into bytes with each column's `"name":` prepared once.
    private func writeForward(_ table: Table, line: UnsafeRawBufferPointer) {
        let row = table.evaluator.row
        forward.append(UInt8(ascii: "{"))
        var first = true
        for (i, key) in table.forwardKeys.enumerated() where !key.isEmpty {
            if !first { forward.append(UInt8(ascii: ",")) }
            first = false
            forward.append(contentsOf: key)
            if table.rawJSON[i], case .string(var text) = row[i] {
                text.withUTF8 { forward.append(contentsOf: $0) }
            } else {
                row[i].append(to: &forward)
            }
        }
        if let source = sourceBytes(line) {
            forward.append(contentsOf: #","_source":"#.utf8)
            forward.append(contentsOf: source)
        }
        forward.append(contentsOf: "}\n".utf8)
    }

    // MARK: committing

    func commit(_ runtime: StageRuntime) throws(StageError) {
        defer { batch.start() }
        guard batch.inputRows > 0 || !forward.isEmpty else { return }
        var versions: [String: Int64] = [:]
        var outcome: PartitionedBatch.Outcome = .nothingToCommit
        for eventType in order {
            let table = tables[eventType]!
            let result = try options.auditingFailure(&audit, stage: Self.stage, batch: batch,
                                                     batchID: "\(options.sinkID)@\(SilverTime.iso(batch.startedMicros))") { () throws(StageError) in
                try table.rows.commit(operation: "STREAMING UPDATE", parameters: ["outputMode": "Append", "sink": options.sinkID])
            }
            switch result {
            case .committed(let v):
                versions[eventType] = v
                outcome = result
            case .alreadyCommitted(let v, let message):
                versions[eventType] = v
                runtime.log(level: "warn", event: "already_committed", message)
            case .dryRun: outcome = result
            case .nothingToCommit: break
            }
        }
        var qualityRows: [QualityCountsWriter.Row] = []
        for eventType in order {
            let table = tables[eventType]!
            let counts = table.evaluator.counts
            guard !counts.isEmpty else { continue }
            for (i, rule) in table.evaluator.program.rules.enumerated() {
                table.totals.passed[i] += counts.passed[i]
                table.totals.failed[i] += counts.failed[i]
                qualityRows.append(.init(eventType: eventType, rule: rule.rule, passed: counts.passed[i], failed: counts.failed[i],
                                         tableVersion: versions[eventType]))
            }
            table.evaluator.counts = RuleCounts(rules: table.evaluator.program.rules.count)
        }
        // One id per batch for both audit tables, so they join: the sink and the batch's start
        // (a table version would not do: each Silver table counts its own).
        let id = "\(options.sinkID)@\(SilverTime.iso(batch.startedMicros))"
        if quality != nil {
            try quality!.append(qualityRows, pipeline: options.pipeline, tenant: options.tenant, batchID: id,
                                startedMicros: batch.startedMicros)
        }
        if case .dryRun = outcome {
            runtime.log(level: "info", event: "dry_run_batch", "would commit \(batch.storedRows) row(s)")
        }
        batchesCommitted += 1
        let lines = batch.inputRows - batch.dlqRows + batch.marks  // marks are lines; the summary takes them out
        try forward.withRawBytes { (bytes) throws(StageError) in
            if !bytes.isEmpty { try runtime.output.writeRaw(bytes, lines: lines, marks: batch.marks) }
        }
        try runtime.flush()
        forward.removeAll(keepingCapacity: forward.capacity <= 4 * options.batchBytes)
        try options.recordAudit(&audit, stage: Self.stage, batch: batch, outcome: outcome, batchID: id)
    }
}

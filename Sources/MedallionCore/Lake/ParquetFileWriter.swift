import Glibc

/// Tuning knobs for Parquet files.
package struct ParquetWriteOptions: Sendable {
    /// zstd level for page bodies. Level 1 is the default: on bronze-like data it
    /// was as small as level 3 within ~1 % and faster (see the Lake README/report).
    package var compressionLevel: Int32 = 1
    /// Rows handed to ``ParquetFileWriter/write(_:)`` are cut into row groups of about
    /// this many uncompressed bytes.
    package var rowGroupTargetBytes: Int = 128 << 20
    /// A column chunk is cut into data pages of about this many uncompressed bytes,
    /// which bounds the scratch memory of encoding and compression.
    package var pageTargetBytes: Int = 1 << 20
    /// A string column gets a dictionary only while its dictionary page stays below
    /// this size; past it the chunk falls back to PLAIN.
    package var dictionaryLimitBytes: Int = 1 << 20
    package var dictionaryEnabled: Bool = true
    package var createdBy: String = "medallion-lake version 0.1"

    package init() {}
}

/// What a finished Parquet file looks like: exact size and per-column statistics.
package struct ParquetFileSummary: Sendable {
    /// Final path of the file.
    package var path: String
    /// Exact byte length on disk (Delta `add.size` must be exact).
    package var sizeBytes: Int64
    package var numRows: Int64
    package var rowGroupCount: Int
    /// One entry per written field, in field order.
    package var columnStatistics: [ColumnStatistics]
}

/// Streams row groups into one Parquet file and publishes it atomically.
///
/// Bytes go to a hidden temp file (`.<name>.tmp`, which readers and Delta ignore)
/// next to the final path; ``finish()`` writes the footer, fsyncs and `link`s it to
/// the final name, so the final name only ever holds a complete file. If the
/// writer is dropped without `finish()`, the temp file is deleted.
///
/// Memory: the caller owns the `ColumnBuffer`s; the writer only keeps per-page
/// scratch (about two pages), one dictionary and a `UInt32` index per value of
/// the current chunk, plus footer metadata.
package struct ParquetFileWriter: ~Copyable {
    package let fields: [DeltaField]
    package let path: String
    private let options: ParquetWriteOptions
    private var output: FileOutput
    private let compressor: ZstdCompressor
    private var rowGroups: [RowGroupMeta]
    private var statistics: [ColumnStatistics]
    private var rowCount: Int64

    // Scratch reused by every page of the file.
    private var body: [UInt8]
    private var compressed: [UInt8]
    private var header: ThriftCompactWriter
    private var indices: [UInt32]
    private var dictionary: ByteDictionary

    /// Creates the temp file next to `path`. `path`'s directory must exist.
    package init(path: String, fields: [DeltaField], options: ParquetWriteOptions = .init()) throws(LakeError) {
        guard !fields.isEmpty else {
            throw LakeError(.invalidArgument, "A Parquet file needs at least one column.", path: path)
        }
        // Everything that can throw happens before `self` is initialized: a ~Copyable
        // value cannot be left half-initialized.
        let compressor = try ZstdCompressor(level: options.compressionLevel)
        var output = try FileOutput(creatingExclusively: ParquetFileWriter.tempPath(for: path))
        try output.write(ParquetFormat.magic)
        self.fields = fields
        self.path = path
        self.options = options
        self.statistics = fields.map { _ in ColumnStatistics() }
        self.compressor = compressor
        self.output = output
        self.rowGroups = []
        self.rowCount = 0
        self.body = []
        self.compressed = []
        self.header = ThriftCompactWriter()
        self.indices = []
        self.dictionary = ByteDictionary()
        body.reserveCapacity(options.pageTargetBytes + options.pageTargetBytes / 4)
    }

    static func tempPath(for path: String) -> String {
        let dir = FileIO.parentDirectory(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return dir + "/." + name + ".tmp"
    }

    /// Writes the rows in `columns` (one buffer per field, same order, same row count)
    /// as one or more row groups of about `rowGroupTargetBytes` each.
    ///
    /// Call it when the buffers reach the row-group target (or at the end), then
    /// empty them with `removeAll(keepingCapacity:)`; calling it per small batch
    /// would make tiny row groups.
    package mutating func write(_ columns: [ColumnBuffer]) throws(LakeError) {
        try validate(columns)
        let rows = columns[0].count
        guard rows > 0 else { return }
        let totalBytes = columns.reduce(0) { $0 + $1.byteSize }
        let groups = max(1, (totalBytes + options.rowGroupTargetBytes - 1) / max(1, options.rowGroupTargetBytes))
        let rowsPerGroup = (rows + groups - 1) / groups
        var valueCursor = [Int](repeating: 0, count: columns.count)
        var start = 0
        while start < rows {
            let end = min(rows, start + rowsPerGroup)
            let groupOffset = output.offset
            var chunks: [ColumnChunkMeta] = []
            chunks.reserveCapacity(columns.count)
            for (c, column) in columns.enumerated() {
                let values = valueCursor[c]..<(valueCursor[c] + column.valueCount(inRows: start..<end))
                valueCursor[c] = values.upperBound
                let chunk = try writeChunk(column, field: fields[c], rows: start..<end, values: values)
                statistics[c].merge(chunk.statistics)
                chunks.append(chunk)
            }
            rowGroups.append(RowGroupMeta(
                columns: chunks, numRows: Int64(end - start), fileOffset: groupOffset,
                ordinal: Int16(truncatingIfNeeded: rowGroups.count)))
            rowCount += Int64(end - start)
            start = end
        }
    }

    /// Writes the footer, makes the file durable and publishes it under ``path``.
    package consuming func finish() throws(LakeError) -> ParquetFileSummary {
        let footer = ParquetFormat.fileMetaData(fields: fields, rowGroups: rowGroups, createdBy: options.createdBy)
        try output.write(footer)
        let length = UInt32(footer.count)
        try output.write([
            UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8),
            UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 24),
        ])
        try output.write(ParquetFormat.magic)
        let size = output.offset
        try output.close()
        let temp = output.path
        // link() never replaces an existing file, unlike rename().
        if link(temp, path) != 0 {
            let cause = FileIO.errnoText()
            unlink(temp)
            throw LakeError(.io, "Could not publish the Parquet file under its final name.", path: path, cause: cause)
        }
        unlink(temp)
        try FileIO.syncDirectory(FileIO.parentDirectory(of: path))
        return ParquetFileSummary(
            path: path, sizeBytes: size, numRows: rowCount, rowGroupCount: rowGroups.count,
            columnStatistics: statistics)
    }

    private func validate(_ columns: [ColumnBuffer]) throws(LakeError) {
        guard columns.count == fields.count else {
            throw LakeError(
                .invalidArgument,
                "Got \(columns.count) column buffers for \(fields.count) columns (\(fields.map(\.name).joined(separator: ", "))); pass one buffer per data column in schema order.",
                path: path)
        }
        for (column, field) in zip(columns, fields) {
            if column.type != field.type || (column.nullable && !field.nullable) {
                throw LakeError(
                    .invalidArgument,
                    "Buffer for column '\(field.name)' is \(column.type.deltaName)\(column.nullable ? " nullable" : "") but the column is \(field.type.deltaName)\(field.nullable ? " nullable" : " non-nullable").",
                    path: path)
            }
            if column.count != columns[0].count {
                throw LakeError(
                    .invalidArgument,
                    "Column '\(field.name)' has \(column.count) rows but '\(fields[0].name)' has \(columns[0].count); every column needs one entry per row.",
                    path: path)
            }
        }
    }

    // MARK: column chunks

    private mutating func writeChunk(
        _ column: ColumnBuffer, field: DeltaField, rows: Range<Int>, values: Range<Int>
    ) throws(LakeError) -> ColumnChunkMeta {
        let useDictionary = (field.type == .string || field.type == .binary) && options.dictionaryEnabled
            && !values.isEmpty && buildDictionary(column, values: values)
        var meta = ColumnChunkMeta(
            type: ParquetFormat.physicalType(field.type), name: field.name,
            encodings: useDictionary ? [.plain, .rle, .rleDictionary] : (field.nullable ? [.rle, .plain] : [.plain]),
            numValues: Int64(rows.count), totalUncompressed: 0, totalCompressed: 0, dataPageOffset: 0,
            dictionaryPageOffset: nil, statistics: ColumnStatistics())

        var bitWidth = 0
        if useDictionary {
            meta.statistics = dictionaryStatistics(column, nullCount: rows.count - values.count)
            meta.dictionaryPageOffset = output.offset
            buildDictionaryPageBody(column)
            let entryCount = dictionary.count
            let sizes = try emitPage { w, uncompressed, compressedSize in
                ParquetFormat.writeDictionaryPageHeader(
                    uncompressed: uncompressed, compressed: compressedSize, entries: entryCount, into: &w)
            }
            meta.totalUncompressed += sizes.uncompressed
            meta.totalCompressed += sizes.compressed
            bitWidth = RLEHybridEncoder.bitWidth(forMaxValue: UInt64(max(0, dictionary.count - 1)))
        } else {
            meta.statistics = ColumnStatistics.compute(column, rows: rows, values: values)
        }

        meta.dataPageOffset = output.offset
        var row = rows.lowerBound
        var value = values.lowerBound
        while row < rows.upperBound {
            let (pageRowEnd, pageValueEnd) = pageEnd(
                column, fromRow: row, value: value, rowLimit: rows.upperBound, dictionaryBitWidth: bitWidth)
            body.removeAll(keepingCapacity: true)
            if field.nullable {
                column.definitionLevels.withUnsafeBufferPointer { levels in
                    RLEHybridEncoder.appendLevelsWithLengthPrefix(
                        UnsafeBufferPointer(rebasing: levels[row..<pageRowEnd]), bitWidth: 1, into: &body)
                }
            }
            if useDictionary {
                body.append(UInt8(bitWidth))
                let chunkIndices = indices  // shares storage; avoids overlapping access to self
                chunkIndices.withUnsafeBufferPointer { all in
                    let slice = (value - values.lowerBound)..<(pageValueEnd - values.lowerBound)
                    RLEHybridEncoder.encode(UnsafeBufferPointer(rebasing: all[slice]), bitWidth: bitWidth, into: &body)
                }
            } else {
                appendPlain(column, values: value..<pageValueEnd)
            }
            let pageRows = pageRowEnd - row
            let encoding: ParquetFormat.Encoding = useDictionary ? .rleDictionary : .plain
            let sizes = try emitPage { w, uncompressed, compressedSize in
                ParquetFormat.writeDataPageHeader(
                    uncompressed: uncompressed, compressed: compressedSize, numValues: pageRows,
                    encoding: encoding, into: &w)
            }
            meta.totalUncompressed += sizes.uncompressed
            meta.totalCompressed += sizes.compressed
            row = pageRowEnd
            value = pageValueEnd
        }
        return meta
    }

    /// Compresses `body`, writes header + compressed body, returns sizes including the header.
    private mutating func emitPage(
        _ writeHeader: (inout ThriftCompactWriter, Int, Int) -> Void
    ) throws(LakeError) -> (uncompressed: Int64, compressed: Int64) {
        var scratch = compressed
        compressed = []
        defer { compressed = scratch }
        let compressedSize = try withRawBytes(body) { (raw) throws(LakeError) -> Int in
            try compressor.compress(raw, into: &scratch, file: path)
        }
        header.reset()
        writeHeader(&header, body.count, compressedSize)
        try output.write(header.bytes)
        try withRawBytes(scratch) { (raw) throws(LakeError) in
            try output.write(UnsafeRawBufferPointer(rebasing: raw[0..<compressedSize]))
        }
        return (Int64(header.bytes.count + body.count), Int64(header.bytes.count + compressedSize))
    }

    /// Picks the end of the page that starts at `row`: about `pageTargetBytes` of values.
    private func pageEnd(
        _ column: ColumnBuffer, fromRow row: Int, value: Int, rowLimit: Int, dictionaryBitWidth: Int
    ) -> (row: Int, value: Int) {
        let target = options.pageTargetBytes * 8  // in bits
        let fixedBits: Int
        switch column.type {
        case .long, .timestamp, .double: fixedBits = 64
        case .integer, .date: fixedBits = 32
        case .boolean: fixedBits = 1
        case .string, .binary: fixedBits = dictionaryBitWidth  // 0 means PLAIN strings
        }
        var r = row, v = value, bits = 0
        if fixedBits > 0 && !column.nullable {
            let n = min(rowLimit - row, max(1, target / fixedBits))
            return (row + n, value + n)
        }
        column.definitionLevels.withUnsafeBufferPointer { levels in
            column.stringEnds.withUnsafeBufferPointer { ends in
                while r < rowLimit && bits < target {
                    if !column.nullable || levels[r] != 0 {
                        if fixedBits > 0 {
                            bits += fixedBits
                        } else {
                            let start = v == 0 ? 0 : Int(ends[v - 1])
                            bits += (4 + Int(ends[v]) - start) * 8
                        }
                        v += 1
                    }
                    r += 1
                }
            }
        }
        return (r, v)
    }

    /// Appends PLAIN-encoded values (the present ones only) to `body`.
    private mutating func appendPlain(_ column: ColumnBuffer, values: Range<Int>) {
        guard !values.isEmpty else { return }
        switch column.type {
        case .long, .timestamp:
            column.int64Values.withUnsafeBytes { raw in
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(values.lowerBound * 8)..<(values.upperBound * 8)]))
            }
        case .integer, .date:
            column.int32Values.withUnsafeBytes { raw in
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(values.lowerBound * 4)..<(values.upperBound * 4)]))
            }
        case .double:
            column.doubleValues.withUnsafeBytes { raw in
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(values.lowerBound * 8)..<(values.upperBound * 8)]))
            }
        case .boolean:
            column.boolValues.withUnsafeBufferPointer { bools in
                ParquetFileWriter.packBooleans(UnsafeBufferPointer(rebasing: bools[values]), into: &body)
            }
        case .string, .binary:
            column.stringBytes.withUnsafeBufferPointer { bytes in
                column.stringEnds.withUnsafeBufferPointer { ends in
                    let firstByte = values.lowerBound == 0 ? 0 : Int(ends[values.lowerBound - 1])
                    let lastByte = Int(ends[values.upperBound - 1])
                    appendLengthPrefixed(
                        bytes, count: values.count, totalBytes: lastByte - firstByte
                    ) { k in
                        let i = values.lowerBound + k
                        return (i == 0 ? 0 : Int(ends[i - 1]))..<Int(ends[i])
                    }
                }
            }
        }
    }

    /// PLAIN booleans: bit-packed, least significant bit first, no header.
    static func packBooleans(_ bools: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var byte: UInt8 = 0
        var bit: UInt8 = 0
        for value in bools {
            byte |= value << bit
            bit += 1
            if bit == 8 { out.append(byte); byte = 0; bit = 0 }
        }
        if bit > 0 { out.append(byte) }
    }

    /// Appends `count` byte strings as PLAIN BYTE_ARRAY (4-byte LE length + bytes) in one resize.
    @inline(__always)
    private mutating func appendLengthPrefixed(
        _ bytes: UnsafeBufferPointer<UInt8>, count: Int, totalBytes: Int, range: (Int) -> Range<Int>
    ) {
        let start = body.count
        body.append(contentsOf: repeatElement(0, count: totalBytes + 4 * count))
        body.withUnsafeMutableBytes { out in
            var at = start
            for k in 0..<count {
                let r = range(k)
                out.storeBytes(of: UInt32(r.count).littleEndian, toByteOffset: at, as: UInt32.self)
                at += 4
                if !r.isEmpty {
                    (out.baseAddress! + at).copyMemory(from: bytes.baseAddress! + r.lowerBound, byteCount: r.count)
                }
                at += r.count
            }
        }
    }

    // MARK: dictionary

    /// Builds the chunk dictionary and per-value indices; false if a dictionary does not pay.
    private mutating func buildDictionary(_ column: ColumnBuffer, values: Range<Int>) -> Bool {
        dictionary.reset()
        indices.removeAll(keepingCapacity: true)
        indices.reserveCapacity(values.count)
        let limit = options.dictionaryLimitBytes
        var fits = true
        column.stringBytes.withUnsafeBufferPointer { bytes in
            column.stringEnds.withUnsafeBufferPointer { ends in
                var start = values.lowerBound == 0 ? 0 : Int(ends[values.lowerBound - 1])
                for i in values {
                    let end = Int(ends[i])
                    indices.append(dictionary.index(of: start..<end, in: bytes))
                    if dictionary.plainSize > limit { fits = false; return }
                    start = end
                }
            }
        }
        guard fits else { return false }
        let firstByte = values.lowerBound == 0 ? 0 : Int(column.stringEnds[values.lowerBound - 1])
        let plainSize = Int(column.stringEnds[values.upperBound - 1]) - firstByte + 4 * values.count
        let width = RLEHybridEncoder.bitWidth(forMaxValue: UInt64(max(0, dictionary.count - 1)))
        let dictionarySize = dictionary.plainSize + (values.count * width + 7) / 8
        return dictionarySize < plainSize
    }

    private mutating func buildDictionaryPageBody(_ column: ColumnBuffer) {
        body.removeAll(keepingCapacity: true)
        let entries = dictionary.entries
        let totalBytes = dictionary.plainSize - 4 * entries.count
        column.stringBytes.withUnsafeBufferPointer { bytes in
            appendLengthPrefixed(bytes, count: entries.count, totalBytes: totalBytes) { entries[$0] }
        }
    }

    /// Min/max over the distinct values only: cheaper than scanning every row.
    private func dictionaryStatistics(_ column: ColumnBuffer, nullCount: Int) -> ColumnStatistics {
        var stats = ColumnStatistics(nullCount: nullCount)
        let entries = dictionary.entries
        guard var lo = entries.first else { return stats }
        var hi = lo
        column.stringBytes.withUnsafeBufferPointer { bytes in
            for r in entries.dropFirst() {
                if ColumnStatistics.compareBytes(bytes, r, lo) < 0 { lo = r }
                if ColumnStatistics.compareBytes(bytes, r, hi) > 0 { hi = r }
            }
            stats.min = .bytes(Array(bytes[lo]))
            stats.max = .bytes(Array(bytes[hi]))
        }
        return stats
    }
}

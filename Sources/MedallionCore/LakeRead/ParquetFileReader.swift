import CZstd
import Glibc

/// Limits and checks for ``ParquetFileReader``.
package struct ParquetReadOptions: Sendable {
    /// Largest accepted uncompressed page; a header claiming more is treated as corrupt
    /// (our writer targets 1 MiB pages, pyarrow 1 MiB too).
    package var maxPageBytes: Int = 256 << 20
    /// Largest accepted row group, in rows. Bounds memory: a few bytes of RLE levels
    /// can legitimately describe billions of nulls.
    package var maxRowGroupRows: Int = 1 << 26
    /// If set, the file must have exactly this size (Delta `add.size`).
    package var expectedFileSize: Int64?

    package init() {}
}

/// Reads flat Parquet files: the footer once, then one row group at a time.
///
/// Supported: DataPage v1 and v2; PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY (with a
/// dictionary page) and RLE booleans; UNCOMPRESSED and ZSTD; physical types
/// BOOLEAN, INT32, INT64, DOUBLE, BYTE_ARRAY; REQUIRED and OPTIONAL top-level
/// columns. Anything else fails with `.unsupported` naming the column.
///
/// Every size, offset and count in the file is checked before use; a damaged or
/// hostile file throws `LakeError(.corruptFile)` with the file path and byte offset
/// (the Lake has no separate "corrupt data file" code). A class because it owns
/// a file descriptor; not thread-safe (one reader per thread).
package final class ParquetFileReader {
    package let path: String
    package let fileSize: Int64
    package let metadata: ParquetFileMetaData
    package let options: ParquetReadOptions
    private let fd: Int32
    /// Where the footer starts: column chunks must end before it.
    private let footerStart: Int64
    private var zstd: ZstdDecompressor?

    /// Opens `path` and decodes its footer.
    package init(path: String, options: ParquetReadOptions = .init()) throws(LakeError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            throw LakeError(
                .io, code == ENOENT ? "Parquet file does not exist." : "Could not open Parquet file.",
                path: path, cause: errnoText(code))
        }
        do throws(LakeError) {
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                throw LakeError(.io, "Could not stat Parquet file.", path: path, cause: errnoText(errno))
            }
            let size = Int64(st.st_size)
            if let expected = options.expectedFileSize, expected != size {
                throw LakeError(
                    .corruptFile,
                    "The Parquet file is \(size) bytes but the Delta log says \(expected); it was truncated or replaced.",
                    path: path)
            }
            let (meta, footerStart) = try Self.readFooter(fd: fd, size: size, path: path)
            self.fd = fd
            self.path = path
            self.fileSize = size
            self.metadata = meta
            self.footerStart = footerStart
            self.options = options
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Leaf columns in file order.
    package var columns: [ParquetColumnDescriptor] { metadata.columns }
    package var rowGroupCount: Int { metadata.rowGroups.count }

    package func column(named name: String) -> ParquetColumnDescriptor? {
        metadata.columns.first { $0.name == name }
    }

    // MARK: footer

    private static func readFooter(fd: Int32, size: Int64, path: String) throws(LakeError) -> (ParquetFileMetaData, Int64) {
        guard size >= 12 else {
            throw LakeError(.corruptFile, "The file is \(size) bytes, too short to be Parquet (at least 12); it was truncated.", path: path)
        }
        let head = try preadExactly(fd: fd, count: 4, offset: 0, path: path)
        let tail = try preadExactly(fd: fd, count: 8, offset: size - 8, path: path)
        guard head == ParquetFormat.magic else {
            throw LakeError(.corruptFile, "The file does not start with the Parquet magic PAR1 (offset 0); it is not a Parquet file.", path: path)
        }
        guard Array(tail[4..<8]) == ParquetFormat.magic else {
            throw LakeError(
                .corruptFile,
                "The file does not end with the Parquet magic PAR1 (offset \(size - 4)); it was truncated or is still being written.",
                path: path)
        }
        let length = Int64(tail[0]) | Int64(tail[1]) << 8 | Int64(tail[2]) << 16 | Int64(tail[3]) << 24
        guard length > 0 && length <= size - 12 else {
            throw LakeError(
                .corruptFile,
                "The footer length \(length) (offset \(size - 8)) does not fit in a \(size)-byte file; the footer is corrupt.",
                path: path)
        }
        let footerStart = size - 8 - length
        let footer = try preadExactly(fd: fd, count: Int(length), offset: footerStart, path: path)
        var reader = ThriftCompactReader(footer, baseOffset: footerStart, path: path, context: "footer (FileMetaData)")
        let meta = try ParquetFileMetaData.decode(&reader)
        return (meta, footerStart)
    }

    /// Reads exactly `count` bytes at `offset`; a short read means the file is truncated.
    static func preadExactly(fd: Int32, count: Int, offset: Int64, path: String) throws(LakeError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: LakeError?
        out.withUnsafeMutableBytes { buf in
            while done < count {
                let n = pread(fd, buf.baseAddress! + done, count - done, off_t(offset + Int64(done)))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = LakeError(.io, "Reading the Parquet file failed at offset \(offset + Int64(done)).", path: path, cause: errnoText(errno))
                    return
                }
                if n == 0 {
                    failure = LakeError(
                        .corruptFile, "The file ends at offset \(offset + Int64(done)) but \(count) bytes were expected from offset \(offset); it was truncated.",
                        path: path)
                    return
                }
                done += n
            }
        }
        if let failure { throw failure }
        return out
    }

    // MARK: row groups

    /// Reads the named columns (all columns when nil) of row group `index`.
    package func readRowGroup(_ index: Int, columns names: [String]? = nil) throws(LakeError) -> ParquetRowGroup {
        guard index >= 0 && index < metadata.rowGroups.count else {
            throw LakeError(.invalidArgument, "Row group \(index) does not exist; the file has \(metadata.rowGroups.count).", path: path)
        }
        var selected: [ParquetColumnDescriptor] = []
        if let names {
            for name in names {
                guard let d = column(named: name) else {
                    throw LakeError(
                        .invalidArgument,
                        "The file has no column '\(name)'; its columns are \(metadata.columns.map(\.name).joined(separator: ", ")).",
                        path: path)
                }
                selected.append(d)
            }
        } else {
            selected = metadata.columns
        }
        var columns: [ParquetColumn] = []
        columns.reserveCapacity(selected.count)
        for d in selected { columns.append(try readColumn(rowGroup: index, column: d.index)) }
        return ParquetRowGroup(index: index, numRows: Int(metadata.rowGroups[index].numRows), columns: columns)
    }

    /// Reads and decodes one column chunk.
    package func readColumn(rowGroup g: Int, column c: Int) throws(LakeError) -> ParquetColumn {
        guard g >= 0 && g < metadata.rowGroups.count, c >= 0 && c < metadata.columns.count else {
            throw LakeError(.invalidArgument, "Row group \(g) / column \(c) does not exist.", path: path)
        }
        let d = metadata.columns[c]
        let chunk = metadata.rowGroups[g].columns[c]
        let numRows64 = metadata.rowGroups[g].numRows
        guard d.physicalType.isSupported else {
            throw LakeError(
                .unsupported,
                "Column '\(d.name)' has physical type \(d.physicalType); this reader supports BOOLEAN, INT32, INT64, DOUBLE and BYTE_ARRAY.",
                path: path)
        }
        guard chunk.codec == 0 || chunk.codec == ParquetFormat.codecZstd else {
            throw LakeError(
                .unsupported,
                "Column '\(d.name)' uses compression codec \(Self.codecName(chunk.codec)); this reader supports UNCOMPRESSED and ZSTD only.",
                path: path)
        }
        guard numRows64 <= Int64(options.maxRowGroupRows) else {
            throw LakeError(
                .unsupported,
                "Row group \(g) claims \(numRows64) rows, above the reader limit of \(options.maxRowGroupRows) (ParquetReadOptions.maxRowGroupRows).",
                path: path)
        }
        guard chunk.numValues == numRows64 else {
            throw LakeError(
                .corruptFile,
                "Column '\(d.name)' in row group \(g) has \(chunk.numValues) values for \(numRows64) rows; a flat column has one value per row.",
                path: path)
        }
        // The chunk starts at its dictionary page when it has one.
        var start = chunk.dataPageOffset
        if let dict = chunk.dictionaryPageOffset, dict > 0, dict < start { start = dict }
        let (end, overflow) = start.addingReportingOverflow(chunk.totalCompressedSize)
        guard start >= 4, !overflow, end <= footerStart else {
            throw LakeError(
                .corruptFile,
                "Column '\(d.name)' in row group \(g) claims bytes \(start)..<\(overflow ? Int64.max : end), outside the data area 4..<\(footerStart).",
                path: path)
        }
        let bytes = try Self.preadExactly(fd: fd, count: Int(end - start), offset: start, path: path)
        var decoder = ChunkDecoder(
            reader: self, descriptor: d, codec: chunk.codec, numRows: Int(numRows64), chunk: bytes, chunkOffset: start,
            rowGroup: g)
        return try decoder.decode()
    }

    static func codecName(_ codec: Int32) -> String {
        switch codec {
        case 0: "UNCOMPRESSED"
        case 1: "SNAPPY"
        case 2: "GZIP"
        case 3: "LZO"
        case 4: "BROTLI"
        case 5: "LZ4"
        case 6: "ZSTD"
        case 7: "LZ4_RAW"
        default: "\(codec)"
        }
    }

    static func encodingName(_ encoding: Int32) -> String {
        switch encoding {
        case 0: "PLAIN"
        case 2: "PLAIN_DICTIONARY"
        case 3: "RLE"
        case 4: "BIT_PACKED"
        case 5: "DELTA_BINARY_PACKED"
        case 6: "DELTA_LENGTH_BYTE_ARRAY"
        case 7: "DELTA_BYTE_ARRAY"
        case 8: "RLE_DICTIONARY"
        case 9: "BYTE_STREAM_SPLIT"
        default: "\(encoding)"
        }
    }

    /// Decompresses one page body (or returns it as is for UNCOMPRESSED).
    fileprivate func pageBytes(
        _ chunk: [UInt8], _ range: Range<Int>, codec: Int32, uncompressedSize: Int, fail: (String) -> LakeError
    ) throws(LakeError) -> [UInt8] {
        if codec == 0 {
            guard range.count == uncompressedSize else {
                throw fail("uncompressed page stores \(range.count) bytes but its header says \(uncompressedSize)")
            }
            return Array(chunk[range])
        }
        guard uncompressedSize <= options.maxPageBytes else {
            throw fail("page claims \(uncompressedSize) uncompressed bytes, above the \(options.maxPageBytes)-byte limit")
        }
        if uncompressedSize == 0 && range.isEmpty { return [] }
        if zstd == nil { zstd = try ZstdDecompressor(path: path) }
        // Check the frame's declared size before allocating for it.
        let declared: Result<Void, ZstdFailure> = chunk.withUnsafeBytes { src in
            ZstdDecompressor.checkDeclaredSize(UnsafeRawBufferPointer(rebasing: src[range]), expected: uncompressedSize)
        }
        try declared.mapError { fail($0.message) }.get()
        var out = [UInt8](repeating: 0, count: uncompressedSize)
        let result: Result<Int, LakeError> = chunk.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                zstd!.decompress(UnsafeRawBufferPointer(rebasing: src[range]), into: dst, expected: uncompressedSize)
                    .mapError { fail($0.message) }
            }
        }
        let written = try result.get()
        guard written == uncompressedSize else {
            throw fail("zstd produced \(written) bytes but the page header says \(uncompressedSize)")
        }
        return out
    }
}

/// Owns one libzstd decompression context, reused for every page of a file.
struct ZstdFailure: Error {
    var message: String
}

final class ZstdDecompressor {
    private let context: OpaquePointer

    init(path: String) throws(LakeError) {
        guard let ctx = ZSTD_createDCtx() else {
            throw LakeError(.compression, "libzstd could not allocate a decompression context; the process may be out of memory.", path: path)
        }
        context = ctx
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses `source` (one or more frames) into `destination`; returns the
    /// byte count or a reason. Frames that declare a different content size are
    /// rejected before decompressing.
    static func checkDeclaredSize(_ source: UnsafeRawBufferPointer, expected: Int) -> Result<Void, ZstdFailure> {
        guard let base = source.baseAddress, source.count > 0 else { return .failure(ZstdFailure(message: "empty zstd page body")) }
        let declared = ZSTD_getFrameContentSize(base, source.count)
        let unknown = UInt64.max, error = UInt64.max - 1  // ZSTD_CONTENTSIZE_UNKNOWN / _ERROR
        if declared == error { return .failure(ZstdFailure(message: "page body is not a zstd frame")) }
        // A body of one frame that declares its size must declare exactly the page size;
        // with several frames the first one's size can only be smaller.
        let firstFrame = ZSTD_findFrameCompressedSize(base, source.count)
        let singleFrame = ZSTD_isError(firstFrame) == 0 && firstFrame == source.count
        if declared != unknown && (singleFrame ? declared != UInt64(expected) : declared > UInt64(expected)) {
            return .failure(ZstdFailure(message: "zstd frame declares \(declared) bytes but the page header says \(expected)"))
        }
        return .success(())
    }

    func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, expected: Int) -> Result<Int, ZstdFailure> {
        guard let base = source.baseAddress, source.count > 0 else { return .failure(ZstdFailure(message: "empty zstd page body")) }
        let n = ZSTD_decompressDCtx(context, destination.baseAddress, destination.count, base, source.count)
        if ZSTD_isError(n) != 0 {
            return .failure(ZstdFailure(message: "zstd decompression failed: " + String(cString: ZSTD_getErrorName(n))))
        }
        return .success(n)
    }
}

/// Decodes the pages of one column chunk into a ``ParquetColumn``.
private struct ChunkDecoder {
    let reader: ParquetFileReader
    let descriptor: ParquetColumnDescriptor
    let codec: Int32
    let numRows: Int
    let chunk: [UInt8]
    let chunkOffset: Int64
    let rowGroup: Int

    var column: ParquetColumn
    var dictionary: ParquetColumn?
    /// Scratch for definition levels and dictionary indices.
    var levels: [UInt32] = []
    var indices: [UInt32] = []
    /// Absolute offset of the page being decoded, for errors.
    var pageOffset: Int64 = 0

    init(reader: ParquetFileReader, descriptor: ParquetColumnDescriptor, codec: Int32, numRows: Int, chunk: [UInt8], chunkOffset: Int64, rowGroup: Int) {
        self.reader = reader
        self.descriptor = descriptor
        self.codec = codec
        self.numRows = numRows
        self.chunk = chunk
        self.chunkOffset = chunkOffset
        self.rowGroup = rowGroup
        self.column = ParquetColumn(name: descriptor.name, physicalType: descriptor.physicalType, isString: descriptor.isString)
        self.column.reserveCapacity(min(numRows, 1 << 20))
    }

    func corrupt(_ what: String) -> LakeError {
        LakeError(
            .corruptFile,
            "Column '\(descriptor.name)' (row group \(rowGroup)), page at byte offset \(pageOffset): \(what). The file is damaged.",
            path: reader.path)
    }

    func unsupported(_ what: String) -> LakeError {
        LakeError(.unsupported, "Column '\(descriptor.name)' (row group \(rowGroup)): \(what).", path: reader.path)
    }

    mutating func decode() throws(LakeError) -> ParquetColumn {
        var pos = 0
        while column.count < numRows {
            pageOffset = chunkOffset + Int64(pos)
            guard pos < chunk.count else {
                throw corrupt("the column chunk ends after \(column.count) of \(numRows) rows")
            }
            var thrift = ThriftCompactReader(
                chunk, range: pos..<chunk.count, baseOffset: chunkOffset, path: reader.path,
                context: "page header of column '\(descriptor.name)'")
            let header = try ParquetPageHeader.decode(&thrift)
            let bodyStart = thrift.position
            guard header.compressedSize <= chunk.count - bodyStart else {
                throw corrupt("page body of \(header.compressedSize) bytes runs past the column chunk end")
            }
            let body = bodyStart..<(bodyStart + header.compressedSize)
            switch header.kind {
            case .dictionary(let entries, let encoding):
                guard dictionary == nil, column.count == 0 else { throw corrupt("a second or late dictionary page") }
                guard encoding == 0 || encoding == 2 else {
                    throw unsupported("dictionary page encoding \(ParquetFileReader.encodingName(encoding))")
                }
                let bytes = try reader.pageBytes(chunk, body, codec: codec, uncompressedSize: header.uncompressedSize, fail: corrupt)
                var dict = ParquetColumn(name: descriptor.name, physicalType: descriptor.physicalType, isString: descriptor.isString)
                try withRawBytes(bytes) { (raw) throws(LakeError) in
                    _ = try decodePlain(raw, rows: entries, present: entries, into: &dict)
                }
                dictionary = dict
            case .dataV1(let numValues, let encoding, let levelEncoding):
                guard numValues <= numRows - column.count else {
                    throw corrupt("page holds \(numValues) values but only \(numRows - column.count) rows remain")
                }
                let bytes = try reader.pageBytes(chunk, body, codec: codec, uncompressedSize: header.uncompressedSize, fail: corrupt)
                try withRawBytes(bytes) { (raw) throws(LakeError) in
                    var at = 0
                    levels.removeAll(keepingCapacity: true)
                    if descriptor.optional {
                        guard levelEncoding == 3 else {
                            throw unsupported("definition level encoding \(ParquetFileReader.encodingName(levelEncoding))")
                        }
                        guard raw.count >= 4 else { throw corrupt("page too short for the definition level length") }
                        let length = Int(raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian)
                        guard length <= raw.count - 4 else {
                            throw corrupt("definition levels claim \(length) bytes, \(raw.count - 4) left")
                        }
                        try decodeLevels(UnsafeRawBufferPointer(rebasing: raw[4..<(4 + length)]), count: numValues)
                        at = 4 + length
                    }
                    try decodeValues(UnsafeRawBufferPointer(rebasing: raw[at...]), encoding: encoding, rows: numValues)
                }
            case .dataV2(let numValues, let numNulls, let encoding, let defLength, let repLength, let isCompressed):
                guard numValues <= numRows - column.count else {
                    throw corrupt("page holds \(numValues) values but only \(numRows - column.count) rows remain")
                }
                guard repLength == 0 else { throw unsupported("repetition levels (nested data)") }
                guard defLength <= body.count, defLength <= header.uncompressedSize else {
                    throw corrupt("definition levels (\(defLength) bytes) exceed the page")
                }
                levels.removeAll(keepingCapacity: true)
                if descriptor.optional {
                    try withRawBytes(chunk) { (raw) throws(LakeError) in
                        try decodeLevels(UnsafeRawBufferPointer(rebasing: raw[body.lowerBound..<(body.lowerBound + defLength)]), count: numValues)
                    }
                    guard levels.reduce(0, { $0 + Int(1 - $1) }) == numNulls else {
                        throw corrupt("definition levels disagree with num_nulls \(numNulls)")
                    }
                } else if numNulls != 0 {
                    throw corrupt("REQUIRED column page has \(numNulls) nulls")
                }
                let valueRange = (body.lowerBound + defLength)..<body.upperBound
                let bytes = try reader.pageBytes(
                    chunk, valueRange, codec: isCompressed ? codec : 0,
                    uncompressedSize: header.uncompressedSize - defLength, fail: corrupt)
                try withRawBytes(bytes) { (raw) throws(LakeError) in
                    try decodeValues(raw, encoding: encoding, rows: numValues)
                }
            case .other:
                break  // index pages and future page types carry no values
            }
            pos = body.upperBound
        }
        return column
    }

    /// Decodes `count` definition levels (max level 1) into `levels`.
    mutating func decodeLevels(_ raw: UnsafeRawBufferPointer, count: Int) throws(LakeError) {
        do {
            try RLEHybridDecoder.decode(raw, bitWidth: 1, count: count, maxValue: 1, into: &levels)
        } catch {
            throw corrupt("definition levels: \(error.message) (byte \(error.offset) of the levels)")
        }
    }

    /// Decodes the values section of a data page of `rows` rows; `levels` is empty
    /// for REQUIRED columns, else holds one level per row.
    mutating func decodeValues(_ raw: UnsafeRawBufferPointer, encoding: Int32, rows: Int) throws(LakeError) {
        let present = levels.isEmpty ? rows : levels.reduce(0) { $0 + Int($1) }
        switch encoding {
        case 0:
            let used = try decodePlain(raw, rows: rows, present: present, into: &column)
            _ = used
        case 2, 8:
            guard present > 0 else {
                for _ in 0..<rows { column.appendNull() }
                return
            }
            guard let dictionary else { throw corrupt("dictionary-encoded page without a dictionary page") }
            guard dictionary.count > 0 else { throw corrupt("dictionary-encoded values with an empty dictionary") }
            guard raw.count >= 1 else { throw corrupt("missing dictionary index bit width") }
            let width = Int(raw[0])
            indices.removeAll(keepingCapacity: true)
            do {
                try RLEHybridDecoder.decode(
                    UnsafeRawBufferPointer(rebasing: raw[1...]), bitWidth: width, count: present,
                    maxValue: UInt32(dictionary.count - 1), into: &indices)
            } catch {
                throw corrupt("dictionary indices: \(error.message) (byte \(error.offset + 1) of the values)")
            }
            var k = 0
            for r in 0..<rows {
                if levels.isEmpty || levels[r] != 0 {
                    column.appendValue(from: dictionary, row: Int(indices[k]))
                    k += 1
                } else {
                    column.appendNull()
                }
            }
        case 3:
            guard descriptor.physicalType == .boolean else {
                throw unsupported("RLE value encoding on a \(descriptor.physicalType) column")
            }
            guard raw.count >= 4 else { throw corrupt("RLE boolean values lack their length prefix") }
            let length = Int(raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian)
            guard length <= raw.count - 4 else { throw corrupt("RLE boolean values claim \(length) bytes") }
            indices.removeAll(keepingCapacity: true)
            do {
                try RLEHybridDecoder.decode(
                    UnsafeRawBufferPointer(rebasing: raw[4..<(4 + length)]), bitWidth: 1, count: present, maxValue: 1,
                    into: &indices)
            } catch {
                throw corrupt("RLE booleans: \(error.message)")
            }
            var k = 0
            for r in 0..<rows {
                if levels.isEmpty || levels[r] != 0 {
                    column.bools.append(indices[k] != 0)
                    column.markPresent()
                    k += 1
                } else {
                    column.appendNull()
                }
            }
        default:
            throw unsupported("value encoding \(ParquetFileReader.encodingName(encoding)); supported are PLAIN and RLE_DICTIONARY")
        }
    }

    /// PLAIN-decodes `present` values spread over `rows` rows (per `levels`) into `out`.
    /// Returns the bytes consumed.
    func decodePlain(_ raw: UnsafeRawBufferPointer, rows: Int, present: Int, into out: inout ParquetColumn) throws(LakeError) -> Int {
        let dense = levels.isEmpty || present == rows
        @inline(__always) func isPresent(_ r: Int) -> Bool { dense || levels[r] != 0 }
        switch descriptor.physicalType {
        case .int32, .int64, .double:
            let width = descriptor.physicalType == .int32 ? 4 : 8
            guard present <= raw.count / width else {
                throw corrupt("\(present) PLAIN values need \(present * width) bytes, the page has \(raw.count)")
            }
            var k = 0
            for r in 0..<rows {
                guard isPresent(r) else { out.appendNull(); continue }
                let at = k * width
                switch descriptor.physicalType {
                case .int32: out.int32s.append(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                case .int64: out.int64s.append(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self)))
                default:
                    out.doubles.append(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))))
                }
                out.markPresent()
                k += 1
            }
            return present * width
        case .boolean:
            guard (present + 7) / 8 <= raw.count else {
                throw corrupt("\(present) PLAIN booleans need \((present + 7) / 8) bytes, the page has \(raw.count)")
            }
            var k = 0
            for r in 0..<rows {
                guard isPresent(r) else { out.appendNull(); continue }
                out.bools.append((raw[k >> 3] >> UInt8(k & 7)) & 1 == 1)
                out.markPresent()
                k += 1
            }
            return (present + 7) / 8
        case .byteArray:
            guard present <= raw.count / 4 else {
                throw corrupt("\(present) PLAIN byte arrays need at least \(present * 4) bytes, the page has \(raw.count)")
            }
            var at = 0
            for r in 0..<rows {
                guard isPresent(r) else { out.appendNull(); continue }
                guard raw.count - at >= 4 else { throw corrupt("byte array length at value byte \(at) runs past the page end") }
                let length = Int(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian)
                at += 4
                guard length <= raw.count - at else {
                    throw corrupt("byte array of \(length) bytes at value byte \(at - 4) runs past the page end")
                }
                out.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[at..<(at + length)]))
                out.ends.append(out.bytes.count)
                out.markPresent()
                at += length
            }
            return at
        case .int96, .float, .fixedLenByteArray:
            throw unsupported("physical type \(descriptor.physicalType)")
        }
    }
}

import CZlib
import Foundation

/// A failure to read an Avro container: where, and what.
package struct AvroError: Error, CustomStringConvertible, Sendable {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// The part of an Avro schema the decoder needs (named types resolved).
package indirect enum AvroType: Sendable {
    case null, boolean, int, long, float, double, bytes, string
    case record([(name: String, type: AvroType)])
    case enumeration
    case array(AvroType)
    case map(AvroType)
    case union([AvroType])
    case fixed(Int)

    /// Parses a schema (as `JSONSerialization` returns it).
    package static func parse(_ json: Any, named: inout [String: AvroType]) throws(AvroError) -> AvroType {
        if let name = json as? String {
            switch name {
            case "null": return .null
            case "boolean": return .boolean
            case "int": return .int
            case "long": return .long
            case "float": return .float
            case "double": return .double
            case "bytes": return .bytes
            case "string": return .string
            default:
                if let type = named[name] ?? named.first(where: { $0.key.hasSuffix(".\(name)") })?.value { return type }
                throw AvroError("unknown type '\(name)' in the schema")
            }
        }
        if let branches = json as? [Any] {
            var types: [AvroType] = []
            for branch in branches { types.append(try parse(branch, named: &named)) }
            return .union(types)
        }
        guard let object = json as? [String: Any], let type = object["type"] else {
            throw AvroError("the schema is not valid Avro JSON")
        }
        let name = (object["namespace"] as? String).map { "\($0).\(object["name"] as? String ?? "")" } ?? (object["name"] as? String ?? "")
        switch type as? String {
        case "record", "error":
            var fields: [(name: String, type: AvroType)] = []
            for case let field as [String: Any] in object["fields"] as? [Any] ?? [] {
                guard let fieldName = field["name"] as? String, let fieldType = field["type"] else {
                    throw AvroError("a record field without name or type in the schema")
                }
                fields.append((fieldName, try parse(fieldType, named: &named)))
            }
            named[name] = .record(fields)
            return .record(fields)
        case "enum":
            named[name] = .enumeration
            return .enumeration
        case "array":
            return .array(try parse(object["items"] ?? "null", named: &named))
        case "map":
            return .map(try parse(object["values"] ?? "null", named: &named))
        case "fixed":
            let size = object["size"] as? Int ?? 0
            named[name] = .fixed(size)
            return .fixed(size)
        default:
            return try parse(type, named: &named)
        }
    }
}

/// A bounds-checked cursor over Avro binary data.
struct AvroCursor {
    let base: UnsafeRawBufferPointer
    var position: Int

    init(_ base: UnsafeRawBufferPointer, at position: Int = 0) {
        self.base = base
        self.position = position
    }

    var atEnd: Bool { position >= base.count }

    /// A zigzag LEB128 varint (Avro int and long).
    mutating func long() throws(AvroError) -> Int64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < base.count else { throw AvroError("a number runs past the end of the data") }
            let byte = base[position]
            position += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 64 else { throw AvroError("a number is longer than 10 bytes") }
        }
        return Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    mutating func take(_ count: Int) throws(AvroError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= base.count - position else {
            throw AvroError("a length of \(count) bytes runs past the end of the data")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: base[position..<(position + count)])
    }

    mutating func bytes() throws(AvroError) -> UnsafeRawBufferPointer {
        let count = try long()
        guard count >= 0, count <= Int64(base.count) else { throw AvroError("a negative or huge length (\(count))") }
        return try take(Int(count))
    }

    mutating func skip(_ type: AvroType) throws(AvroError) {
        switch type {
        case .null: break
        case .boolean: _ = try take(1)
        case .int, .long, .enumeration: _ = try long()
        case .float: _ = try take(4)
        case .double: _ = try take(8)
        case .bytes, .string: _ = try bytes()
        case .fixed(let size): _ = try take(size)
        case .record(let fields): for field in fields { try skip(field.type) }
        case .union(let branches): try skip(try branch(branches))
        case .array(let item): try skipBlocks { (c) throws(AvroError) in try c.skip(item) }
        case .map(let value): try skipBlocks { (c) throws(AvroError) in _ = try c.bytes(); try c.skip(value) }
        }
    }

    mutating func branch(_ branches: [AvroType]) throws(AvroError) -> AvroType {
        let index = try long()
        guard index >= 0, index < branches.count else { throw AvroError("union branch \(index) does not exist") }
        return branches[Int(index)]
    }

    /// Array and map blocks: a count (negative: followed by a byte size), items, until 0.
    private mutating func skipBlocks(_ item: (inout AvroCursor) throws(AvroError) -> Void) throws(AvroError) {
        while true {
            var count = try long()
            if count == 0 { return }
            if count < 0 {
                count = -count
                _ = try long()
            }
            guard count <= Int64(base.count - position) else { throw AvroError("a block of \(count) items cannot fit") }
            for _ in 0..<count { try item(&self) }
        }
    }
}

/// One event of a Capture file, as views into the decoded block.
package struct CaptureEvent {
    package var sequenceNumber: Int64
    package var enqueuedTime: String?
    /// `nil` when the Body is null.
    package var body: UnsafeRawBufferPointer?
}

/// Reads an Event Hubs Capture file: an Avro object container (magic
/// `Obj\u{1}`, a metadata map with `avro.schema` and `avro.codec`, a sync
/// marker, then blocks of records), codec `null` or `deflate` (raw RFC 1951
/// through zlib). The file is mapped, not read into memory; a block is
/// decoded whole before any of its events is handed out, so a corrupt block
/// yields nothing half-read.
package final class AvroCaptureFile {
    package let path: String
    private let base: UnsafeMutableRawPointer?
    private let size: Int
    private var cursor: AvroCursor
    private var sync: [UInt8] = []
    private var deflate = false
    private var schema: AvroType = .null
    /// Inflated block data (deflate codec); grows, never shrinks.
    private var inflated = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    private var inflatedCount = 0
    package private(set) var blockIndex = 0

    /// Maps the file and reads its header.
    /// - Throws: `StageError(.noInput)` when it cannot be opened; `.data`
    ///   for an unsupported codec (the message names file and codec);
    ///   `AvroError` wrapped as `.data` for a damaged header.
    package init(path: String) throws(StageError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StageError(.noInput, "cannot open Capture file '\(path)': \(errnoText(errno))") }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        size = Int(info.st_size)
        if size > 0 {
            guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
                throw StageError(.io, "cannot map Capture file '\(path)': \(errnoText(errno))")
            }
            base = mapped
        } else {
            base = nil
        }
        cursor = AvroCursor(UnsafeRawBufferPointer(start: base, count: size))
        if size > 0 { try readHeader() }
    }

    deinit {
        if let base { munmap(base, size) }
        inflated.deallocate()
    }

    /// An empty file (Capture writes them for quiet windows) has no header and no events.
    package var isEmpty: Bool { size == 0 }

    private func readHeader() throws(StageError) {
        var unsupportedCodec: String?
        do throws(AvroError) {
            let magic = try cursor.take(4)
            guard magic.elementsEqual([0x4F, 0x62, 0x6A, 0x01]) else {
                throw AvroError("not an Avro object container (no 'Obj\\x01' magic)")
            }
            var meta: [String: [UInt8]] = [:]
            while true {
                var count = try cursor.long()
                if count == 0 { break }
                if count < 0 { count = -count; _ = try cursor.long() }
                for _ in 0..<count {
                    let key = String(decoding: try cursor.bytes(), as: UTF8.self)
                    meta[key] = Array(try cursor.bytes())
                }
            }
            sync = Array(try cursor.take(16))
            let codec = meta["avro.codec"].map { String(decoding: $0, as: UTF8.self) } ?? "null"
            switch codec {
            case "null", "": deflate = false
            case "deflate": deflate = true
            default: unsupportedCodec = codec
            }
            guard let schemaBytes = meta["avro.schema"],
                  let json = try? JSONSerialization.jsonObject(with: Data(schemaBytes)) else {
                throw AvroError("the header has no readable avro.schema")
            }
            var named: [String: AvroType] = [:]
            schema = try AvroType.parse(json, named: &named)
            guard case .record = schema else { throw AvroError("the schema is not a record") }
        } catch {
            throw StageError(.data, "Capture file '\(path)' is damaged: \(error.message); move it aside and replay the rest")
        }
        if let codec = unsupportedCodec {
            throw StageError(.data, "Capture file '\(path)' uses the Avro codec '\(codec)'; eh-source reads 'null' and 'deflate' (Event Hubs Capture writes one of them)")
        }
    }

    package enum Block {
        /// The events of one block.
        case events([CaptureEvent])
        /// A block that cannot be decoded; `raw` is its data, `resumable`
        /// tells whether the next block can still be found.
        case corrupt(message: String, raw: UnsafeRawBufferPointer, resumable: Bool)
        case end
    }

    /// The next block. Events' bytes stay valid until the next call.
    package func nextBlock() -> Block {
        guard size > 0, !cursor.atEnd else { return .end }
        blockIndex += 1
        let blockStart = cursor.position
        let count: Int64
        let data: UnsafeRawBufferPointer
        do throws(AvroError) {
            count = try cursor.long()
            let length = try cursor.long()
            guard count >= 0, length >= 0 else { throw AvroError("negative object count or size") }
            data = try cursor.take(Int(length))
            let marker = try cursor.take(16)
            guard marker.elementsEqual(sync) else { throw AvroError("the sync marker after the block does not match the header's") }
        } catch {
            let rest = UnsafeRawBufferPointer(rebasing: cursor.base[blockStart...])
            cursor.position = size
            return .corrupt(message: "block \(blockIndex) at byte \(blockStart): \(error.message)", raw: rest, resumable: false)
        }
        do throws(AvroError) {
            let plain: UnsafeRawBufferPointer
            if deflate {
                try inflate(data)
                plain = UnsafeRawBufferPointer(rebasing: inflated[0..<inflatedCount])
            } else {
                plain = data
            }
            var reader = AvroCursor(plain)
            var events: [CaptureEvent] = []
            events.reserveCapacity(Int(min(count, 1 << 16)))
            guard case .record(let fields) = schema else { return .end }
            for _ in 0..<count {
                var event = CaptureEvent(sequenceNumber: -1, enqueuedTime: nil, body: nil)
                for field in fields {
                    switch field.name {
                    case "SequenceNumber": event.sequenceNumber = try reader.longValue(field.type)
                    case "EnqueuedTimeUtc": event.enqueuedTime = try reader.bytesValue(field.type).map { String(decoding: $0, as: UTF8.self) }
                    case "Body": event.body = try reader.bytesValue(field.type)
                    default: try reader.skip(field.type)
                    }
                }
                events.append(event)
            }
            guard reader.atEnd else { throw AvroError("\(plain.count - reader.position) bytes left after \(count) records") }
            return .events(events)
        } catch {
            return .corrupt(message: "block \(blockIndex) at byte \(blockStart): \(error.message)", raw: data, resumable: true)
        }
    }

    /// Raw inflate (window bits −15: Avro's deflate has no zlib header).
    private func inflate(_ data: UnsafeRawBufferPointer) throws(AvroError) {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw AvroError("zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var produced = 0
        stream.next_in = UnsafeMutablePointer(mutating: data.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(data.count)
        while true {
            if produced == inflated.count {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: inflated.count * 2, alignment: 16)
                bigger.copyMemory(from: UnsafeRawBufferPointer(inflated))
                inflated.deallocate()
                inflated = bigger
            }
            stream.next_out = inflated.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
            stream.avail_out = uInt(inflated.count - produced)
            let result = CZlib.inflate(&stream, Z_NO_FLUSH)
            produced = inflated.count - Int(stream.avail_out)
            if result == Z_STREAM_END { break }
            if result == Z_BUF_ERROR, stream.avail_in == 0 {
                throw AvroError("the deflate data ends early (truncated block)")
            }
            guard result == Z_OK || result == Z_BUF_ERROR else {
                throw AvroError("the deflate data is corrupt (zlib: \(stream.msg.map { String(cString: $0) } ?? "error \(result)"))")
            }
        }
        inflatedCount = produced
    }
}

extension AvroCursor {
    /// A long, possibly in a union with null.
    mutating func longValue(_ type: AvroType) throws(AvroError) -> Int64 {
        switch type {
        case .long, .int: return try long()
        case .union(let branches): return try longValue(try branch(branches))
        case .null: return -1
        default: throw AvroError("SequenceNumber is not a long in the schema")
        }
    }

    /// Bytes or a string, possibly in a union with null (`nil`).
    mutating func bytesValue(_ type: AvroType) throws(AvroError) -> UnsafeRawBufferPointer? {
        switch type {
        case .bytes, .string: return try bytes()
        case .union(let branches): return try bytesValue(try branch(branches))
        case .null: return nil
        default: try skip(type); return nil
        }
    }
}

/// Event Hubs Capture's `EnqueuedTimeUtc`, which has no documented format:
/// RFC 3339, or the .NET invariant form `11/26/2025 3:59:58 PM` (optionally
/// with a fraction, or 24-hour without AM/PM). Always UTC.
package enum EnqueuedTime {
    /// Milliseconds since the epoch, or `nil` when the text is neither form.
    package static func parseMillis(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let micros = try? Array(trimmed.utf8).withUnsafeBytes({ Timestamp.parseMicros($0) }).get() {
            return micros / 1000
        }
        if !trimmed.hasSuffix("Z"), !trimmed.contains("+"), trimmed.contains("T"),
           let micros = try? Array((trimmed + "Z").utf8).withUnsafeBytes({ Timestamp.parseMicros($0) }).get() {
            return micros / 1000
        }
        // M/D/YYYY h:mm:ss[.fff] [AM|PM]
        let parts = trimmed.split(separator: " ")
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let date = parts[0].split(separator: "/").compactMap { Int($0) }
        guard date.count == 3 else { return nil }
        let (month, day, year) = (date[0], date[1], date[2])
        let clock = parts[1].split(separator: ":")
        guard clock.count == 3, var hour = Int(clock[0]), let minute = Int(clock[1]) else { return nil }
        let secondParts = clock[2].split(separator: ".", maxSplits: 1)
        guard let second = Int(secondParts[0]) else { return nil }
        var millis = 0
        if secondParts.count == 2 {
            let digits = secondParts[1].prefix(3)
            guard let value = Int(digits) else { return nil }
            millis = value * [100, 10, 1][digits.count - 1]
        }
        if parts.count == 3 {
            let marker = parts[2].uppercased()
            guard (1...12).contains(hour), marker == "AM" || marker == "PM" else { return nil }
            if marker == "AM", hour == 12 { hour = 0 }
            if marker == "PM", hour != 12 { hour += 12 }
        }
        guard (1...12).contains(month), (1...Timestamp.daysInMonth(year: year, month: month)).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        let days = Int64(Timestamp.daysFromCivil(year: year, month: month, day: day))
        return ((days * 24 + Int64(hour)) * 60 + Int64(minute)) * 60_000 + Int64(second) * 1000 + Int64(millis)
    }
}

/// The Capture files under a directory in replay order: by partition, then
/// by the `{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}` path (zero-padded, so text order
/// is time order). Capture names them
/// `{Namespace}/{EventHub}/{PartitionId}/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro`.
package struct CaptureLayout: Sendable, Equatable {
    package struct File: Sendable, Equatable {
        package var path: String
        /// `capture:<namespace>/<hub>`, or `capture:<directory>` for other layouts.
        package var sourceID: String
        package var partition: Int64
        package var timeKey: String
    }

    package var files: [File]

    /// - Throws: `StageError(.noInput)` when the directory cannot be read.
    package static func scan(directory: String) throws(StageError) -> CaptureLayout {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StageError(.noInput, "--capture-dir '\(directory)' is not a directory")
        }
        guard let walker = manager.enumerator(atPath: directory) else {
            throw StageError(.noInput, "--capture-dir '\(directory)' cannot be read")
        }
        var files: [File] = []
        let root = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".avro") else { continue }
            files.append(classify(relative: relative, root: root))
        }
        files.sort { ($0.sourceID, $0.partition, $0.timeKey) < ($1.sourceID, $1.partition, $1.timeKey) }
        return CaptureLayout(files: files)
    }

    package static func classify(relative: String, root: String) -> File {
        let parts = relative.split(separator: "/").map(String.init)
        if parts.count >= 9, let partition = Int64(parts[parts.count - 7]) {
            let hub = parts[parts.count - 8]
            let namespace = parts[parts.count - 9]
            return File(path: "\(root)/\(relative)", sourceID: "capture:\(namespace)/\(hub)", partition: partition,
                        timeKey: parts.suffix(6).joined(separator: "/"))
        }
        return File(path: "\(root)/\(relative)", sourceID: "capture:\(root)", partition: 0, timeKey: relative)
    }
}

/// Reads protobuf binary (the wire format) from memory it does not own. Every read is bounds
/// checked: a truncated or hostile buffer throws, it never reads past the end.
struct WireReader {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    struct WireError: Error, CustomStringConvertible {
        let description: String
    }

    private let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0
    /// The field number of the last tag read (to find the end of a group).
    private var lastField: UInt64 = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// A varint of at most 10 bytes at `cursor`, which moves past it; nil when truncated or
    /// longer. For loops over raw pointers that check a whole message or pick a few fields.
    @inline(__always)
    static func varint(_ cursor: inout UnsafeRawPointer, _ end: UnsafeRawPointer) -> UInt64? {
        guard cursor < end else { return nil }
        let first = cursor.load(as: UInt8.self)
        cursor += 1
        if first < 0x80 { return UInt64(first) }  // tags and short lengths
        var result = UInt64(first & 0x7F)
        var shift: UInt64 = 7
        while cursor < end, shift < 64 {
            let byte = cursor.load(as: UInt8.self)
            cursor += 1
            result |= UInt64(byte & 0x7F) &<< shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    var isAtEnd: Bool { offset >= bytes.count }

    @inline(__always)
    mutating func readVarint() throws -> UInt64 {
        if offset < bytes.count, bytes[offset] < 0x80 {  // most varints (tags, lengths) are one byte
            offset += 1
            return UInt64(bytes[offset - 1])
        }
        return try readLongVarint()
    }

    private mutating func readLongVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw WireError(description: "truncated varint at byte \(offset)") }
            let byte = bytes[offset]
            offset += 1
            guard shift < 64 else { throw WireError(description: "varint longer than 10 bytes at byte \(offset)") }
            result |= UInt64(byte & 0x7F) &<< shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// The next field's number and wire type, or nil at the end of the buffer.
    @inline(__always)
    mutating func readTag() throws -> (field: UInt64, wireType: WireType)? {
        guard !isAtEnd else { return nil }
        let tag = try readVarint()
        guard let wireType = WireType(rawValue: UInt8(tag & 7)), tag >> 3 != 0, tag >> 3 <= 0x1FFF_FFFF else { throw invalidTag(tag) }
        lastField = tag >> 3
        return (tag >> 3, wireType)
    }

    @inline(__always)
    mutating func readLengthDelimited() throws -> UnsafeRawBufferPointer {
        let length = try readVarint()
        guard length <= UInt64(bytes.count - offset) else { throw pastTheEnd(length) }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(length)])
        offset += Int(length)
        return slice
    }

    // The errors are made out of line: the readers above are inlined into every loop.
    private func invalidTag(_ tag: UInt64) -> WireError { WireError(description: "invalid tag \(tag) at byte \(offset)") }

    private func pastTheEnd(_ length: UInt64) -> WireError {
        WireError(description: "length \(length) at byte \(offset) runs past the end (\(bytes.count) bytes)")
    }

    mutating func readFixed32() throws -> UInt32 {
        guard 4 <= bytes.count - offset else { throw WireError(description: "truncated fixed32 at byte \(offset)") }
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    mutating func readFixed64() throws -> UInt64 {
        guard 8 <= bytes.count - offset else { throw WireError(description: "truncated fixed64 at byte \(offset)") }
        defer { offset += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    mutating func readString() throws -> String {
        String(decoding: try readLengthDelimited(), as: UTF8.self)
    }

    mutating func skip(_ wireType: WireType) throws {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: try advance(8)
        case .fixed32: try advance(4)
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup: try skipGroup(lastField, depth: 0)
        case .endGroup: throw WireError(description: "end of group \(lastField) without its start at byte \(offset)")
        }
    }

    /// Steps over a (proto2) group up to its end tag; groups may nest, up to a limit.
    private mutating func skipGroup(_ field: UInt64, depth: Int) throws {
        guard depth < 100 else { throw WireError(description: "groups nested too deeply at byte \(offset)") }
        while let (number, wireType) = try readTag() {
            switch wireType {
            case .endGroup:
                guard number == field else { throw WireError(description: "group \(field) ended by tag \(number) at byte \(offset)") }
                return
            case .startGroup: try skipGroup(number, depth: depth + 1)
            default: try skip(wireType)
            }
        }
        throw WireError(description: "group \(field) has no end")
    }

    private mutating func advance(_ count: Int) throws {
        guard count <= bytes.count - offset else { throw WireError(description: "truncated fixed-width value at byte \(offset)") }
        offset += count
    }
}

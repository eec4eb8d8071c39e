/// Writes protobuf binary into a growing buffer. Nested messages are written in place: a
/// one-byte length is reserved and widened afterwards when the message turned out longer, so
/// large payloads are never copied into a separate buffer per level.
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func tag(_ field: Int, _ wireType: WireReader.WireType) {
        varint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    mutating func fixed32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func fixed64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress else { return }
        // A typed buffer takes Array's contiguous (memcpy) path; a raw one goes byte by byte.
        bytes.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: data.count))
    }

    /// Starts a length-delimited value (nested message, packed list, string or bytes) of `field`;
    /// returns the mark to pass to `endLengthDelimited`.
    mutating func beginLengthDelimited(_ field: Int) -> Int {
        tag(field, .lengthDelimited)
        bytes.append(0)
        return bytes.count
    }

    mutating func endLengthDelimited(_ mark: Int) {
        let length = bytes.count - mark
        if length < 0x80 {
            bytes[mark - 1] = UInt8(length)
            return
        }
        var prefixSize = 1
        while UInt64(length) >> (7 * prefixSize) != 0 { prefixSize += 1 }
        // Widen the reserved byte: move the payload up and write the varint in front of it.
        bytes.append(contentsOf: repeatElement(0, count: prefixSize - 1))
        bytes.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            UnsafeMutableRawPointer(base + mark - 1 + prefixSize).copyMemory(from: base + mark, byteCount: length)  // may overlap
            var value = UInt64(length)
            for position in 0..<prefixSize {
                base[mark - 1 + position] = UInt8(truncatingIfNeeded: value) | (position < prefixSize - 1 ? 0x80 : 0)
                value >>= 7
            }
        }
    }

    mutating func append<Bytes: Sequence>(contentsOf data: Bytes) where Bytes.Element == UInt8 { bytes.append(contentsOf: data) }

    /// Appends decoded base64; false when `text` is not base64.
    mutating func appendBase64Decoded(_ text: UnsafeRawBufferPointer) -> Bool {
        ScalarText.decodeBase64(text, appendingTo: &bytes)
    }

    var count: Int { bytes.count }
}

extension WireWriter {
    /// A string field (its tag, length and UTF-8 bytes).
    mutating func string(_ field: Int, _ value: String) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.utf8.count))
        append(contentsOf: value.utf8)
    }

    /// A field with its tag (e.g. one read by WireFields, written back as it was).
    mutating func field(_ number: Int, _ value: WireValue) {
        switch value {
        case .bits(let bits, let wireType):
            let written: WireReader.WireType = wireType == .fixed32 || wireType == .fixed64 ? wireType : .varint
            tag(number, written)
            scalar(bits, written)
        case .payload(let payload):
            tag(number, .lengthDelimited)
            varint(UInt64(payload.count))
            append(payload)
        }
    }

    /// A scalar's bits without a tag (an element of a packed list): fixed width or varint.
    mutating func scalar(_ bits: UInt64, _ wireType: WireReader.WireType) {
        switch wireType {
        case .fixed32: fixed32(UInt32(truncatingIfNeeded: bits))
        case .fixed64: fixed64(bits)
        default: varint(bits)
        }
    }
}

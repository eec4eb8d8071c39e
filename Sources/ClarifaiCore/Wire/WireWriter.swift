/// Writes protobuf binary into a growing buffer. Nested messages are written in place: a
/// one-byte length is reserved and widened afterwards when the message turned out longer, so
/// large payloads are never copied into a separate buffer per level. Noncopyable: it writes
/// through a pointer into raw memory (an Array checked its uniqueness and capacity per byte),
/// its own or an array's being made (see array(capacity:_:)).
struct WireWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int
    /// False while it writes into memory lent to it, until it outgrows it.
    private var ownsMemory = true

    init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    /// Writes into `memory` (an array's, made with room for 16 bytes or more) for as long as the
    /// message fits in it.
    private init(lentMemory memory: UnsafeMutableBufferPointer<UInt8>) {
        base = memory.baseAddress!
        capacity = memory.count
        ownsMemory = false
    }

    deinit { if ownsMemory { base.deallocate() } }

    /// A message written by `build` straight into the array returned, which has room for
    /// `capacity` bytes: no copy unless the message turns out larger (requests carrying
    /// megabytes of image are built this way).
    static func array(capacity: Int, _ build: (inout WireWriter) throws -> Void) rethrows -> [UInt8] {
        try array(capacity: capacity) { (writer: consuming WireWriter) in
            try build(&writer)
            return writer
        }
    }

    /// The same for a builder that keeps the writer while it works (and gives it back).
    static func array(capacity: Int, _ build: (consuming WireWriter) throws -> WireWriter) rethrows -> [UInt8] {
        var outgrown: [UInt8]?
        let written = try [UInt8](unsafeUninitializedCapacity: max(capacity, 16)) { memory, initializedCount in
            let writer = try build(WireWriter(lentMemory: memory))
            if writer.ownsMemory { outgrown = writer.bytes } else { initializedCount = writer.count }
        }
        return outgrown ?? written
    }

    /// What was written, as an array of its own.
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// What was written, handed over: the caller deallocates it.
    consuming func takeBytes() -> UnsafeMutableRawBufferPointer {
        precondition(ownsMemory, "WireWriter.takeBytes: the memory is lent")
        let taken = UnsafeMutableRawBufferPointer(start: base, count: count)
        discard self
        return taken
    }

    /// What was written, lent to `body` (for a reader that copies what it keeps).
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Room for `size` more bytes; returns where they go (count is not moved).
    @inline(__always)
    private mutating func room(_ size: Int) -> UnsafeMutablePointer<UInt8> {
        if size > capacity - count { grow(size) }
        return base + count
    }

    @inline(never)
    private mutating func grow(_ size: Int) {
        let (needed, overflow) = count.addingReportingOverflow(size)
        precondition(!overflow, "WireWriter: message larger than memory")
        let newCapacity = max(needed, capacity * 2)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.initialize(from: base, count: count)
        if ownsMemory { base.deallocate() }
        base = grown
        capacity = newCapacity
        ownsMemory = true
    }

    mutating func byte(_ value: UInt8) {
        room(1).pointee = value
        count += 1
    }

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        // Tags and short lengths, most varints, take one byte.
        if value < 0x80 && count < capacity {
            base[count] = UInt8(truncatingIfNeeded: value)
            count += 1
        } else {
            longVarint(value)
        }
    }

    private mutating func longVarint(_ value: UInt64) {
        let target = room(10)
        var value = value, length = 0
        while value >= 0x80 {
            target[length] = UInt8(truncatingIfNeeded: value) | 0x80
            value >>= 7
            length += 1
        }
        target[length] = UInt8(value)
        count += length + 1
    }

    @inline(__always)
    mutating func tag(_ field: Int, _ wireType: WireReader.WireType) {
        varint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    mutating func fixed32(_ value: UInt32) {
        UnsafeMutableRawPointer(room(4)).storeBytes(of: value.littleEndian, as: UInt32.self)
        count += 4
    }

    mutating func fixed64(_ value: UInt64) {
        UnsafeMutableRawPointer(room(8)).storeBytes(of: value.littleEndian, as: UInt64.self)
        count += 8
    }

    mutating func append(_ data: UnsafeRawBufferPointer) {
        guard let source = data.baseAddress, !data.isEmpty else { return }
        UnsafeMutableRawPointer(room(data.count)).copyMemory(from: source, byteCount: data.count)
        count += data.count
    }

    mutating func append<Bytes: Sequence>(contentsOf data: Bytes) where Bytes.Element == UInt8 {
        if let done = data.withContiguousStorageIfAvailable({ append(UnsafeRawBufferPointer($0)) }) { return done }
        for value in data { byte(value) }
    }

    /// Starts a length-delimited value (nested message, packed list, string or bytes) of `field`;
    /// returns the mark to pass to `endLengthDelimited`.
    mutating func beginLengthDelimited(_ field: Int) -> Int {
        tag(field, .lengthDelimited)
        byte(0)
        return count
    }

    mutating func endLengthDelimited(_ mark: Int) {
        let length = count - mark
        if length < 0x80 {
            base[mark - 1] = UInt8(length)
            return
        }
        var prefixSize = 1
        while UInt64(length) >> (7 * prefixSize) != 0 { prefixSize += 1 }
        // Widen the reserved byte: move the payload up and write the varint in front of it.
        _ = room(prefixSize - 1)
        (base + mark - 1 + prefixSize).update(from: base + mark, count: length)  // may overlap
        count += prefixSize - 1
        var value = UInt64(length)
        for position in 0..<prefixSize {
            base[mark - 1 + position] = UInt8(truncatingIfNeeded: value) | (position < prefixSize - 1 ? 0x80 : 0)
            value >>= 7
        }
    }

    /// Appends decoded base64; false when `text` is not base64 (nothing is appended then).
    mutating func appendBase64Decoded(_ text: UnsafeRawBufferPointer) -> Bool {
        guard let decodedLength = ScalarText.base64DecodedLength(text) else { return false }
        guard ScalarText.decodeBase64(text, into: room(decodedLength)) else { return false }
        count += decodedLength
        return true
    }
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

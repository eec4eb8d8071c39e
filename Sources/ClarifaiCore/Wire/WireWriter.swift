/// Writes protobuf binary into a growing buffer. Nested messages are written in place: a
/// one-byte length is reserved (more when the caller knows the payload is longer) and widened
/// afterwards when the message turned out longer, so large payloads are never copied into a
/// separate buffer per level. Noncopyable: it writes through a pointer into raw memory (an Array
/// checked its uniqueness and capacity per byte), its own or an array's being made (see
/// array(capacity:_:)).
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

    /// Where a length-delimited value's payload starts, and the bytes reserved before it for its
    /// length.
    struct LengthMark {
        fileprivate let payload: Int
        fileprivate let reserved: Int
    }

    /// Starts a length-delimited value (nested message, packed list, string or bytes) of `field`;
    /// returns the mark to pass to `endLengthDelimited`. `payloadAtLeast`: a length the payload is
    /// known to reach (an image's bytes inside it), so that room for its length is reserved now
    /// instead of the payload being moved up afterwards to widen it.
    mutating func beginLengthDelimited(_ field: Int, payloadAtLeast minimum: Int = 0) -> LengthMark {
        tag(field, .lengthDelimited)
        let reserved = WireWriter.varintSize(UInt64(max(minimum, 0)))
        _ = room(reserved)
        count += reserved
        return LengthMark(payload: count, reserved: reserved)
    }

    mutating func endLengthDelimited(_ mark: LengthMark) {
        let length = count - mark.payload
        if length < 0x80 && mark.reserved == 1 {
            base[mark.payload - 1] = UInt8(length)
            return
        }
        // The length in as many bytes as it needs (the official runtime's form): the payload moved
        // when the room reserved was too small (or larger than the length turned out).
        let prefixSize = WireWriter.varintSize(UInt64(length))
        let start = mark.payload - mark.reserved
        if prefixSize != mark.reserved {
            if prefixSize > mark.reserved { _ = room(prefixSize - mark.reserved) }
            (base + start + prefixSize).update(from: base + mark.payload, count: length)  // may overlap
            count += prefixSize - mark.reserved
        }
        var value = UInt64(length)
        for position in 0..<prefixSize {
            base[start + position] = UInt8(truncatingIfNeeded: value) | (position < prefixSize - 1 ? 0x80 : 0)
            value >>= 7
        }
    }

    /// The bytes `value` takes as a varint.
    static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        while value >> (7 * size) != 0 && size < 10 { size += 1 }
        return size
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

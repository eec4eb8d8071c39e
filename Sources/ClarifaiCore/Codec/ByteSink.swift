import Glibc

/// Where the JSON writers (ProtoToJSON, ScalarText, a prediction's request body) append bytes:
/// an Array, or ProtoToJSON's own ByteBuffer.
protocol ByteSink: ~Copyable {
    mutating func append(_ byte: UInt8)
    mutating func append(bytes: UnsafeRawBufferPointer)
    /// Appends what `body` writes at the start it is given: at most `maximum` bytes; it returns
    /// how many.
    mutating func append(writingAtMost maximum: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int)
}

extension ByteSink where Self: ~Copyable {
    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(bytes: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}

extension Array: ByteSink where Element == UInt8 {
    mutating func append(bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        // Through a typed buffer: Array's contiguous fast path.
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }

    mutating func append(writingAtMost maximum: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        let start = count
        append(contentsOf: repeatElement(0, count: maximum))
        let written = withUnsafeMutableBufferPointer { body($0.baseAddress! + start) }
        removeLast(maximum - written)
    }
}

/// The bytes a writer appends, in one block of malloc'd memory that doubles when full: an append
/// checks the room left and nothing else (an Array also checks that it owns its storage alone,
/// and takes a collection through a generic path), and a run of text is one copy. The finished
/// text can be handed over as a C string without a copy (cString()).
struct ByteBuffer: ~Copyable, ByteSink {
    private var start: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        start = ByteBuffer.allocate(self.capacity)
    }

    deinit { free(start) }

    private static func allocate(_ size: Int) -> UnsafeMutablePointer<UInt8> {
        guard let memory = malloc(size) else { fatalError("ByteBuffer: out of memory for \(size) bytes") }
        return memory.assumingMemoryBound(to: UInt8.self)
    }

    /// The bytes written so far, as an Array.
    var array: [UInt8] { Array(UnsafeBufferPointer(start: start, count: count)) }

    /// Where `needed` more bytes go, with room made for them.
    @inline(__always)
    private mutating func room(_ needed: Int) -> UnsafeMutablePointer<UInt8> {
        if capacity - count < needed { grow(needed) }
        return start + count
    }

    private mutating func grow(_ needed: Int) {
        let grownCapacity = max(capacity * 2, count + needed)
        guard let grown = realloc(start, grownCapacity) else { fatalError("ByteBuffer: out of memory for \(grownCapacity) bytes") }
        (start, capacity) = (grown.assumingMemoryBound(to: UInt8.self), grownCapacity)
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        room(1).pointee = byte
        count += 1
    }

    @inline(__always)
    mutating func append(bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        let length = bytes.count
        let target = UnsafeMutableRawPointer(room(length))
        // Most runs are keys and short strings: 4 to 16 bytes as two loads and stores that may
        // overlap, cheaper than a call to memcpy.
        if length >= 8 && length <= 16 {
            target.storeBytes(of: base.loadUnaligned(as: UInt64.self), as: UInt64.self)
            target.storeBytes(of: base.loadUnaligned(fromByteOffset: length - 8, as: UInt64.self), toByteOffset: length - 8, as: UInt64.self)
        } else if length >= 4 && length < 8 {
            target.storeBytes(of: base.loadUnaligned(as: UInt32.self), as: UInt32.self)
            target.storeBytes(of: base.loadUnaligned(fromByteOffset: length - 4, as: UInt32.self), toByteOffset: length - 4, as: UInt32.self)
        } else {
            memcpy(target, base, length)
        }
        count += length
    }

    @inline(__always)
    mutating func append(writingAtMost maximum: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        let written = body(room(maximum))
        precondition(written <= maximum, "ByteBuffer: \(written) bytes written in room for \(maximum)")
        count += written
    }

    /// The text with a NUL after it, in malloc'd memory that the caller frees (free()): the
    /// block itself, given back what it has to spare beyond a quarter of the text (the caller
    /// may keep it long).
    consuming func cString() -> UnsafeMutablePointer<CChar> {
        append(0)
        if capacity - count > count / 4 + 64, let fitted = realloc(start, count) {
            start = fitted.assumingMemoryBound(to: UInt8.self)
        }
        let text = UnsafeMutableRawPointer(start).assumingMemoryBound(to: CChar.self)
        discard self
        return text
    }

    /// Drops the bytes from `position` on.
    mutating func removeLast(from position: Int) {
        count = min(count, max(position, 0))
    }
}

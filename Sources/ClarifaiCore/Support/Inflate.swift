// gzip (RFC 1952) / DEFLATE (RFC 1951) decoding for gRPC messages sent with `grpc-encoding: gzip`.
// zlib may not be linked, so this is a small decoder in the spirit of zlib's puff.c, with a 10-bit
// lookup table in front of the canonical (count/symbol) Huffman decoder for speed.

enum Inflate {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = "gzip: " + description }
    }

    /// Decompresses a gzip member (RFC 1952) holding a DEFLATE stream (RFC 1951); checks the CRC-32 and ISIZE trailer.
    /// Concatenated members decode as one stream, as `gzip -d` treats them.
    /// Refuses output beyond `limit` bytes (a decompression bomb) with a Failure naming the limit.
    static func gunzip(_ data: UnsafeRawBufferPointer, limit: Int) throws(Failure) -> [UInt8] {
        var inflater = Inflater(data, limit: limit)
        repeat { try inflater.member() } while inflater.pos < data.count
        return inflater.output()
    }

    /// CRC-32 tables for slicing by 8: entry k * 256 + n is the CRC of byte n followed by k zero bytes,
    /// so eight input bytes take eight independent lookups instead of a chain of eight.
    static let crcTables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            tables[n] = c
        }
        for index in 256..<tables.count {
            let previous = tables[index - 256]
            tables[index] = previous >> 8 ^ tables[Int(previous & 0xFF)]
        }
        return tables
    }()

    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        crcTables.withUnsafeBufferPointer { t in
            var index = 0
            while index + 8 <= bytes.count {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) ^ UInt64(crc)
                crc = t[7 * 256 + Int(word & 0xFF)] ^ t[6 * 256 + Int(word >> 8 & 0xFF)]
                    ^ t[5 * 256 + Int(word >> 16 & 0xFF)] ^ t[4 * 256 + Int(word >> 24 & 0xFF)]
                    ^ t[3 * 256 + Int(word >> 32 & 0xFF)] ^ t[2 * 256 + Int(word >> 40 & 0xFF)]
                    ^ t[256 + Int(word >> 48 & 0xFF)] ^ t[Int(word >> 56)]
                index += 8
            }
            for byte in bytes[index...] { crc = t[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return ~crc
    }
}

/// A canonical Huffman code: a direct table for codes up to `fastBits` long, and the per-length
/// counts with symbols in code order (puff.c's representation) for the rare longer ones.
private struct Huffman {
    static let fastBits = 10
    /// Indexed by the next `fastBits` input bits: symbol << 4 | code length, or 0 for a longer or unused code.
    var fast = [UInt16](repeating: 0, count: 1 << fastBits)
    var counts = [Int](repeating: 0, count: 16)
    var symbols: [UInt16]

    /// nil when the lengths over-subscribe the code space, or leave it incomplete where that is not
    /// allowed (zlib's rules: only a lone 1-bit code may be incomplete; its unused code fails to decode).
    init?(_ lengths: ArraySlice<UInt8>, complete: Bool = false) {
        for length in lengths { counts[Int(length)] += 1 }
        var left = 1
        for length in 1...15 {
            left = left * 2 - counts[length]
            if left < 0 { return nil }
        }
        if left > 0 && (complete || counts[1] != lengths.count - counts[0]) { return nil }
        var offsets = [Int](repeating: 0, count: 16), next = [Int](repeating: 0, count: 16)
        var code = 0
        for length in 1...15 {
            next[length] = code
            code = (code + counts[length]) << 1
            if length < 15 { offsets[length + 1] = offsets[length] + counts[length] }
        }
        symbols = [UInt16](repeating: 0, count: lengths.count)
        for (symbol, length) in lengths.enumerated() where length != 0 {
            let length = Int(length)
            symbols[offsets[length]] = UInt16(symbol)
            offsets[length] += 1
            if length <= Self.fastBits {
                // DEFLATE sends codes most significant bit first, so the table index is the reversed code.
                var reversed = 0, bits = next[length]
                for _ in 0..<length { reversed = reversed << 1 | bits & 1; bits >>= 1 }
                for index in stride(from: reversed, to: 1 << Self.fastBits, by: 1 << length) {
                    fast[index] = UInt16(symbol << 4 | length)
                }
            }
            next[length] += 1
        }
    }

    /// Decodes bit by bit from the start of `bits` (puff.c's loop); symbol << 4 | length, or 0 for no code.
    func slowDecode(_ bits: UInt64) -> Int {
        var code = 0, first = 0, index = 0
        for length in 1...15 {
            code |= Int(truncatingIfNeeded: bits >> UInt64(length - 1)) & 1
            let count = counts[length]
            if code < first + count { return Int(symbols[index + code - first]) << 4 | length }
            index += count
            first = (first + count) << 1
            code <<= 1
        }
        return 0
    }

    static let fixed = (
        literal: Huffman(ArraySlice((0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 }))!,
        distance: Huffman(ArraySlice(repeating: 5, count: 32))!)   // 30 and 31 are invalid but have codes
    static let lengthBase: [UInt16] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                       35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [UInt16] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385,
                                         513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [UInt8] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
}

private struct Inflater: ~Copyable {
    let input: UnsafeRawBufferPointer
    var pos = 0
    /// Input bits not yet consumed, least significant first. Bits at and above `bitCount` are either
    /// zero or the real input bits that follow, so OR-ing a byte in again is harmless.
    var bitBuffer: UInt64 = 0
    var bitCount = 0
    /// The output is owned manually so that the hot loop writes through a pointer.
    var out: UnsafeMutablePointer<UInt8>
    var count = 0
    var capacity: Int
    let limit: Int
    /// Where the current member's output starts: its CRC and back-references stop there.
    var memberStart = 0

    init(_ input: UnsafeRawBufferPointer, limit: Int) {
        self.input = input
        self.limit = max(limit, 0)
        // ISIZE usually gives the exact size; a lying one can't claim more than DEFLATE's 1032:1 ratio
        // allows, and beyond 64 MiB the buffer grows only as output actually arrives.
        let claimed = input.count >= 4 ? Int(input.loadUnaligned(fromByteOffset: input.count - 4, as: UInt32.self).littleEndian) : 0
        capacity = min(self.limit, max(256, min(claimed, input.count * 1032, 1 << 26)))
        out = .allocate(capacity: capacity + 8)   // slack for the 8-byte match copy
    }

    deinit { out.deallocate() }

    func output() -> [UInt8] { Array(UnsafeBufferPointer(start: out, count: count)) }

    static let truncated = Inflate.Failure("truncated data")

    // MARK: Output

    @inline(__always) mutating func reserve(_ n: Int) throws(Inflate.Failure) {
        if count + n > capacity { try grow(n) }
    }

    mutating func grow(_ n: Int) throws(Inflate.Failure) {
        guard count + n <= limit else { throw Inflate.Failure("decompressed message exceeds the receive limit of \(limit) bytes") }
        capacity = min(max(capacity * 2, count + n), limit)
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + 8)
        bigger.initialize(from: out, count: count)
        out.deallocate()
        out = bigger
    }

    // MARK: Input

    /// Tops the bit buffer up to at least 56 bits, or as far as the input goes. Call only with bitCount < 32.
    @inline(__always) mutating func refill() {
        if pos + 8 <= input.count {
            // One unaligned load; only the whole bytes that fit are counted as consumed.
            bitBuffer |= UInt64(littleEndian: input.loadUnaligned(fromByteOffset: pos, as: UInt64.self)) << UInt64(bitCount)
            pos += (63 - bitCount) >> 3
            bitCount |= 56
        } else {
            while bitCount <= 56 && pos < input.count {
                bitBuffer |= UInt64(input[pos]) << UInt64(bitCount)
                pos += 1
                bitCount += 8
            }
        }
    }

    @inline(__always) mutating func bits(_ n: Int) throws(Inflate.Failure) -> Int {
        if bitCount < n { try fill(n) }
        let value = Int(truncatingIfNeeded: bitBuffer) & ((1 << n) - 1)
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return value
    }

    // The rare paths stay out of line so that the hot loop stays small.
    @inline(never) mutating func fill(_ n: Int) throws(Inflate.Failure) {
        refill()
        guard bitCount >= n else { throw Self.truncated }
    }

    @inline(__always) mutating func decode(_ code: borrowing Huffman) throws(Inflate.Failure) -> Int {
        if bitCount < 15 { refill() }
        var entry = Int(code.fast[Int(truncatingIfNeeded: bitBuffer) & (1 << Huffman.fastBits - 1)])
        if entry & 15 == 0 || entry & 15 > bitCount { entry = try decodeLong(code) }
        bitBuffer >>= UInt64(entry & 15)
        bitCount -= entry & 15
        return entry >> 4
    }

    @inline(never) func decodeLong(_ code: borrowing Huffman) throws(Inflate.Failure) -> Int {
        let entry = code.slowDecode(bitBuffer)
        guard entry != 0 else { throw Inflate.Failure("invalid Huffman code") }
        // Near the end the lookup may have seen zero padding: the code must lie within real input.
        guard entry & 15 <= bitCount else { throw Self.truncated }
        return entry
    }

    /// Drops the rest of the current byte and hands the whole bytes still buffered back to the input.
    mutating func alignToByte() {
        pos -= bitCount >> 3
        bitBuffer = 0
        bitCount = 0
    }

    mutating func byte() throws(Inflate.Failure) -> Int {
        guard pos < input.count else { throw Self.truncated }
        defer { pos += 1 }
        return Int(input[pos])
    }

    mutating func twoBytes() throws(Inflate.Failure) -> Int {
        let low = try byte()
        return try low | byte() << 8
    }

    mutating func skip(_ n: Int) throws(Inflate.Failure) {
        guard n <= input.count - pos else { throw Self.truncated }
        pos += n
    }

    // MARK: gzip

    mutating func member() throws(Inflate.Failure) {
        let start = pos
        guard try byte() == 0x1F, try byte() == 0x8B else { throw Inflate.Failure("not gzip data") }
        guard try byte() == 8 else { throw Inflate.Failure("unknown compression method") }
        let flags = try byte()
        guard flags & 0xE0 == 0 else { throw Inflate.Failure("reserved header flags set") }
        try skip(6)                                                     // MTIME, XFL, OS
        if flags & 4 != 0 { try skip(try twoBytes()) }                 // FEXTRA
        for flag in [8, 16] where flags & flag != 0 {                   // FNAME, FCOMMENT: zero-terminated
            while try byte() != 0 {}
        }
        if flags & 2 != 0 {                                             // FHCRC: low half of the header's CRC-32
            let expected = Int(Inflate.crc32(UnsafeRawBufferPointer(rebasing: input[start..<pos])) & 0xFFFF)
            guard try twoBytes() == expected else { throw Inflate.Failure("header CRC mismatch") }
        }

        memberStart = count
        var last = false
        repeat {
            last = try bits(1) == 1
            switch try bits(2) {
            case 0: try stored()
            case 1: try codes(Huffman.fixed.literal, Huffman.fixed.distance)
            case 2: try dynamic()
            default: throw Inflate.Failure("invalid block type")
            }
        } while !last

        alignToByte()
        guard pos + 8 <= input.count else { throw Self.truncated }
        let crc = UInt32(littleEndian: input.loadUnaligned(fromByteOffset: pos, as: UInt32.self))
        let size = UInt32(littleEndian: input.loadUnaligned(fromByteOffset: pos + 4, as: UInt32.self))
        pos += 8
        guard crc == Inflate.crc32(UnsafeRawBufferPointer(start: out + memberStart, count: count - memberStart)) else {
            throw Inflate.Failure("CRC-32 mismatch")
        }
        guard size == UInt32(truncatingIfNeeded: count - memberStart) else { throw Inflate.Failure("length mismatch") }
    }

    // MARK: DEFLATE blocks

    mutating func stored() throws(Inflate.Failure) {
        alignToByte()
        guard pos + 4 <= input.count else { throw Self.truncated }
        let length = Int(input[pos]) | Int(input[pos + 1]) << 8
        guard length ^ 0xFFFF == Int(input[pos + 2]) | Int(input[pos + 3]) << 8 else {
            throw Inflate.Failure("stored block length check failed")
        }
        pos += 4
        guard length <= input.count - pos else { throw Self.truncated }
        try reserve(length)
        UnsafeMutableRawPointer(out + count).copyMemory(from: input.baseAddress! + pos, byteCount: length)
        pos += length
        count += length
    }

    mutating func dynamic() throws(Inflate.Failure) {
        let literals = try bits(5) + 257, distances = try bits(5) + 1, codeLengths = try bits(4) + 4
        guard literals <= 286, distances <= 30 else { throw Inflate.Failure("too many length or distance codes") }
        var lengths = [UInt8](repeating: 0, count: 19)
        for index in 0..<codeLengths { lengths[Huffman.codeLengthOrder[index]] = UInt8(try bits(3)) }
        guard let lengthCode = Huffman(lengths[...], complete: true) else { throw Inflate.Failure("invalid code length code") }
        lengths = [UInt8](repeating: 0, count: literals + distances)
        var index = 0
        while index < lengths.count {
            let symbol = try decode(lengthCode)
            if symbol < 16 {
                lengths[index] = UInt8(symbol)
                index += 1
                continue
            }
            guard symbol != 16 || index > 0 else { throw Inflate.Failure("repeated code length without a previous one") }
            let value = symbol == 16 ? lengths[index - 1] : 0
            let run = symbol == 16 ? 3 + (try bits(2)) : symbol == 17 ? 3 + (try bits(3)) : 11 + (try bits(7))
            guard run <= lengths.count - index else { throw Inflate.Failure("too many code lengths") }
            for _ in 0..<run {
                lengths[index] = value
                index += 1
            }
        }
        guard lengths[256] != 0 else { throw Inflate.Failure("missing end-of-block code") }
        guard let literal = Huffman(lengths[..<literals]), let distance = Huffman(lengths[literals...]) else {
            throw Inflate.Failure("invalid literal/length or distance code lengths")
        }
        try codes(literal, distance)
    }

    /// Decodes one compressed block: the hot loop.
    mutating func codes(_ literal: borrowing Huffman, _ distance: borrowing Huffman) throws(Inflate.Failure) {
        let lengthBase = Huffman.lengthBase, lengthExtra = Huffman.lengthExtra
        let distanceBase = Huffman.distanceBase, distanceExtra = Huffman.distanceExtra
        while true {
            let symbol = try decode(literal)
            if symbol < 256 {
                try reserve(1)
                out[count] = UInt8(truncatingIfNeeded: symbol)
                count += 1
                continue
            }
            if symbol == 256 { return }
            guard symbol < 286 else { throw Inflate.Failure("invalid length code") }
            let length = Int(lengthBase[symbol - 257]) + (try bits(Int(lengthExtra[symbol - 257])))
            let code = try decode(distance)
            guard code < 30 else { throw Inflate.Failure("invalid distance code") }
            let back = Int(distanceBase[code]) + (try bits(Int(distanceExtra[code])))
            guard back <= count - memberStart else { throw Inflate.Failure("distance too far back") }
            try reserve(length)
            let to = out + count, from = to - back
            if back >= 8 {
                // Eight bytes at a time, each read complete before it is written; may spill up to 7 bytes
                // into the allocation's slack, which later output overwrites.
                for index in stride(from: 0, to: length, by: 8) {
                    let word = UnsafeRawPointer(from + index).loadUnaligned(as: UInt64.self)
                    UnsafeMutableRawPointer(to + index).storeBytes(of: word, as: UInt64.self)
                }
            } else {
                // A short period (a run): the copy reads bytes it has just written.
                for index in 0..<length { to[index] = from[index] }
            }
            count += length
        }
    }
}

import Glibc

/// A pull parser over JSON text (RFC 8259) for the transcoder: it hands out values one by one
/// without building a tree, keeps numbers as their exact text (so that a uint64 above 2^63 is not
/// rounded), and checks UTF-8.
struct JSONReader {
    enum ValueKind { case object, array, string, number, bool, null }

    struct SyntaxError: Error { let message: String }

    /// The text's bytes (a valid pointer even for empty text) and their count: read through
    /// these rather than an UnsafeRawBufferPointer, whose every access unwraps its base address.
    private let base: UnsafeRawPointer
    private let count: Int
    /// Where the reader is; set back by readers that try a form and give up.
    var offset = 0

    /// Reads `text` from byte `start` on (a value found in an earlier pass).
    init(_ text: UnsafeRawBufferPointer, from start: Int = 0) {
        base = text.baseAddress ?? UnsafeRawPointer(JSONReader.emptyText)
        count = text.count
        offset = start
    }

    /// The whole text read.
    var text: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Stands for the base of empty text, which is never read.
    nonisolated(unsafe) private static let emptyText = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

    @inline(__always)
    private func at(_ index: Int) -> UInt8 { base.load(fromByteOffset: index, as: UInt8.self) }

    private func fail(_ message: String) -> SyntaxError { SyntaxError(message: "invalid JSON at byte \(offset): \(message)") }

    mutating func skipWhitespace() {
        while offset < count {
            switch at(offset) {
            case 0x20, 0x0A, 0x0D, 0x09: offset += 1
            default: return
            }
        }
    }

    /// The kind of the next value (after whitespace).
    mutating func peekKind() throws -> ValueKind {
        skipWhitespace()
        guard offset < count else { throw fail("unexpected end of text") }
        switch at(offset) {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw fail("unexpected character '\(Character(UnicodeScalar(at(offset))))'")
        }
    }

    /// The next byte after whitespace, nil at the end of the text: which value follows, for
    /// readers that expect one kind.
    @inline(__always)
    mutating func peekByte() -> UInt8? {
        skipWhitespace()
        return offset < count ? at(offset) : nil
    }

    mutating func expectEnd() throws {
        skipWhitespace()
        guard offset == count else { throw fail("text after the end of the value") }
    }

    @inline(__always)
    private mutating func consume(_ byte: UInt8) throws {
        if offset < count, at(offset) == byte {
            offset += 1
            return
        }
        skipWhitespace()
        guard offset < count, at(offset) == byte else {
            throw fail("expected '\(Character(UnicodeScalar(byte)))'")
        }
        offset += 1
    }

    /// Reads `byte` when it comes next (after whitespace).
    @inline(__always)
    mutating func consumeIf(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard offset < count, at(offset) == byte else { return false }
        offset += 1
        return true
    }

    // MARK: Containers

    /// Reads `{`; then call `nextKey` until it returns nil.
    mutating func beginObject() throws { try consume(UInt8(ascii: "{")) }

    /// Reads the next member's key into `key` (its `:` consumed); false after the closing `}`.
    mutating func nextKey(first: inout Bool, into key: inout [UInt8]) throws -> Bool {
        guard try startKey(first: &first) else { return false }
        try readString(into: &key)
        try consume(UInt8(ascii: ":"))
        return true
    }

    /// Steps to the next member of an object (over its `,`); false after the closing `}`. Then
    /// skipKey or readKey reads its key.
    @inline(__always)
    mutating func nextMember(first: inout Bool) throws -> Bool { try startKey(first: &first) }

    /// Steps over the member's key (and its `:`) when it is `expected` written without escapes;
    /// false, nothing read, otherwise. A reader that knows which key usually comes next (the
    /// next field of a message) checks it in one comparison instead of reading it and looking
    /// it up. `quoted`: quotedKey(expected), for a short key compared as one word.
    @inline(__always)
    mutating func skipKey(_ expected: UnsafeRawBufferPointer, quoted: UInt64) -> Bool {
        skipWhitespace()
        let length = expected.count
        if quoted != 0, count - offset >= 8 {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            // The bytes up to the closing quote, the highest of `quoted`.
            guard word & (UInt64.max >> (quoted.leadingZeroBitCount & ~7)) == quoted else { return false }
        } else {
            guard length > 0, count - offset > length + 2, at(offset) == UInt8(ascii: "\""),
                  at(offset + length + 1) == UInt8(ascii: "\""),
                  memcmp(base + offset + 1, expected.baseAddress!, length) == 0 else { return false }
        }
        let start = offset
        offset += length + 2
        if offset < count, at(offset) == UInt8(ascii: ":") {  // the usual form: no space before the colon
            offset += 1
            return true
        }
        skipWhitespace()
        guard offset < count, at(offset) == UInt8(ascii: ":") else {
            offset = start
            return false
        }
        offset += 1
        return true
    }

    /// The member's key (its `:` consumed) as a slice of the text, or decoded into `scratch` when
    /// it has escapes (see readString(orDecodeInto:)).
    mutating func readKey(orDecodeInto scratch: inout [UInt8]) throws -> StringRead {
        let read = try readString(orDecodeInto: &scratch)
        try consume(UInt8(ascii: ":"))
        return read
    }

    enum StringRead {
        /// The string's bytes, in the text itself (it had no escapes).
        case slice(UnsafeRawBufferPointer)
        /// The string had escapes: its decoded bytes are in the scratch buffer.
        case decoded
    }

    /// Steps to the start of the next key; false after the closing `}`.
    @inline(__always)
    private mutating func startKey(first: inout Bool) throws -> Bool {
        if consumeIf(UInt8(ascii: "}")) { return false }
        // A trailing comma fails below: a key must follow it.
        if !first { try consume(UInt8(ascii: ",")) }
        first = false
        return true
    }

    /// The next member's key as a String (its `:` consumed), or nil after the closing `}`.
    mutating func nextKey(first: inout Bool) throws -> String? {
        var key: [UInt8] = []
        return try nextKey(first: &first, into: &key) ? String(decoding: key, as: UTF8.self) : nil
    }

    mutating func beginArray() throws { try consume(UInt8(ascii: "[")) }

    /// Whether another element follows (its separator consumed); false after the closing `]`.
    mutating func nextElement(first: inout Bool) throws -> Bool {
        if consumeIf(UInt8(ascii: "]")) { return false }
        if !first { try consume(UInt8(ascii: ",")) }
        first = false
        return true
    }

    /// Steps over one whole value of any kind, checking its syntax (strings are copied only when
    /// they have escapes, to check those).
    mutating func skipValue(depth: Int = 0) throws {
        guard depth < 1000 else { throw fail("values nested too deeply") }
        var scratch: [UInt8] = []
        switch try peekKind() {
        case .object:
            try beginObject()
            var first = true
            while try nextMember(first: &first) {
                _ = try readKey(orDecodeInto: &scratch)
                try skipValue(depth: depth + 1)
            }
        case .array:
            try beginArray()
            var first = true
            while try nextElement(first: &first) { try skipValue(depth: depth + 1) }
        case .string: _ = try readString(orDecodeInto: &scratch)
        case .number: _ = try readNumber()
        case .bool: _ = try readBool()
        case .null: try readNull()
        }
    }

    /// Steps over one value by its brackets and quotes alone, without checking its syntax: for
    /// values that a later reading checks (RESTAnswer). False when the text ends before the value
    /// does.
    mutating func skipStructure() -> Bool {
        skipWhitespace()
        guard offset < count else { return false }
        var index = offset
        switch at(index) {
        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\""):
            break
        default:
            // A number or literal: up to the comma, bracket or space after it.
            while index < count {
                switch at(index) {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: break
                default:
                    index += 1
                    continue
                }
                break
            }
            offset = index
            return true
        }
        var depth = 0
        while index < count {
            let byte = at(index)
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let end = endOfString(from: index) else { return false }
                index = end
                guard depth > 0 else {
                    offset = index
                    return true
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    offset = index
                    return true
                }
            default:
                break
            }
        }
        return false
    }

    /// Past the quote that ends the string whose contents start at `start` (escapes stepped over,
    /// not checked); nil when the text ends first.
    @inline(__always)
    private func endOfString(from start: Int) -> Int? {
        var index = start
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while true {
            // Eight bytes at a time while none is a quote or a backslash.
            while index + 8 <= count {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let quote = word ^ (ones &* UInt64(UInt8(ascii: "\""))), backslash = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
                let found = (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)) & highs
                guard found == 0 else {
                    index += found.trailingZeroBitCount / 8
                    break
                }
                index += 8
            }
            while index < count, at(index) != UInt8(ascii: "\""), at(index) != UInt8(ascii: "\\") { index += 1 }
            guard index < count else { return nil }
            if at(index) == UInt8(ascii: "\"") { return index + 1 }
            index += 2
        }
    }

    // MARK: Scalars

    mutating func readNull() throws { try literal("null") }

    mutating func readBool() throws -> Bool {
        skipWhitespace()
        if offset < count, at(offset) == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        try literal("false")
        return false
    }

    private mutating func literal(_ word: StaticString) throws {
        skipWhitespace()
        let length = word.utf8CodeUnitCount
        guard offset + length <= count,
              memcmp(base + offset, word.utf8Start, length) == 0 else { throw fail("expected \(word)") }
        offset += length
    }

    /// Text of at most 16 bytes that a form servers write puts between two values (e.g.
    /// `", "name": "`), compared in place by skipPlainText in two words.
    struct PlainText: Sendable {
        let length: Int
        let words: (UInt64, UInt64)
        let masks: (UInt64, UInt64)

        init(_ text: String) {
            let bytes = Array(text.utf8)
            guard bytes.count <= 16 else {
                // Longer text never matches (no bytes masked equal a word that is not 0): the
                // general readers take it.
                (length, words, masks) = (0, (1, 1), (0, 0))
                return
            }
            func word(_ bytes: ArraySlice<UInt8>) -> (word: UInt64, mask: UInt64) {
                bytes.enumerated().reduce((0, 0)) { sum, byte in
                    (sum.word | UInt64(byte.element) << (8 * byte.offset), sum.mask | 0xFF << (8 * byte.offset))
                }
            }
            let (low, high) = (word(bytes.prefix(8)), word(bytes.dropFirst(8)))
            (length, words, masks) = (bytes.count, (low.word, high.word), (low.mask, high.mask))
        }

        /// `compact` as Go's encoders write it, or with `spaced` as Python's json module writes it:
        /// a space after each colon and comma (the text's separators: it holds no string's
        /// contents).
        init(_ compact: String, spaced: Bool) {
            self.init(spaced ? String(compact.flatMap { $0 == ":" || $0 == "," ? [$0, " "] : [$0] }) : compact)
        }
    }

    /// Steps over `text`; false, nothing read, for any other text, or with 16 bytes or fewer left
    /// (the general readers take those): two word comparisons, for readers of the form servers
    /// write.
    @inline(__always)
    mutating func skipPlainText(_ text: PlainText) -> Bool {
        // (Offsets never pass the text's count: wrapping arithmetic, without overflow checks.)
        guard count &- offset > 16 else { return false }
        let low = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let high = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt64.self))
        guard low & text.masks.0 == text.words.0, high & text.masks.1 == text.words.1 else { return false }
        offset &+= text.length
        return true
    }

    /// An integer of 1 to 9 digits without sign, fraction or exponent (a status code), the reader
    /// past it; nil, nothing read, for any other number (readNumber reads those).
    @inline(__always)
    mutating func readPlainInteger() -> Int? {
        var index = offset, value = 0
        while index < count, index - offset < 10, case let digit = at(index) &- UInt8(ascii: "0"), digit < 10 {
            value = value &* 10 &+ Int(digit)
            index += 1
        }
        let length = index - offset
        guard length > 0, length < 10, length == 1 || at(offset) != UInt8(ascii: "0"), index < count,
              at(index) != UInt8(ascii: "."), at(index) | 0x20 != UInt8(ascii: "e") else { return nil }
        offset = index
        return value
    }

    /// Steps over a space when one comes next (as between the elements of an array servers write).
    @inline(__always)
    mutating func skipPlainSpace() {
        if offset < count, at(offset) == 0x20 { offset += 1 }
    }

    /// Steps over `first` and `second` when they come next (no whitespace before either).
    @inline(__always)
    mutating func skipPlainBytes(_ first: UInt8, _ second: UInt8) -> Bool {
        guard count &- offset >= 2, at(offset) == first, at(offset &+ 1) == second else { return false }
        offset &+= 2
        return true
    }

    /// A key of at most 6 bytes in quotes, as the little-endian word of its 8 or fewer bytes that
    /// skipKey compares at once; 0 for a longer or empty key.
    static func quotedKey(_ name: [UInt8]) -> UInt64 {
        guard (1...6).contains(name.count) else { return 0 }
        return ([UInt8(ascii: "\"")] + name + [UInt8(ascii: "\"")]).enumerated().reduce(0) { word, byte in
            word | UInt64(byte.element) << (8 * byte.offset)
        }
    }

    /// Reads a run of digits into `number` (see JSONNumber); returns how many there were.
    @inline(__always)
    private mutating func digits(_ number: inout JSONNumber, fraction: Bool) -> Int {
        let begin = offset
        // Up to eight digits at once from a word, while all of them go into the mantissa (most
        // numbers' parts are that short): the digits found with a mask, converted with a few
        // multiplications. Near the end of the text, and past exactDigits, one at a time below.
        while offset + 8 <= count {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            let nonDigits = ((word & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030)
                | (((word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030)
            let length = nonDigits.trailingZeroBitCount / 8  // the digits before any other byte
            guard length > 0, number.significantDigits + length <= JSONNumber.exactDigits else { break }
            let value = JSONReader.digitsValue(word, length)
            // The number's leading zeros are not significant.
            number.significantDigits += number.mantissa != 0 ? length : JSONReader.significantDigits(word, length)
            number.mantissa = number.mantissa &* JSONNumber.integerPowersOfTen[length] &+ value
            if fraction { number.scale -= length }
            offset += length
            if length < 8 { return offset - begin }
        }
        while offset < count {
            let digit = at(offset) &- UInt8(ascii: "0")
            guard digit < 10 else { break }
            if number.mantissa != 0 || digit != 0 { number.significantDigits += 1 }
            // Past 15 digits the fast path is off (JSONNumber.double): the mantissa stops.
            if number.significantDigits <= JSONNumber.exactDigits {
                number.mantissa = number.mantissa &* 10 &+ UInt64(digit)
                if fraction { number.scale -= 1 }
            }
            offset += 1
        }
        return offset - begin
    }

    /// A number of the form 0.d to 0.dddddddd (what scores between 0 and 1 look like) as the
    /// nearest double, read in one word; nil, nothing read, for any other number or near the end
    /// of the text (readNumber reads those). The same value as readNumber's (Clinger's fast path:
    /// at most 8 digits, an exact power of ten).
    @inline(__always)
    mutating func readPlainFraction() -> Double? {
        // "0.", eight more bytes, and the one after them (a ninth digit would be part of it).
        guard count &- offset >= 11, at(offset) == UInt8(ascii: "0"), at(offset &+ 1) == UInt8(ascii: ".") else { return nil }
        let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset &+ 2, as: UInt64.self))
        let nonDigits = ((word & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030)
            | (((word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030)
        let length = nonDigits.trailingZeroBitCount &>> 3
        let next = at(offset &+ 2 &+ length)
        guard length > 0, next &- UInt8(ascii: "0") >= 10, next | 0x20 != UInt8(ascii: "e") else { return nil }
        offset &+= 2 &+ length
        return Double(JSONReader.digitsValue(word, length)) / JSONNumber.fractionScales[length]
    }

    /// The value of the `length` (1 to 8) digits at the start of `word`, converted together: the
    /// digits moved to the top bytes, the first digit lowest (the zeros below count as leading
    /// zeros, which change nothing), then pairs, fours and eights of digits combined by
    /// multiplications.
    @inline(__always)
    private static func digitsValue(_ word: UInt64, _ length: Int) -> UInt64 {
        let digitBytes = (word & 0x0F0F_0F0F_0F0F_0F0F) << (64 - 8 * length)
        var value = (digitBytes &* 2561) >> 8
        value = ((value & 0x00FF_00FF_00FF_00FF) &* 6_553_601) >> 16
        return ((value & 0x0000_FFFF_0000_FFFF) &* 42_949_672_960_001) >> 32
    }

    /// How many of the `length` digits at the start of `word` follow its leading zeros.
    @inline(__always)
    private static func significantDigits(_ word: UInt64, _ length: Int) -> Int {
        8 - ((word & 0x0F0F_0F0F_0F0F_0F0F) << (64 - 8 * length)).trailingZeroBitCount / 8
    }

    /// A number read and checked against the JSON grammar: its exact text, and its decimal digits
    /// gathered on the way for the nearest double (see JSONNumber.double).
    mutating func readNumber() throws -> JSONNumber {
        skipWhitespace()
        let start = offset
        var number = JSONNumber()
        if offset < count, at(offset) == UInt8(ascii: "-") {
            number.negative = true
            offset += 1
        }
        let integerStart = offset
        let integerDigits = digits(&number, fraction: false)
        guard integerDigits > 0 else { throw fail("a number needs digits") }
        guard integerDigits == 1 || at(integerStart) != UInt8(ascii: "0") else { throw fail("leading zero in a number") }
        if offset < count, at(offset) == UInt8(ascii: ".") {
            offset += 1
            guard digits(&number, fraction: true) > 0 else { throw fail("digits expected after '.'") }
        }
        if offset < count, at(offset) == UInt8(ascii: "e") || at(offset) == UInt8(ascii: "E") {
            offset += 1
            var negativeExponent = false
            if offset < count, at(offset) == UInt8(ascii: "+") || at(offset) == UInt8(ascii: "-") {
                negativeExponent = at(offset) == UInt8(ascii: "-")
                offset += 1
            }
            let exponentStart = offset
            var exponent = 0
            while offset < count, at(offset) &- UInt8(ascii: "0") < 10 {
                // Beyond 9999 the exponent only matters to the full parser.
                if exponent < 10_000 { exponent = exponent * 10 + Int(at(offset) &- UInt8(ascii: "0")) }
                offset += 1
            }
            guard offset > exponentStart else { throw fail("digits expected in the exponent") }
            number.scale += negativeExponent ? -exponent : exponent
        }
        number.text = UnsafeRawBufferPointer(start: base + start, count: offset - start)
        return number
    }

    /// Reads a string. Without escapes (the usual case) it is returned as a slice of the text,
    /// nothing copied; with escapes it is decoded into `scratch` (.decoded).
    mutating func readString(orDecodeInto scratch: inout [UInt8]) throws -> StringRead {
        try consume(UInt8(ascii: "\""))
        let start = offset
        while true {
            skipPlainASCII()
            guard offset < count else { throw fail("unterminated string") }
            switch at(offset) {
            case UInt8(ascii: "\""):
                offset += 1
                return .slice(UnsafeRawBufferPointer(start: base + start, count: offset - 1 - start))
            case UInt8(ascii: "\\"):
                offset = start - 1
                try readString(into: &scratch)
                return .decoded
            case 0..<0x20:
                throw fail("control character in a string")
            default:
                try skipUTF8Sequence()
            }
        }
    }

    /// A string without escapes, control or non-ASCII characters as a slice of the text (the
    /// reader past it); nil, nothing read, for any other value.
    @inline(__always)
    mutating func readPlainString() -> UnsafeRawBufferPointer? {
        guard peekByte() == UInt8(ascii: "\"") else { return nil }
        offset += 1
        guard let text = readPlainStringRest() else {
            offset -= 1
            return nil
        }
        offset += 1
        return text
    }

    /// The rest of a string whose opening quote was read, as readPlainString takes it, the
    /// reader left at its closing quote; nil, nothing read, for any other string.
    @inline(__always)
    mutating func readPlainStringRest() -> UnsafeRawBufferPointer? {
        let start = offset
        skipPlainASCII()
        guard offset < count, at(offset) == UInt8(ascii: "\"") else {
            offset = start
            return nil
        }
        return UnsafeRawBufferPointer(start: base + start, count: offset - start)
    }

    /// Steps over bytes that need no look in a string: ASCII but quote, backslash and control characters.
    @inline(__always)
    private mutating func skipPlainASCII() {
        var index = offset
        let end = count
        // Eight bytes at a time while none is special (a byte-wise "has zero" / "has less than" test).
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        // (Offsets never pass the text's count: wrapping arithmetic, without overflow checks.)
        while index &+ 8 <= end {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let quote = word ^ (ones &* UInt64(UInt8(ascii: "\""))), backslash = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
            let control = (word &- ones &* 0x20) & ~word
            let special = (control | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | word) & highs
            // The lowest flagged byte is exact (borrows only flag bytes above it): the first special one.
            guard special == 0 else {
                offset = index &+ special.trailingZeroBitCount &>> 3
                return
            }
            index &+= 8
        }
        while index < end {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") else { break }
            index += 1
        }
        offset = index
    }

    /// Reads a string into `output` (cleared first) as UTF-8 bytes, escapes decoded.
    mutating func readString(into output: inout [UInt8]) throws {
        try consume(UInt8(ascii: "\""))
        output.removeAll(keepingCapacity: true)
        var runStart = offset
        while true {
            skipPlainASCII()
            guard offset < count else { throw fail("unterminated string") }
            let byte = at(offset)
            switch byte {
            case UInt8(ascii: "\""):
                appendRun(from: runStart, to: &output)
                offset += 1
                return
            case UInt8(ascii: "\\"):
                appendRun(from: runStart, to: &output)
                offset += 1
                try readEscape(into: &output)
                runStart = offset
            case 0..<0x20:
                throw fail("control character in a string")
            case 0x80...:
                try skipUTF8Sequence()
            default:
                offset += 1
            }
        }
    }

    /// Appends the text's bytes start..<offset (through a typed buffer: Array's contiguous fast path).
    private func appendRun(from start: Int, to output: inout [UInt8]) {
        guard offset > start else { return }
        output.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self) + start,
                                                      count: offset - start))
    }

    private mutating func readEscape(into output: inout [UInt8]) throws {
        guard offset < count else { throw fail("unterminated escape") }
        let byte = at(offset)
        offset += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard offset + 1 < count, at(offset) == UInt8(ascii: "\\"), at(offset + 1) == UInt8(ascii: "u") else {
                    throw fail("unpaired surrogate in \\u escape")
                }
                offset += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw fail("unpaired surrogate in \\u escape")
            }
            guard let unicode = UnicodeScalar(scalar) else { throw fail("invalid \\u escape") }
            output.append(contentsOf: String(Character(unicode)).utf8)
        default:
            throw fail("invalid escape '\\\(Character(UnicodeScalar(byte)))'")
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard offset + 4 <= count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = at(offset)
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            offset += 1
        }
        return value
    }

    /// Steps over one multi-byte UTF-8 sequence, rejecting malformed, overlong and surrogate forms.
    private mutating func skipUTF8Sequence() throws {
        let lead = at(offset)
        let length: Int, minimum: UInt32
        switch lead {
        case 0xC2...0xDF: (length, minimum) = (2, 0x80)
        case 0xE0...0xEF: (length, minimum) = (3, 0x800)
        case 0xF0...0xF4: (length, minimum) = (4, 0x10000)
        default: throw fail("invalid UTF-8")
        }
        guard offset + length <= count else { throw fail("invalid UTF-8") }
        var scalar = UInt32(lead) & (0xFF >> (length + 1))
        for index in 1..<length {
            let next = at(offset + index)
            guard next & 0xC0 == 0x80 else { throw fail("invalid UTF-8") }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800..<0xE000).contains(scalar) else { throw fail("invalid UTF-8") }
        offset += length
    }
}

/// A JSON number as read: its text, and the value's decimal form (sign, up to 15 significant
/// digits, a power of ten) for Clinger's fast path.
struct JSONNumber {
    var text = UnsafeRawBufferPointer(start: nil, count: 0)
    var negative = false
    var mantissa: UInt64 = 0
    var significantDigits = 0
    var scale = 0

    /// Digits that fit in 2^53, so that the mantissa is an exact double.
    static let exactDigits = 15

    /// The nearest double. Clinger's fast path: a mantissa below 2^53 scaled by a power of ten up
    /// to 10^22 are both exact doubles, so one multiplication or division rounds correctly; Swift's
    /// full parser (locale-independent) reads the rest.
    var double: Double {
        if significantDigits <= JSONNumber.exactDigits, (-22...22).contains(scale) {
            var value = Double(mantissa)
            if scale < 0 { value /= JSONNumber.powersOfTen[-scale] } else { value *= JSONNumber.powersOfTen[scale] }
            return negative ? -value : value
        }
        return Double(String(decoding: text, as: UTF8.self)) ?? .nan
    }

    /// A number token's value as the official parser reads it: a token without fraction or
    /// exponent is an integer there, so "-0" is 0, not -0.0 (a number written in a string is read
    /// as a float there: its "-0" is -0.0, as `double` gives).
    var tokenValue: Double {
        let value = double
        guard value == 0, negative else { return value }
        return text.contains { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") } ? value : 0
    }

    /// 10^0 through 10^8 as doubles, for readPlainFraction (a literal: no lazy initialization to
    /// check on every use).
    static let fractionScales: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8]

    /// 10^0 through 10^8, for the digits read eight at a time.
    static let integerPowersOfTen: [UInt64] = [1, 10, 100, 1000, 10000, 100_000, 1_000_000, 10_000_000, 100_000_000]

    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }
}

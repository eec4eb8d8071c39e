/// Text forms of scalar values in proto3 JSON: integers, floats, base64, timestamps, durations.
enum ScalarText {
    // MARK: Numbers

    /// An integer written as digits with an optional sign; nil when malformed or beyond 64 bits.
    static func integer(_ text: UnsafeRawBufferPointer) -> (negative: Bool, magnitude: UInt64)? {
        var index = 0
        var negative = false
        if index < text.count, text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: "+") {
            negative = text[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < text.count else { return nil }
        var magnitude: UInt64 = 0
        while index < text.count {
            let digit = text[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1 && !overflow2 else { return nil }
            magnitude = sum
            index += 1
        }
        return (negative, magnitude)
    }

    /// A decimal number in JSON's grammar (no hex, no "inf", nothing after it); nil otherwise.
    static func double(_ text: UnsafeRawBufferPointer) -> Double? {
        var reader = JSONReader(text)
        // readNumber steps over leading whitespace, which a number in a string may not have.
        guard let first = text.first, first == UInt8(ascii: "-") || first &- UInt8(ascii: "0") < 10,
              let number = try? reader.readNumber(), reader.offset == text.count else { return nil }
        return number.double
    }

    /// Shortest text that reads back to the same Float (not the same Double).
    static func append<Sink: ByteSink & ~Copyable>(_ value: Float, to output: inout Sink) {
        if value.isNaN { output.append("\"NaN\"") }
        else if value.isInfinite { output.append(value < 0 ? "\"-Infinity\"" : "\"Infinity\"") }
        else { output.append(writingAtMost: shortestFloatRoom) { writeShortest(value, to: $0) } }
    }

    /// Room writeShortest needs: its longest text is 24 bytes ("-2.2250738585072014e-308"; a
    /// Float's, 15: "-1.26820195e-11").
    static let shortestFloatRoom = 32

    /// Writes a Float's or Double's description (the shortest decimal that reads back as `value`)
    /// at `output` (shortestFloatRoom bytes); returns its length. write(to:) hands a stream its
    /// ASCII bytes: no String is made per value (an eighth of the cost of writing one).
    static func writeShortest<Value: BinaryFloatingPoint & TextOutputStreamable>(_ value: Value,
                                                                               to output: UnsafeMutablePointer<UInt8>) -> Int {
        var stream = ASCIIBuffer(start: output)
        value.write(to: &stream)
        return stream.count
    }

    /// A TextOutputStream into the shortestFloatRoom bytes the caller made room for.
    private struct ASCIIBuffer: TextOutputStream {
        let start: UnsafeMutablePointer<UInt8>
        var count = 0

        mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
            guard let base = buffer.baseAddress else { return }
            precondition(count + buffer.count <= ScalarText.shortestFloatRoom, "a float's text longer than its room")
            (start + count).update(from: base, count: buffer.count)
            count += buffer.count
        }

        mutating func write(_ string: String) {
            var string = string
            string.withUTF8 { _writeASCII($0) }
        }
    }

    static func append<Sink: ByteSink & ~Copyable>(_ value: Double, to output: inout Sink) {
        if value.isNaN { output.append("\"NaN\"") }
        else if value.isInfinite { output.append(value < 0 ? "\"-Infinity\"" : "\"Infinity\"") }
        else { output.append(writingAtMost: shortestFloatRoom) { writeShortest(value, to: $0) } }
    }

    // MARK: Base64

    private static let base64Values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8.enumerated() {
            table[Int(character)] = UInt8(index)
        }
        table[Int(UInt8(ascii: "+"))] = 62
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "/"))] = 63
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// The decoded size of standard or URL-safe base64, padded or not; nil when `text` cannot be
    /// base64 (its length or padding is wrong).
    static func base64DecodedLength(_ text: UnsafeRawBufferPointer) -> Int? {
        let length = base64Length(text)
        guard text.count - length <= 2, length % 4 != 1 else { return nil }
        if text.count != length && text.count % 4 != 0 { return nil }
        return length / 4 * 3 + max(0, length % 4 - 1)
    }

    /// The text without its padding.
    private static func base64Length(_ text: UnsafeRawBufferPointer) -> Int {
        var length = text.count
        while length > 0 && text[length - 1] == UInt8(ascii: "=") { length -= 1 }
        return length
    }

    /// Decodes base64 whose size base64DecodedLength gave into `target`; false when a character
    /// is not base64.
    static func decodeBase64(_ text: UnsafeRawBufferPointer, into target: UnsafeMutablePointer<UInt8>) -> Bool {
        let length = base64Length(text)
        guard length > 0, let source = text.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
        return base64Values.withUnsafeBufferPointer { values in
            var target = target
            var index = 0
            while index + 4 <= length {
                let a = values[Int(source[index])], b = values[Int(source[index + 1])]
                let c = values[Int(source[index + 2])], d = values[Int(source[index + 3])]
                guard (a | b | c | d) & 0xC0 == 0 else { return false }
                let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                target[0] = UInt8(truncatingIfNeeded: group >> 16)
                target[1] = UInt8(truncatingIfNeeded: group >> 8)
                target[2] = UInt8(truncatingIfNeeded: group)
                target += 3
                index += 4
            }
            let rest = length - index
            guard rest > 0 else { return true }
            let a = values[Int(source[index])], b = values[Int(source[index + 1])]
            let c = rest == 3 ? values[Int(source[index + 2])] : 0
            guard (a | b | c) & 0xC0 == 0 else { return false }
            let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
            target[0] = UInt8(truncatingIfNeeded: group >> 16)
            if rest == 3 { target[1] = UInt8(truncatingIfNeeded: group >> 8) }
            return true
        }
    }

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The base64 text of every 12-bit value: its two characters, the first in the low byte.
    private static let base64Pairs: [UInt16] = (0..<4096).map {
        UInt16(base64Alphabet[$0 >> 6]) | UInt16(base64Alphabet[$0 & 63]) << 8
    }

    /// Appends standard padded base64 of `bytes`, straight into `output`: six bytes at a time,
    /// each 12 bits' two characters from a table (twice as fast as libcrypto's EVP_EncodeBlock, which
    /// takes a character at a time: a megabyte image in a REST request's JSON).
    static func appendBase64<Sink: ByteSink & ~Copyable>(_ bytes: UnsafeRawBufferPointer, to output: inout Sink) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        let count = bytes.count
        output.append(writingAtMost: (count + 2) / 3 * 4) { start in
            let target = UnsafeMutableRawPointer(start)
            var (read, written) = (0, 0)
            base64Pairs.withUnsafeBufferPointer { pairs in
                // Eight bytes loaded for six: the last six-byte step stops two bytes before the end.
                while read + 8 <= count {
                    let word = UInt64(bigEndian: source.loadUnaligned(fromByteOffset: read, as: UInt64.self))
                    let text = UInt64(pairs[Int(word >> 52)]) | UInt64(pairs[Int(word >> 40 & 0xFFF)]) << 16
                        | UInt64(pairs[Int(word >> 28 & 0xFFF)]) << 32 | UInt64(pairs[Int(word >> 16 & 0xFFF)]) << 48
                    target.storeBytes(of: text.littleEndian, toByteOffset: written, as: UInt64.self)
                    read += 6
                    written += 8
                }
                while read + 3 <= count {
                    let group = Int(source.load(fromByteOffset: read, as: UInt8.self)) << 16
                        | Int(source.load(fromByteOffset: read + 1, as: UInt8.self)) << 8 | Int(source.load(fromByteOffset: read + 2, as: UInt8.self))
                    target.storeBytes(of: pairs[group >> 12].littleEndian, toByteOffset: written, as: UInt16.self)
                    target.storeBytes(of: pairs[group & 0xFFF].littleEndian, toByteOffset: written + 2, as: UInt16.self)
                    read += 3
                    written += 4
                }
            }
            if read < count {
                // One or two bytes left: their characters, then "=" for each byte missing.
                let first = Int(source.load(fromByteOffset: read, as: UInt8.self))
                let second = read + 1 < count ? Int(source.load(fromByteOffset: read + 1, as: UInt8.self)) : 0
                let group = first << 16 | second << 8
                start[written] = base64Alphabet[group >> 18]
                start[written + 1] = base64Alphabet[group >> 12 & 63]
                start[written + 2] = read + 1 < count ? base64Alphabet[group >> 6 & 63] : UInt8(ascii: "=")
                start[written + 3] = UInt8(ascii: "=")
                written += 4
            }
            return written
        }
    }

    // MARK: Timestamps and durations

    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range proto3 JSON allows.
    static let timestampRange: ClosedRange<Int64> = -62_135_596_800...253_402_300_799
    static let durationLimit: Int64 = 315_576_000_000

    /// Room for the text of a timestamp or duration: the longest is a timestamp's,
    /// "9999-12-31T23:59:59.999999999Z" (30 bytes; a duration's, 24).
    private static let timeTextRoom = 32

    /// RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, as the official runtime prints it,
    /// appended to `output`; false when out of range.
    static func appendTimestamp<Sink: ByteSink & ~Copyable>(seconds: Int64, nanos: Int32, to output: inout Sink) -> Bool {
        guard timestampRange.contains(seconds), (0..<1_000_000_000).contains(nanos) else { return false }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        output.append(writingAtMost: timeTextRoom) { start in
            var text = TimeText(start: start)
            text.padded(year, 4)
            text.byte(UInt8(ascii: "-"))
            text.padded(month, 2)
            text.byte(UInt8(ascii: "-"))
            text.padded(day, 2)
            text.byte(UInt8(ascii: "T"))
            text.padded(secondOfDay / 3600, 2)
            text.byte(UInt8(ascii: ":"))
            text.padded(secondOfDay / 60 % 60, 2)
            text.byte(UInt8(ascii: ":"))
            text.padded(secondOfDay % 60, 2)
            text.fraction(nanos)
            text.byte(UInt8(ascii: "Z"))
            return text.count
        }
        return true
    }

    /// Parses RFC 3339 ("1972-01-01T10:00:20.021Z", offsets like "+01:00" allowed).
    static func timestamp(_ characters: [UInt8]) -> (seconds: Int64, nanos: Int32)? {
        func number(_ start: Int, _ count: Int) -> Int64? {
            guard start + count <= characters.count else { return nil }
            var value: Int64 = 0
            for byte in characters[start..<start + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard characters.count >= 20, characters[4] == UInt8(ascii: "-"), characters[7] == UInt8(ascii: "-"),
              characters[10] == UInt8(ascii: "T") || characters[10] == UInt8(ascii: "t"),
              characters[13] == UInt8(ascii: ":"), characters[16] == UInt8(ascii: ":"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60 else { return nil }
        var index = 19
        var nanos: Int64 = 0
        if index < characters.count, characters[index] == UInt8(ascii: ".") {
            let start = index + 1
            index = start
            while index < characters.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(characters[index]) { index += 1 }
            let digits = index - start
            guard (1...9).contains(digits), let fraction = number(start, digits) else { return nil }
            nanos = fraction * Int64(pow10(9 - digits))
        }
        guard index < characters.count else { return nil }
        var offsetSeconds: Int64 = 0
        switch characters[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == characters.count, characters[index + 3] == UInt8(ascii: ":"),
                  let hours = number(index + 1, 2), let minutes = number(index + 4, 2), hours < 24, minutes < 60 else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (characters[index] == UInt8(ascii: "+") ? 1 : -1)
            index += 6
        default:
            return nil
        }
        guard index == characters.count else { return nil }
        let seconds = daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        guard timestampRange.contains(seconds) else { return nil }
        return (seconds, Int32(nanos))
    }

    /// "1.5s", "-0.000001s", "3s" (0, 3, 6 or 9 fraction digits) appended to `output`; false when
    /// out of range.
    static func appendDuration<Sink: ByteSink & ~Copyable>(seconds: Int64, nanos: Int32, to output: inout Sink) -> Bool {
        guard abs(seconds) <= durationLimit, abs(nanos) < 1_000_000_000,
              seconds == 0 || nanos == 0 || (seconds < 0) == (nanos < 0) else { return false }
        output.append(writingAtMost: timeTextRoom) { start in
            var text = TimeText(start: start)
            if seconds < 0 || nanos < 0 { text.byte(UInt8(ascii: "-")) }
            text.padded(abs(seconds), 1)
            text.fraction(abs(nanos))
            text.byte(UInt8(ascii: "s"))
            return text.count
        }
        return true
    }

    static func duration(_ text: String) -> (seconds: Int64, nanos: Int32)? {
        var characters = Substring(text)
        guard characters.hasSuffix("s") else { return nil }
        characters = characters.dropLast()
        let negative = characters.hasPrefix("-")
        if negative { characters = characters.dropFirst() }
        let parts = characters.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy({ $0.isASCII && $0.isNumber }),
              let seconds = Int64(whole), seconds <= durationLimit else { return nil }
        var nanos: Int64 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard (1...9).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int64(fraction) else { return nil }
            nanos = value * Int64(pow10(9 - fraction.count))
        }
        return negative ? (-seconds, Int32(-nanos)) : (seconds, Int32(nanos))
    }

    /// The text of a timestamp or duration, written at `start` (timeTextRoom bytes).
    private struct TimeText {
        let start: UnsafeMutablePointer<UInt8>
        var count = 0

        mutating func byte(_ byte: UInt8) {
            start[count] = byte
            count += 1
        }

        /// A non-negative number with at least `width` digits (zeros in front), written from its
        /// last digit back (divisions by the constant 10 only).
        mutating func padded(_ value: Int64, _ width: Int) {
            var digits = 1, rest = value
            while rest >= 10 {
                rest /= 10
                digits += 1
            }
            digits = max(digits, width)
            rest = value
            for position in (count..<count + digits).reversed() {
                start[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            count += digits
        }

        /// A fraction of a second: none, or 3, 6 or 9 digits.
        mutating func fraction(_ nanos: Int32) {
            guard nanos != 0 else { return }
            byte(UInt8(ascii: "."))
            if nanos % 1_000_000 == 0 { padded(Int64(nanos / 1_000_000), 3) }
            else if nanos % 1000 == 0 { padded(Int64(nanos / 1000), 6) }
            else { padded(Int64(nanos), 9) }
        }
    }

    private static func pow10(_ exponent: Int) -> Int {
        var value = 1
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil).
    private static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilDate(daysSinceEpoch days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

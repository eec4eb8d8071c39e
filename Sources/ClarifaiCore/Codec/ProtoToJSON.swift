/// Protobuf binary -> JSON text in the REST API's form: original field names, enums as numbers,
/// 64-bit integers as strings, defaults left out except repeated and scalar fields marked
/// cl_show_if_empty, floats in their shortest round-trip form, well-known types in their JSON form.
struct ProtoToJSON: ~Copyable {
    static let maximumDepth = 100

    private let schema: Schema
    private(set) var output: ByteBuffer
    /// Whether every message's fields are gathered before they are written (see message).
    private let gathering: Bool

    init(schema: Schema, capacity: Int, gathering: Bool) {
        self.schema = schema
        self.gathering = gathering
        output = ByteBuffer(capacity: capacity)
    }

    /// `excluding`: fields left out (with the messages they leave empty), e.g. a REST path's.
    static func convert(_ bytes: UnsafeRawBufferPointer, type: MessageType, schema: Schema,
                        excluding: FieldPathSet? = nil) throws(CodecError) -> ByteBuffer {
        // Messages are written as their fields come (messageInWireOrder). Any error, or a message
        // that needs its fields gathered after all, makes the whole conversion start over
        // gathering them: a hostile message costs at most two conversions, and errors read as
        // the gathering conversion reports them.
        // Room for the usual text (about twice the binary), at most 64 MiB at first: a larger
        // message's text grows as it is written, and a 2 GiB one reserves no 4 GiB up front.
        let reservation = min(bytes.count, 32 << 20) * 2 + 16
        var streaming = ProtoToJSON(schema: schema, capacity: reservation, gathering: false)
        if (try? streaming.message(bytes, type: type, depth: 0, excluding: excluding)) != nil { return streaming.output }
        _ = consume streaming  // its memory given back before the second conversion takes more
        var converter = ProtoToJSON(schema: schema, capacity: reservation, gathering: true)
        do {
            try converter.message(bytes, type: type, depth: 0, excluding: excluding)
        } catch {
            throw CodecError(converting: error)
        }
        return converter.output
    }

    /// A message that messageInWireOrder cannot write as its fields come.
    private struct StartOver: Error {}

    /// One field occurrence on the wire: its field's position in the type, the wire type, and the
    /// value (varint/fixed bits, or the offset of a length-delimited payload with its length).
    private struct Occurrence {
        var field: Int
        var wireType: WireReader.WireType
        var bits: UInt64
        var length: Int
    }

    /// The occurrences of the messages being converted, as a stack: each message appends its own
    /// and removes them when done, so nesting needs no array of its own per message.
    private var occurrences: [Occurrence] = []

    private mutating func message(_ bytes: UnsafeRawBufferPointer, type: MessageType, depth: Int,
                                  excluding: FieldPathSet? = nil) throws {
        guard depth < ProtoToJSON.maximumDepth else { throw CodecError("messages nested deeper than \(ProtoToJSON.maximumDepth) levels") }
        if !gathering, excluding == nil, type.writableInWireOrder {
            try messageInWireOrder(bytes, type: type, depth: depth)
            return
        }
        let start = occurrences.count
        defer { occurrences.removeLast(occurrences.count - start) }
        try scan(bytes, type: type)
        let end = occurrences.count
        if let wellKnown = type.wellKnown {
            try self.wellKnown(wellKnown, start..<end, bytes, type: type, depth: depth)
            return
        }
        // Within a oneof only the member seen last on the wire counts.
        var oneofWinners: [Int: Int] = [:]
        if type.hasOneofs {
            for occurrence in occurrences[start..<end] {
                if let oneof = type.fields[occurrence.field].oneofIndex { oneofWinners[oneof] = occurrence.field }
            }
        }
        // Writers emit fields in number order; anything else is regrouped (the sort is stable).
        var inOrder = true
        for position in start..<max(start, end - 1) where occurrences[position].field > occurrences[position + 1].field {
            inOrder = false
            break
        }
        if !inOrder { occurrences[start..<end].sort { $0.field < $1.field } }

        output.append(UInt8(ascii: "{"))
        var firstMember = true
        var next = start
        var shown = type.shownWhenEmpty[...]
        // Fields in declaration order: the ones on the wire, merged with the ones printed even when absent.
        while next < end || !shown.isEmpty {
            let index = next < end ? min(occurrences[next].field, shown.first ?? Int.max) : shown.first!
            let groupStart = next
            while next < end && occurrences[next].field == index { next += 1 }
            if shown.first == index { shown.removeFirst() }
            let field = type.fields[index]
            if let oneof = field.oneofIndex, next > groupStart, oneofWinners[oneof] != index { continue }
            var excluded: FieldPathSet?
            if let excluding {
                excluded = excluding.child(field.number)
                if let excluded, excluded.children.isEmpty { continue }
            }
            try within(field.name) {
                try member(field, groupStart..<next, bytes: bytes, depth: depth, first: &firstMember, excluding: excluded)
            }
        }
        output.append(UInt8(ascii: "}"))
    }

    /// A message written as its fields come on the wire, nothing gathered first, for the types
    /// whose fields are declared in number order (as writers emit them): a field out of that
    /// order, a singular one seen twice, or a second member of a oneof throws StartOver.
    private mutating func messageInWireOrder(_ bytes: UnsafeRawBufferPointer, type: MessageType, depth: Int) throws {
        output.append(UInt8(ascii: "{"))
        var firstMember = true, firstElement = true
        var shown = type.shownWhenEmpty[...]
        // The field written last (still open when repeated), and the position of its next element.
        var open = -1, position = 0
        var oneofsSeen: UInt64 = 0
        var reader = WireReader(bytes)
        while let (number, wireType) = try reader.readTag() {
            guard let occurrence = try nextOccurrence(&reader, number, wireType, bytes, type: type) else { continue }
            let index = occurrence.field, field = type.fields[index]
            if index == open {
                guard field.isRepeated else { throw StartOver() }
                try elements(field, occurrence, bytes: bytes, depth: depth, position: &position, first: &firstElement)
                continue
            }
            guard index > open else { throw StartOver() }
            if open >= 0, type.fields[open].isRepeated { output.append(UInt8(ascii: "]")) }
            // The fields printed even when absent that come before this one.
            while let next = shown.first, next <= index {
                shown.removeFirst()
                if next < index { try member(type.fields[next], 0..<0, bytes: bytes, depth: depth, first: &firstMember, excluding: nil) }
            }
            if let oneof = field.oneofIndex {
                guard oneof < UInt64.bitWidth, oneofsSeen & 1 << oneof == 0 else { throw StartOver() }
                oneofsSeen |= 1 << oneof
            }
            open = index
            if field.isRepeated {
                key(field, first: &firstMember)
                output.append(UInt8(ascii: "["))
                (position, firstElement) = (0, true)
                try elements(field, occurrence, bytes: bytes, depth: depth, position: &position, first: &firstElement)
            } else {
                try singular(field, occurrence, bytes: bytes, depth: depth, first: &firstMember)
            }
        }
        if open >= 0, type.fields[open].isRepeated { output.append(UInt8(ascii: "]")) }
        for next in shown { try member(type.fields[next], 0..<0, bytes: bytes, depth: depth, first: &firstMember, excluding: nil) }
        output.append(UInt8(ascii: "}"))
    }

    /// Appends the fields of a message to `occurrences`, dropping unknown ones and ones with an
    /// unexpected wire type.
    private mutating func scan(_ bytes: UnsafeRawBufferPointer, type: MessageType) throws {
        var reader = WireReader(bytes)
        while let (number, wireType) = try reader.readTag() {
            if let occurrence = try nextOccurrence(&reader, number, wireType, bytes, type: type) { occurrences.append(occurrence) }
        }
    }

    /// The value of the field whose tag was read last; nil, the value stepped over, for an
    /// unknown field, one with an unexpected wire type, or a group.
    @inline(__always)
    private func nextOccurrence(_ reader: inout WireReader, _ number: UInt64, _ wireType: WireReader.WireType,
                                _ bytes: UnsafeRawBufferPointer, type: MessageType) throws -> Occurrence? {
        guard number <= UInt64(Int32.max), let index = type.fieldIndex(number: Int(number)),
              type.field(index, accepts: wireType) else {
            try reader.skip(wireType)
            return nil
        }
        var occurrence = Occurrence(field: index, wireType: wireType, bits: 0, length: 0)
        switch wireType {
        case .varint: occurrence.bits = try reader.readVarint()
        case .fixed32: occurrence.bits = UInt64(try reader.readFixed32())
        case .fixed64: occurrence.bits = try reader.readFixed64()
        case .lengthDelimited:
            let payload = try within(type.fields[index].name) { try reader.readLengthDelimited() }
            occurrence.bits = UInt64(payload.baseAddress.map { $0 - bytes.baseAddress! } ?? 0)
            occurrence.length = payload.count
        case .startGroup, .endGroup:
            try reader.skip(wireType)
            return nil
        }
        return occurrence
    }

    // MARK: Members

    private mutating func key(_ field: Field, first: inout Bool) {
        if !first { output.append(UInt8(ascii: ",")) }
        first = false
        field.jsonKey.withUnsafeBytes { output.append(bytes: $0) }
    }

    private mutating func member(_ field: Field, _ group: Range<Int>, bytes: UnsafeRawBufferPointer,
                                 depth: Int, first: inout Bool, excluding: FieldPathSet?) throws {
        if group.isEmpty {
            guard field.showIfEmpty, !field.hasPresence else { return }
            key(field, first: &first)
            if field.isMap { output.append("{}") }
            else if field.isRepeated { output.append("[]") }
            else { defaultValue(field) }
            return
        }
        if let entry = field.mapEntry {
            key(field, first: &first)
            try map(entry, group, bytes: bytes, depth: depth)
        } else if field.isRepeated {
            key(field, first: &first)
            output.append(UInt8(ascii: "["))
            var firstElement = true
            var position = 0
            for index in group {
                try elements(field, occurrences[index], bytes: bytes, depth: depth, position: &position, first: &firstElement)
            }
            output.append(UInt8(ascii: "]"))
        } else if field.kind == .message {
            let (start, wasFirst) = (output.count, first)
            key(field, first: &first)
            let valueStart = output.count
            try mergedMessage(field, group, bytes: bytes, depth: depth, excluding: excluding)
            // A message that only held excluded fields is left out too.
            if excluding != nil && output.count - valueStart == 2 {
                output.removeLast(from: start)
                first = wasFirst
            }
        } else {
            try singular(field, occurrences[group.upperBound - 1], bytes: bytes, depth: depth, first: &first)
        }
    }

    /// A singular field from its occurrence (a scalar's last one; a message's only one).
    private mutating func singular(_ field: Field, _ occurrence: Occurrence, bytes: UnsafeRawBufferPointer,
                                   depth: Int, first: inout Bool) throws {
        // A scalar default written on the wire reads as absent: left out, or printed as absent ones are.
        if field.kind != .message && !field.hasPresence && isDefault(field, occurrence, bytes: bytes) {
            guard field.showIfEmpty else { return }
            key(field, first: &first)
            defaultValue(field)
            return
        }
        key(field, first: &first)
        try value(field, occurrence, bytes: bytes, depth: depth)
    }

    /// The elements of a repeated field in one occurrence: one, or a packed run. `position`: the
    /// index of the first of them in the field.
    private mutating func elements(_ field: Field, _ occurrence: Occurrence, bytes: UnsafeRawBufferPointer, depth: Int,
                                   position: inout Int, first: inout Bool) throws {
        guard occurrence.wireType == .lengthDelimited && field.kind.wireType != .lengthDelimited else {
            separator(&first)
            try within("[\(position)]") { try value(field, occurrence, bytes: bytes, depth: depth) }
            position += 1
            return
        }
        var packed = WireReader(slice(bytes, occurrence))
        while !packed.isAtEnd {
            let bits: UInt64
            switch field.kind.wireType {
            case .fixed32: bits = UInt64(try packed.readFixed32())
            case .fixed64: bits = try packed.readFixed64()
            default: bits = try packed.readVarint()
            }
            separator(&first)
            try within("[\(position)]") { try scalar(field, bits: bits) }
            position += 1
        }
    }

    private mutating func separator(_ first: inout Bool) {
        if !first { output.append(UInt8(ascii: ",")) }
        first = false
    }

    /// A singular message seen several times is the merge of its parts, as if concatenated.
    private mutating func mergedMessage(_ field: Field, _ group: Range<Int>, bytes: UnsafeRawBufferPointer, depth: Int,
                                        excluding: FieldPathSet? = nil) throws {
        let type = try messageType(field)
        if group.count == 1 {
            try message(slice(bytes, occurrences[group.lowerBound]), type: type, depth: depth + 1, excluding: excluding)
            return
        }
        var merged: [UInt8] = []
        for index in group { merged.append(contentsOf: slice(bytes, occurrences[index])) }
        try merged.withUnsafeBytes { try message($0, type: type, depth: depth + 1, excluding: excluding) }
    }

    private mutating func map(_ entry: MapEntry, _ group: Range<Int>, bytes: UnsafeRawBufferPointer, depth: Int) throws {
        // Later entries with the same key replace earlier ones.
        var keys: [[UInt8]] = []
        var values: [[UInt8]] = []
        var positions: [[UInt8]: Int] = [:]
        for index in group {
            let occurrence = occurrences[index]
            var reader = WireReader(slice(bytes, occurrence))
            var keyOccurrence: Occurrence?, valueOccurrence: Occurrence?
            let entryBytes = slice(bytes, occurrence)
            while let (number, wireType) = try reader.readTag() {
                let target = number == 1 ? entry.key : number == 2 ? entry.value : nil
                guard let target, target.accepts(wireType) else {
                    try reader.skip(wireType)
                    continue
                }
                var found = Occurrence(field: Int(number), wireType: wireType, bits: 0, length: 0)
                switch wireType {
                case .varint: found.bits = try reader.readVarint()
                case .fixed32: found.bits = UInt64(try reader.readFixed32())
                case .fixed64: found.bits = try reader.readFixed64()
                default:
                    let payload = try reader.readLengthDelimited()
                    found.bits = UInt64(payload.baseAddress.map { $0 - entryBytes.baseAddress! } ?? 0)
                    found.length = payload.count
                }
                if number == 1 { keyOccurrence = found } else { valueOccurrence = found }
            }
            let keyText = try mapKey(entry.key, keyOccurrence, bytes: entryBytes)
            var valueConverter = ProtoToJSON(schema: schema, capacity: 64, gathering: gathering)
            if let valueOccurrence {
                try within(String(decoding: keyText, as: UTF8.self)) {
                    try valueConverter.value(entry.value, valueOccurrence, bytes: entryBytes, depth: depth)
                }
            } else if entry.value.kind == .message {
                try valueConverter.message(UnsafeRawBufferPointer(start: nil, count: 0), type: try messageType(entry.value), depth: depth + 1)
            } else {
                valueConverter.defaultValue(entry.value)
            }
            if let position = positions[keyText] {
                values[position] = valueConverter.output.array
            } else {
                positions[keyText] = keys.count
                keys.append(keyText)
                values.append(valueConverter.output.array)
            }
        }
        output.append(UInt8(ascii: "{"))
        for (index, keyText) in keys.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            guard keyText.withUnsafeBytes({ appendQuoted($0) }) else { throw CodecError("map key is not valid UTF-8") }
            output.append(UInt8(ascii: ":"))
            values[index].withUnsafeBytes { output.append(bytes: $0) }
        }
        output.append(UInt8(ascii: "}"))
    }

    /// A map key as the text inside its JSON string.
    private func mapKey(_ field: Field, _ occurrence: Occurrence?, bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard let occurrence else { return field.kind == .bool ? Array("false".utf8) : field.kind == .string ? [] : [UInt8(ascii: "0")] }
        if field.kind == .string {
            let text = slice(bytes, occurrence)
            guard ProtoToJSON.isValidUTF8(text) else { throw CodecError("map key is not valid UTF-8") }
            return Array(text)
        }
        var scratch = ProtoToJSON(schema: schema, capacity: 24, gathering: gathering)
        try scratch.scalar(field, bits: occurrence.bits)
        return scratch.output.array.filter { $0 != UInt8(ascii: "\"") }
    }

    // MARK: Well-known types

    private mutating func wellKnown(_ wellKnown: WellKnownType, _ present: Range<Int>, _ bytes: UnsafeRawBufferPointer,
                                    type: MessageType, depth: Int) throws {
        let found = occurrences[present]
        func last(_ number: Int) -> Occurrence? { found.last { type.fields[$0.field].number == number } }
        switch wellKnown {
        case .timestamp, .duration:
            let seconds = Int64(bitPattern: last(1)?.bits ?? 0)
            let nanos = Int32(truncatingIfNeeded: last(2)?.bits ?? 0)
            output.append(UInt8(ascii: "\""))
            let written = wellKnown == .timestamp ? ScalarText.appendTimestamp(seconds: seconds, nanos: nanos, to: &output)
                                                  : ScalarText.appendDuration(seconds: seconds, nanos: nanos, to: &output)
            guard written else { throw CodecError("\(type.fullName) out of range: seconds \(seconds), nanos \(nanos)") }
            output.append(UInt8(ascii: "\""))
        case .structValue:
            guard let entry = type.fields.first?.mapEntry else { throw CodecError("malformed google.protobuf.Struct schema") }
            try map(entry, present, bytes: bytes, depth: depth)
        case .listValue:
            output.append(UInt8(ascii: "["))
            var first = true
            for (position, occurrence) in found.enumerated() {
                separator(&first)
                try within("[\(position)]") { try value(type.fields[occurrence.field], occurrence, bytes: bytes, depth: depth) }
            }
            output.append(UInt8(ascii: "]"))
        case .value:
            // The kind oneof: the member seen last wins; a Value with no kind reads as null.
            guard let chosen = found.last, type.fields[chosen.field].number != 1 else {
                output.append("null")
                return
            }
            let member = type.fields[chosen.field]
            // JSON has no NaN or infinity, and a string would read back as a string_value.
            if member.kind == .double, !Double(bitPattern: chosen.bits).isFinite {
                throw CodecError("\(Double(bitPattern: chosen.bits)) cannot be written as a google.protobuf.Value number")
            }
            try value(member, chosen, bytes: bytes, depth: depth)
        default:
            guard let field = type.fields.first else { throw CodecError("malformed \(type.fullName) schema") }
            if let occurrence = last(1) { try value(field, occurrence, bytes: bytes, depth: depth) } else { defaultValue(field) }
        }
    }

    // MARK: Values

    private mutating func value(_ field: Field, _ occurrence: Occurrence, bytes: UnsafeRawBufferPointer, depth: Int) throws {
        switch field.kind {
        case .message: try message(slice(bytes, occurrence), type: try messageType(field), depth: depth + 1)
        case .string:
            guard appendQuoted(slice(bytes, occurrence)) else { throw CodecError("string is not valid UTF-8") }
        case .bytes:
            output.append(UInt8(ascii: "\""))
            ScalarText.appendBase64(slice(bytes, occurrence), to: &output)
            output.append(UInt8(ascii: "\""))
        default: try scalar(field, bits: occurrence.bits)
        }
    }

    /// A number, bool or enum from its varint or fixed-width bits.
    private mutating func scalar(_ field: Field, bits: UInt64) throws {
        switch field.kind {
        case .int32, .enum: appendDecimal(Int64(Int32(truncatingIfNeeded: bits)))
        case .sfixed32: appendDecimal(Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: bits))))
        case .uint32, .fixed32: appendDecimal(UInt64(UInt32(truncatingIfNeeded: bits)))
        case .sint32: appendDecimal(Int64(Int32(truncatingIfNeeded: Int64(bitPattern: bits >> 1) ^ -Int64(bits & 1))))
        case .int64, .sfixed64: appendDecimal(Int64(bitPattern: bits), quoted: true)
        case .uint64, .fixed64: appendDecimal(bits, quoted: true)
        case .sint64: appendDecimal(Int64(bitPattern: bits >> 1) ^ -Int64(bits & 1), quoted: true)
        case .bool: output.append(bits != 0 ? "true" : "false")
        case .float: ScalarText.append(Float(bitPattern: UInt32(truncatingIfNeeded: bits)), to: &output)
        case .double: ScalarText.append(Double(bitPattern: bits), to: &output)
        case .string, .bytes, .message, .group: throw CodecError("unexpected wire type for a \(field.kind) field")
        }
    }

    private mutating func defaultValue(_ field: Field) {
        switch field.kind {
        case .string, .bytes: output.append("\"\"")
        case .bool: output.append("false")
        case .int64, .uint64, .sint64, .fixed64, .sfixed64: output.append("\"0\"")
        case .message, .group: output.append("{}")
        default: output.append(UInt8(ascii: "0"))
        }
    }

    private func isDefault(_ field: Field, _ occurrence: Occurrence, bytes: UnsafeRawBufferPointer) -> Bool {
        switch field.kind {
        case .string, .bytes: return occurrence.length == 0
        case .float, .fixed32, .sfixed32: return UInt32(truncatingIfNeeded: occurrence.bits) == 0
        // 32-bit kinds read the low 32 bits of their varint; a bool is true for any nonzero varint.
        case .int32, .enum, .uint32, .sint32: return UInt32(truncatingIfNeeded: occurrence.bits) == 0
        default: return occurrence.bits == 0
        }
    }

    private func messageType(_ field: Field) throws -> MessageType {
        guard let type = schema.messageType(of: field) else { throw CodecError("type \(field.typeName) is missing from the schema") }
        return type
    }

    private func slice(_ bytes: UnsafeRawBufferPointer, _ occurrence: Occurrence) -> UnsafeRawBufferPointer {
        let start = Int(occurrence.bits)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<start + occurrence.length])
    }

    // MARK: Text

    private mutating func appendDecimal(_ value: Int64, quoted: Bool = false) {
        appendDecimal(value.magnitude, negative: value < 0, quoted: quoted)
    }

    /// Digits written straight into the output (no String in between).
    private mutating func appendDecimal(_ magnitude: UInt64, negative: Bool = false, quoted: Bool = false) {
        if quoted { output.append(UInt8(ascii: "\"")) }
        if negative { output.append(UInt8(ascii: "-")) }
        var length = 1
        while length < 20, magnitude >= ProtoToJSON.powersOfTen[length] { length += 1 }
        // UInt64.max has 20 digits.
        output.append(writingAtMost: 20) { start in
            var rest = magnitude
            for position in (0..<length).reversed() {
                start[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            return length
        }
        if quoted { output.append(UInt8(ascii: "\"")) }
    }

    /// 10^0 through 10^19: a number's digit count.
    private static let powersOfTen: [UInt64] = (0..<20).map { exponent in (0..<exponent).reduce(1) { power, _ in power * 10 } }

    private mutating func appendQuoted(_ text: UnsafeRawBufferPointer) -> Bool { ProtoToJSON.appendQuoted(text, to: &output) }

    /// `text` as a JSON string with the escapes JSON requires (quote, backslash, control
    /// characters), checked as UTF-8 on the way: false when it is not (the conversion fails; what
    /// was written is left). Runs that need no look are found eight bytes at a time and copied whole.
    static func appendQuoted<Sink: ByteSink & ~Copyable>(_ text: UnsafeRawBufferPointer, to output: inout Sink) -> Bool {
        func appendRun(_ range: Range<Int>) {
            guard !range.isEmpty, let base = text.baseAddress else { return }
            output.append(bytes: UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
        }
        output.append(UInt8(ascii: "\""))
        var runStart = 0, index = 0
        let count = text.count
        while index < count {
            let left = count - index
            if left >= 8, ProtoToJSON.isPlainASCII(text.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index += 8
                continue
            }
            if left < 8 {
                // A short string or the end of one: its last bytes in a word padded with spaces.
                var tail = UInt64(0x2020_2020_2020_2020)
                withUnsafeMutableBytes(of: &tail) { $0.baseAddress!.copyMemory(from: text.baseAddress! + index, byteCount: left) }
                if ProtoToJSON.isPlainASCII(tail) {
                    index = count
                    continue
                }
            }
            let byte = text[index]
            if byte >= 0x80 {
                guard let length = ProtoToJSON.utf8SequenceLength(text, at: index) else { return false }
                index += length
                continue
            }
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            appendRun(runStart..<index)
            switch byte {
            case UInt8(ascii: "\""): output.append("\\\"")
            case UInt8(ascii: "\\"): output.append("\\\\")
            case 0x0A: output.append("\\n")
            case 0x0D: output.append("\\r")
            case 0x09: output.append("\\t")
            default:
                let hex = Array("0123456789abcdef".utf8)
                output.append("\\u00")
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            }
            index += 1
            runStart = index
        }
        appendRun(runStart..<count)
        output.append(UInt8(ascii: "\""))
        return true
    }

    /// Whether eight bytes are all ASCII that a JSON string carries as they are: no quote,
    /// backslash or control character (byte-wise "has zero" / "has less than" tests).
    @inline(__always)
    private static func isPlainASCII(_ bytes: UInt64) -> Bool {
        let word = UInt64(littleEndian: bytes)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* UInt64(UInt8(ascii: "\""))), backslash = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
        let control = (word &- ones &* 0x20) & ~word
        return (control | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | word) & highs == 0
    }

    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if isASCII(bytes) { return true }
        var index = 0
        while index < bytes.count {
            // Eight ASCII bytes at a time: most strings are ASCII.
            if bytes.count - index >= 8, bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
                continue
            }
            if bytes[index] < 0x80 {
                index += 1
                continue
            }
            guard let length = utf8SequenceLength(bytes, at: index) else { return false }
            index += length
        }
        return true
    }

    /// Whether every byte is below 0x80, in a few loads whatever the length (the last word
    /// overlaps the one before it): the common case of isValidUTF8, for the short strings of
    /// answers (ids, names), where a byte-by-byte tail would cost more than the rest.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return true }
        var seen: UInt64
        if count >= 8 {
            seen = base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            var index = 0
            while index + 8 < count {
                seen |= base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                index += 8
            }
        } else if count >= 4 {
            seen = UInt64(base.loadUnaligned(as: UInt32.self) | base.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
        } else {
            seen = UInt64(base.load(as: UInt8.self) | base.load(fromByteOffset: count / 2, as: UInt8.self)
                          | base.load(fromByteOffset: count - 1, as: UInt8.self))
        }
        return seen & 0x8080_8080_8080_8080 == 0
    }

    /// The length of the multi-byte UTF-8 sequence at `index` (whose byte is 0x80 or more); nil
    /// when it is malformed, overlong, a surrogate or past U+10FFFF.
    static func utf8SequenceLength(_ bytes: UnsafeRawBufferPointer, at index: Int) -> Int? {
        let lead = bytes[index]
        let length: Int, minimum: UInt32
        switch lead {
        case 0xC2...0xDF: (length, minimum) = (2, 0x80)
        case 0xE0...0xEF: (length, minimum) = (3, 0x800)
        case 0xF0...0xF4: (length, minimum) = (4, 0x10000)
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        var scalar = UInt32(lead) & (0xFF >> (length + 1))
        for offset in 1..<length {
            let next = bytes[index + offset]
            guard next & 0xC0 == 0x80 else { return nil }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800..<0xE000).contains(scalar) else { return nil }
        return length
    }
}

/// Field paths as a tree of field numbers: a number without children stands for the whole field.
struct FieldPathSet: Sendable {
    /// Each first step with the rest of its paths: a handful at most (a REST path's variables),
    /// searched in order, which costs less than hashing.
    private(set) var children: [(number: Int, rest: FieldPathSet)] = []

    init(_ paths: [[Int]]) {
        for path in paths where !path.isEmpty { insert(path[...]) }
    }

    /// The paths under field `number`; nil when none starts with it.
    func child(_ number: Int) -> FieldPathSet? { children.first { $0.number == number }?.rest }

    private mutating func insert(_ path: ArraySlice<Int>) {
        guard let number = path.first else { return }
        let position = children.firstIndex { $0.number == number } ?? {
            children.append((number, FieldPathSet([])))
            return children.count - 1
        }()
        children[position].rest.insert(path.dropFirst())
    }
}

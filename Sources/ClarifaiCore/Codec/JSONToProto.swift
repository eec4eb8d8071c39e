/// proto3 JSON text -> protobuf binary, as the official runtime's json_format.Parse reads it:
/// original or lowerCamel names, enum names or numbers, integers as numbers or strings,
/// "NaN"/"Infinity", standard or URL-safe base64 with or without padding, the well-known types.
/// Unknown fields, wrong types and out-of-range values are errors naming the field path.
struct JSONToProto: ~Copyable {
    private let schema: Schema
    /// Skip fields the schema does not know (for answers from a newer server) instead of failing.
    private let ignoresUnknownFields: Bool
    private var reader: JSONReader
    private var writer: WireWriter
    private var text: [UInt8] = []
    /// The member key being read when it has escapes (shared by all levels: it is only needed
    /// until its field is found).
    private var key: [UInt8] = []

    private init(schema: Schema, json: UnsafeRawBufferPointer, ignoresUnknownFields: Bool,
                 writer: consuming WireWriter? = nil) {
        self.schema = schema
        self.ignoresUnknownFields = ignoresUnknownFields
        reader = JSONReader(json)
        self.writer = writer ?? WireWriter(capacity: json.count / 2 + 16)
    }

    static func convert(_ json: UnsafeRawBufferPointer, type: MessageType, schema: Schema,
                        ignoresUnknownFields: Bool = false) throws(CodecError) -> [UInt8] {
        do {
            // Written straight into the array returned: the binary is seldom longer than its JSON
            // (base64 shrinks to three quarters), and when it is, it is copied once.
            return try WireWriter.array(capacity: json.count + 16) { (writer: consuming WireWriter) in
                let converter = try converted(json, type: type, schema: schema, ignoresUnknownFields: ignoresUnknownFields, writer: writer)
                return converter.writer
            }
        } catch {
            throw CodecError(converting: error)
        }
    }

    /// The binary in memory the caller takes over (and deallocates): no copy into an array.
    static func convertTakingMemory(_ json: UnsafeRawBufferPointer, type: MessageType, schema: Schema,
                                    ignoresUnknownFields: Bool) throws(CodecError) -> UnsafeMutableRawBufferPointer {
        let converter = try converted(json, type: type, schema: schema, ignoresUnknownFields: ignoresUnknownFields)
        return converter.writer.takeBytes()
    }

    private static func converted(_ json: UnsafeRawBufferPointer, type: MessageType, schema: Schema,
                                  ignoresUnknownFields: Bool, writer: consuming WireWriter? = nil) throws(CodecError) -> JSONToProto {
        var converter = JSONToProto(schema: schema, json: json, ignoresUnknownFields: ignoresUnknownFields, writer: writer)
        do {
            try converter.messageBody(type, depth: 0)
            try converter.reader.expectEnd()
        } catch {
            throw CodecError(converting: error)
        }
        return converter
    }

    // MARK: Messages

    /// Reads one JSON value of a message type and writes the message's fields.
    private mutating func messageBody(_ type: MessageType, depth: Int) throws {
        guard depth < ProtoToJSON.maximumDepth else { throw CodecError("messages nested deeper than \(ProtoToJSON.maximumDepth) levels") }
        if let wellKnown = type.wellKnown {
            try self.wellKnown(wellKnown, type: type, depth: depth)
            return
        }
        guard try reader.peekKind() == .object else {
            try reader.skipValue()  // text that is not JSON at all is reported as such
            throw CodecError("expected a JSON object for \(type.fullName)")
        }
        try reader.beginObject()
        var seenFields = SmallIntSet()
        var seenOneofs = SmallIntSet()
        var first = true
        var cursor = 0
        while try reader.nextMember(first: &first) {
            let index: Int?
            var name: UnsafeRawBufferPointer?
            if let expected = type.expectedKey(cursor), reader.skipKey(expected.name, quoted: expected.quoted) {
                index = expected.field
                cursor = expected.next
            } else {
                switch try reader.readKey(orDecodeInto: &key) {
                case .slice(let slice):
                    name = slice
                    index = type.fieldIndex(named: slice, cursor: &cursor)
                case .decoded: index = key.withUnsafeBytes { type.fieldIndex(named: $0, cursor: &cursor) }
                }
            }
            guard let index else {
                guard ignoresUnknownFields else {
                    let keyText = name.map { String(decoding: $0, as: UTF8.self) } ?? String(decoding: key, as: UTF8.self)
                    throw CodecError("unknown field of \(type.fullName)").inside(keyText)
                }
                try reader.skipValue()
                continue
            }
            guard seenFields.insert(index) else { throw CodecError("field given more than once").inside(type.fields[index].name) }
            let plan = type.jsonPlan(index)
            if plan.isPlain, try within(type.fields[index].name, { try plainValue(plan, depth: depth) }) { continue }
            let field = type.fields[index]
            try within(field.name) {
                if try reader.peekKind() == .null && !JSONToProto.takesNull(field) {
                    try reader.readNull()
                    return
                }
                if let oneof = field.oneofIndex, !seenOneofs.insert(oneof) {
                    throw CodecError("another field of the same oneof is already set")
                }
                try fieldValue(field, depth: depth)
            }
        }
    }

    /// The value of a plain field (JSONPlan.isPlain) when it is of the kind the field expects and
    /// needs no more than its plan: strings, nested messages and numbers, the bulk of every
    /// message. False (nothing read) for the rest, which the field-by-field path reads and checks.
    private mutating func plainValue(_ plan: JSONPlan, depth: Int) throws -> Bool {
        guard let next = reader.peekByte() else { return false }
        switch plan.kind {
        case .string where next == UInt8(ascii: "\""):
            try stringValue(plan.number, alwaysWrite: plan.alwaysWrites)
        case .message where next == UInt8(ascii: "{"):
            guard let type = schema.messageType(at: plan.messageIndex), type.wellKnown == nil else { return false }
            try nestedMessage(type, plan.number, depth: depth)
        case .float, .double, .int32, .int64, .uint32, .uint64, .fixed32, .fixed64, .sfixed32, .sfixed64, .sint32, .sint64:
            guard next == UInt8(ascii: "-") || next &- UInt8(ascii: "0") < 10 else { return false }
            let bits = try scalarBits(plan.kind)
            if plan.alwaysWrites || bits != 0 { writer.field(plan.number, .bits(bits, plan.kind.wireType)) }
        default:
            return false
        }
        return true
    }

    /// Fields whose value may be JSON null: google.protobuf.Value and NullValue.
    private static func takesNull(_ field: Field) -> Bool {
        !field.isRepeated && (field.typeName == WellKnownType.value.rawValue || field.typeName == WellKnownType.nullValueEnum)
    }

    private mutating func fieldValue(_ field: Field, depth: Int) throws {
        if let entry = field.mapEntry {
            guard try reader.peekKind() == .object else { throw CodecError("expected a JSON object (a map)") }
            try reader.beginObject()
            var first = true
            var keys = Set<String>()
            while let key = try reader.nextKey(first: &first) {
                try within(key) {
                    guard keys.insert(key).inserted else { throw CodecError("map key given more than once") }
                    let mark = writer.beginLengthDelimited(field.number)
                    try mapKey(key, entry.key)
                    if try reader.peekKind() == .null && entry.value.typeName != WellKnownType.value.rawValue {
                        throw CodecError("a map value cannot be null")
                    }
                    try singleValue(entry.value, depth: depth, alwaysWrite: true)
                    writer.endLengthDelimited(mark)
                }
            }
        } else if field.isRepeated {
            guard try reader.peekKind() == .array else { throw CodecError("expected a JSON array") }
            try reader.beginArray()
            let packed = field.kind.wireType != .lengthDelimited
            let mark = packed ? writer.beginLengthDelimited(field.number) : nil
            var first = true
            var position = 0
            while try reader.nextElement(first: &first) {
                try within("[\(position)]") {
                    if try reader.peekKind() == .null && field.typeName != WellKnownType.value.rawValue {
                        throw CodecError("a list element cannot be null")
                    }
                    if packed { try packedValue(field) } else { try singleValue(field, depth: depth, alwaysWrite: true) }
                }
                position += 1
            }
            if let mark { writer.endLengthDelimited(mark) }
        } else {
            try singleValue(field, depth: depth, alwaysWrite: field.hasPresence)
        }
    }


    // MARK: Values

    /// Writes one value with its tag; a default value of a field without presence is left out.
    private mutating func singleValue(_ field: Field, depth: Int, alwaysWrite: Bool) throws {
        switch field.kind {
        case .message, .group:
            guard let type = schema.messageType(of: field) else { throw CodecError("type \(field.typeName) is missing from the schema") }
            try nestedMessage(type, field.number, depth: depth)
        case .string:
            guard try reader.peekKind() == .string else { throw CodecError("expected a string") }
            try stringValue(field.number, alwaysWrite: alwaysWrite)
        case .bytes:
            guard try reader.peekKind() == .string else { throw CodecError("expected a base64 string") }
            let decoded: Bool
            switch try reader.readString(orDecodeInto: &text) {
            case .slice(let value): decoded = writeBytes(field, base64: value, alwaysWrite: alwaysWrite)
            default:
                let unescaped = text  // a local: writing to self while self.text is borrowed would overlap
                decoded = unescaped.withUnsafeBytes { writeBytes(field, base64: $0, alwaysWrite: alwaysWrite) }
            }
            guard decoded else { throw CodecError("invalid base64") }
        default:
            guard let bits = try scalarBits(field), alwaysWrite || bits != 0 else { return }
            writer.field(field.number, .bits(bits, field.kind.wireType))
        }
    }

    /// A message of `type` as field `number` (its length written once its fields are).
    private mutating func nestedMessage(_ type: MessageType, _ number: Int, depth: Int) throws {
        let mark = writer.beginLengthDelimited(number)
        try messageBody(type, depth: depth + 1)
        writer.endLengthDelimited(mark)
    }

    /// Reads a JSON string (the reader is at its quote) as field `number`.
    @inline(__always)
    private mutating func stringValue(_ number: Int, alwaysWrite: Bool) throws {
        switch try reader.readString(orDecodeInto: &text) {
        case .slice(let value): writeString(number, value, alwaysWrite: alwaysWrite)
        default:
            let decoded = text  // a local: writing to self while self.text is borrowed would overlap
            decoded.withUnsafeBytes { writeString(number, $0, alwaysWrite: alwaysWrite) }
        }
    }

    private mutating func writeString(_ number: Int, _ value: UnsafeRawBufferPointer, alwaysWrite: Bool) {
        guard alwaysWrite || !value.isEmpty else { return }
        writer.tag(number, .lengthDelimited)
        writer.varint(UInt64(value.count))
        writer.append(value)
    }

    /// False when `base64` is not base64.
    private mutating func writeBytes(_ field: Field, base64: UnsafeRawBufferPointer, alwaysWrite: Bool) -> Bool {
        guard alwaysWrite || !base64.isEmpty else { return true }
        let mark = writer.beginLengthDelimited(field.number)
        guard writer.appendBase64Decoded(base64) else { return false }
        writer.endLengthDelimited(mark)
        return true
    }

    /// One element of a packed list: the value without a tag.
    private mutating func packedValue(_ field: Field) throws {
        guard let bits = try scalarBits(field) else { return }
        writer.scalar(bits, field.kind.wireType)
    }

    /// A number, bool or enum as the bits its wire encoding carries (varint or fixed width).
    /// nil for an enum name the schema does not know when unknown fields are skipped (the official
    /// parser's ignore_unknown_fields skips those too): the value is left out.
    private mutating func scalarBits(_ field: Field) throws -> UInt64? {
        if field.kind == .enum { return try enumNumber(field).map { UInt64(bitPattern: Int64($0)) } }
        return try scalarBits(field.kind)
    }

    /// A number or bool (not an enum, whose names need its Field) as its wire bits.
    private mutating func scalarBits(_ kind: Field.Kind) throws -> UInt64 {
        switch kind {
        case .bool:
            guard try reader.peekKind() == .bool else { throw CodecError("expected true or false") }
            return try reader.readBool() ? 1 : 0
        case .float:
            let value = try floatingPoint()
            // Values that round to the largest float are fine; beyond that is an overflow.
            guard !value.isFinite || Float(value).isFinite else { throw CodecError("\(value) is out of range for a float") }
            return UInt64(Float(value).bitPattern)
        case .double:
            return try floatingPoint().bitPattern
        case .int32, .sfixed32, .sint32:
            let value = try integer(in: Int64(Int32.min)...Int64(Int32.max), kind)
            if kind == .sint32 { return UInt64(UInt32(bitPattern: Int32(value) << 1 ^ Int32(value) >> 31)) }
            return kind == .sfixed32 ? UInt64(UInt32(bitPattern: Int32(value))) : UInt64(bitPattern: value)
        case .uint32, .fixed32:
            return try unsignedInteger(maximum: UInt64(UInt32.max))
        case .int64, .sfixed64, .sint64:
            let value = try integer(in: Int64.min...Int64.max, kind)
            return kind == .sint64 ? UInt64(bitPattern: value << 1 ^ value >> 63) : UInt64(bitPattern: value)
        case .uint64, .fixed64:
            return try unsignedInteger(maximum: UInt64.max)
        case .string, .bytes, .message, .group, .enum:
            throw CodecError("not a scalar field")
        }
    }

    private mutating func enumNumber(_ field: Field) throws -> Int32? {
        switch try reader.peekKind() {
        case .string:
            try reader.readString(into: &text)
            let name = String(decoding: text, as: UTF8.self)
            if let (negative, magnitude) = text.withUnsafeBytes({ ScalarText.integer($0) }), magnitude <= UInt64(Int32.max) + 1 {
                // A number in a string, as the official parsers also read it.
                let value = negative ? -Int64(magnitude) : Int64(magnitude)
                guard let number = Int32(exactly: value) else { throw CodecError("\(value) is out of range for an enum") }
                return number
            }
            guard let number = schema.enums[field.typeName]?.number(named: name) else {
                if ignoresUnknownFields { return nil }
                throw CodecError("unknown value '\(name)' of enum \(field.typeName)")
            }
            return number
        case .null where field.typeName == WellKnownType.nullValueEnum:
            try reader.readNull()
            return 0
        case .number:
            return Int32(try integer(in: Int64(Int32.min)...Int64(Int32.max), field.kind))
        default:
            throw CodecError("expected an enum name or number of \(field.typeName)")
        }
    }

    /// An integer from a JSON number (integral, possibly with exponent) or a string of digits.
    private mutating func integerParts() throws -> (negative: Bool, magnitude: UInt64) {
        switch try reader.peekKind() {
        case .number:
            return try JSONToProto.integerParts(of: try reader.readNumber().text)
        case .string:
            try reader.readString(into: &text)
            return try text.withUnsafeBytes { try JSONToProto.integerParts(of: $0) }
        default:
            throw CodecError("expected an integer (a number or a string)")
        }
    }

    /// Digits, or an integral value in exponent or fraction form ("1e2", "5.0"), as the official
    /// runtime takes them.
    private static func integerParts(of text: UnsafeRawBufferPointer) throws -> (negative: Bool, magnitude: UInt64) {
        if let parts = ScalarText.integer(text) { return parts }
        guard let value = ScalarText.double(text), value.rounded() == value, abs(value) < 0x1p64 else {
            throw CodecError("'\(String(decoding: text, as: UTF8.self))' is not an integer in range")
        }
        return (value < 0, UInt64(abs(value)))
    }

    private mutating func integer(in range: ClosedRange<Int64>, _ kind: Field.Kind) throws -> Int64 {
        let (negative, magnitude) = try integerParts()
        let value: Int64?
        if negative {
            value = magnitude <= UInt64(Int64.max) + 1 ? (magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)) : nil
        } else {
            value = magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
        }
        guard let value, range.contains(value) else {
            throw CodecError("\(negative ? "-" : "")\(magnitude) is out of range for \(kind)")
        }
        return value
    }

    private mutating func unsignedInteger(maximum: UInt64) throws -> UInt64 {
        let (negative, magnitude) = try integerParts()
        guard !negative || magnitude == 0 else { throw CodecError("-\(magnitude) is negative: the field is unsigned") }
        guard magnitude <= maximum else { throw CodecError("\(magnitude) is out of range (at most \(maximum))") }
        return magnitude
    }

    private mutating func floatingPoint() throws -> Double {
        switch try reader.peekKind() {
        case .number:
            let number = try reader.readNumber()
            let value = number.tokenValue
            guard value.isFinite else {
                throw CodecError("\(String(decoding: number.text, as: UTF8.self)) is out of range for a double")
            }
            return value
        case .string:
            try reader.readString(into: &text)
            let word = String(decoding: text, as: UTF8.self)
            switch word {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                guard let value = text.withUnsafeBytes({ ScalarText.double($0) }), value.isFinite else {
                    throw CodecError("'\(word)' is not a number")
                }
                return value
            }
        default:
            throw CodecError("expected a number")
        }
    }

    /// A map key (always a JSON string) as the entry's key field (number 1).
    private mutating func mapKey(_ key: String, _ field: Field) throws {
        if field.kind == .string {
            writer.tag(1, .lengthDelimited)
            writer.varint(UInt64(key.utf8.count))
            writer.append(contentsOf: key.utf8)
            return
        }
        let bits: UInt64
        if field.kind == .bool {
            guard key == "true" || key == "false" else { throw CodecError("map key '\(key)' is not a bool") }
            bits = key == "true" ? 1 : 0
        } else {
            // Parse the key as if it were a JSON string value of the key's type.
            var keyReader = JSONToProto(schema: schema, json: UnsafeRawBufferPointer(start: nil, count: 0), ignoresUnknownFields: false)
            let quoted = Array(("\"" + key + "\"").utf8)
            let keyBits = try quoted.withUnsafeBytes { bytes in
                keyReader.reader = JSONReader(bytes)
                return try keyReader.scalarBits(field)
            }
            guard let keyBits else { throw CodecError("map key '\(key)' is not a \(field.kind)") }
            bits = keyBits
        }
        writer.field(1, .bits(bits, field.kind.wireType))
    }

    // MARK: Well-known types

    private mutating func wellKnown(_ wellKnown: WellKnownType, type: MessageType, depth: Int) throws {
        switch wellKnown {
        case .timestamp, .duration:
            guard try reader.peekKind() == .string else { throw CodecError("expected a string for \(type.fullName)") }
            try reader.readString(into: &text)
            var word: String { String(decoding: text, as: UTF8.self) }  // for durations and messages
            let parsed = wellKnown == .timestamp ? ScalarText.timestamp(text) : ScalarText.duration(word)
            guard let (seconds, nanos) = parsed else {
                throw CodecError(wellKnown == .timestamp ? "invalid RFC 3339 timestamp '\(word)'" : "invalid duration '\(word)' (e.g. \"1.5s\")")
            }
            if seconds != 0 {
                writer.tag(1, .varint)
                writer.varint(UInt64(bitPattern: seconds))
            }
            if nanos != 0 {
                writer.tag(2, .varint)
                writer.varint(UInt64(bitPattern: Int64(nanos)))
            }
        case .structValue:
            guard let field = type.fields.first, field.isMap else { throw CodecError("malformed google.protobuf.Struct schema") }
            try fieldValue(field, depth: depth)
        case .listValue:
            guard let field = type.fields.first else { throw CodecError("malformed google.protobuf.ListValue schema") }
            try fieldValue(field, depth: depth)
        case .value:
            try valueBody(type, depth: depth)
        default:
            guard let field = type.fields.first else { throw CodecError("malformed \(type.fullName) schema") }
            try singleValue(field, depth: depth, alwaysWrite: false)
        }
    }

    /// google.protobuf.Value from any JSON value: the kind oneof's member that fits it.
    private mutating func valueBody(_ type: MessageType, depth: Int) throws {
        func member(_ name: String) throws -> Field {
            guard let field = type.field(named: name) else { throw CodecError("malformed google.protobuf.Value schema") }
            return field
        }
        switch try reader.peekKind() {
        case .null:
            try reader.readNull()
            writer.tag(try member("null_value").number, .varint)
            writer.varint(0)
        case .number: try singleValue(try member("number_value"), depth: depth, alwaysWrite: true)
        case .string: try singleValue(try member("string_value"), depth: depth, alwaysWrite: true)
        case .bool: try singleValue(try member("bool_value"), depth: depth, alwaysWrite: true)
        case .object: try singleValue(try member("struct_value"), depth: depth, alwaysWrite: true)
        case .array: try singleValue(try member("list_value"), depth: depth, alwaysWrite: true)
        }
    }
}

/// A set of small non-negative integers (field and oneof positions) that needs no heap memory
/// below 128.
struct SmallIntSet {
    private var low: UInt64 = 0
    private var high: UInt64 = 0
    private var rest: Set<Int> = []

    /// Adds `value`; false when it was already there.
    mutating func insert(_ value: Int) -> Bool {
        switch value {
        case 0..<64:
            let bit = UInt64(1) << UInt64(value)
            defer { low |= bit }
            return low & bit == 0
        case 64..<128:
            let bit = UInt64(1) << UInt64(value - 64)
            defer { high |= bit }
            return high & bit == 0
        default:
            return rest.insert(value).inserted
        }
    }
}

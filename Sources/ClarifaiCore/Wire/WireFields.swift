/// One field occurrence read off the wire: a varint or fixed-width value, or the payload of a
/// length-delimited one (string, bytes, message, packed list).
enum WireValue {
    case bits(UInt64, WireReader.WireType)
    case payload(UnsafeRawBufferPointer)

    var payload: UnsafeRawBufferPointer? { if case .payload(let bytes) = self { return bytes } else { return nil } }

    var float: Float? {
        if case .bits(let bits, .fixed32) = self { return Float(bitPattern: UInt32(truncatingIfNeeded: bits)) }
        return nil
    }

    var varint: UInt64? { if case .bits(let bits, .varint) = self { return bits } else { return nil } }
}

enum WireFields {
    /// Calls `visit` with the number and value of each field of a message, in wire order (groups
    /// are skipped). Throws WireReader.WireError on malformed input.
    static func forEach(_ bytes: UnsafeRawBufferPointer, _ visit: (Int, WireValue) throws -> Void) throws {
        var reader = WireReader(bytes)
        while let (number, wireType) = try reader.readTag() {
            switch wireType {
            case .varint: try visit(Int(number), .bits(try reader.readVarint(), .varint))
            case .fixed32: try visit(Int(number), .bits(UInt64(try reader.readFixed32()), .fixed32))
            case .fixed64: try visit(Int(number), .bits(try reader.readFixed64(), .fixed64))
            case .lengthDelimited: try visit(Int(number), .payload(try reader.readLengthDelimited()))
            case .startGroup, .endGroup: try reader.skip(wireType)
            }
        }
    }

    /// The payloads of every occurrence of length-delimited field `number`, in wire order.
    static func payloads(_ bytes: UnsafeRawBufferPointer, _ number: Int) throws -> [UnsafeRawBufferPointer] {
        var found: [UnsafeRawBufferPointer] = []
        try forEach(bytes) { field, value in
            if field == number, let payload = value.payload { found.append(payload) }
        }
        return found
    }

    /// Checks a whole message as the official runtime does when it parses one: the wire format at
    /// every level, and UTF-8 in string fields. Unknown fields are stepped over. The error names
    /// the field path (an unknown field by its number). A message that passes the schema's flat
    /// checks is done in one tight pass; the others are walked again field by field, to name
    /// what is wrong.
    static func validate(_ bytes: UnsafeRawBufferPointer, type: MessageType, schema: Schema) throws(CodecError) {
        if schema.wireChecks.passes(bytes, type: type.index) { return }
        try validateByField(bytes, type: type, schema: schema, depth: 0)
    }

    /// validate's second pass, which names the field at fault.
    static func validateByField(_ bytes: UnsafeRawBufferPointer, type: MessageType, schema: Schema, depth: Int) throws(CodecError) {
        guard depth < ProtoToJSON.maximumDepth else { throw CodecError("messages nested deeper than \(ProtoToJSON.maximumDepth) levels") }
        do {
            var reader = WireReader(bytes)
            while let (number, wireType) = try reader.readTag() {
                let field = type.fieldIndex(number: Int(number)).map { type.fields[$0] }
                try within(field?.name ?? "field \(number)") {
                    guard wireType == .lengthDelimited else { return try reader.skip(wireType) }
                    let payload = try reader.readLengthDelimited()
                    guard let field else { return }
                    switch field.kind {
                    case .message, .group:
                        guard let nested = schema.messageType(of: field) else { return }
                        try validateByField(payload, type: nested, schema: schema, depth: depth + 1)
                    case .string:
                        guard ProtoToJSON.isValidUTF8(payload) else { throw CodecError("string is not valid UTF-8") }
                    default:
                        break
                    }
                }
            }
        } catch {
            throw CodecError(converting: error)
        }
    }
}

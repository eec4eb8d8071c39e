import CJansson

/// Maps a call onto the REST API with the method's google.api.http bindings: picks the binding
/// whose path variables the request fills best, puts those values into the path
/// (percent-encoded), and sends the rest as a JSON body (body "*") or as query parameters.
struct RESTBinding {
    let verb: String
    /// Path and query, to append to the base URL.
    let target: String
    let body: [UInt8]?

    /// `message`: the serialized request, already checked against the schema.
    init(method: Method, message: UnsafeRawBufferPointer, schema: Schema) throws {
        guard let inputType = schema.message(method.inputType) else {
            throw ClarifaiError(.internal, "\(method.name): request type \(method.inputType) is missing from the schema")
        }
        guard !method.httpRules.isEmpty else {
            throw ClarifaiError(.unsupported, "\(method.name) has no REST binding: use a gRPC channel")
        }
        // The filled binding with the most path variables; the first of equals.
        var best: (rule: HTTPRule, values: [PathValue])?
        for rule in method.httpRules {
            let values = rule.variables.compactMap { PathValue(path: $0, in: message, type: inputType, schema: schema) }
            guard values.count == rule.variables.count, values.count > best?.values.count ?? -1 else { continue }
            best = (rule, values)
        }
        guard let (rule, values) = best else {
            throw ClarifaiError.invalidArgument(RESTBinding.unfilledMessage(method, message: message, type: inputType, schema: schema))
        }

        var path = ""
        var remainingValues = values[...]
        for segment in rule.segments {
            switch segment {
            case .literal(let text): path += "/" + text
            case .variable: path += "/" + PercentEncoding.pathSegment(remainingValues.popFirst()?.text ?? "")
            }
        }
        // The rest of the request, in the REST API's JSON form, without the fields of the path.
        let rest: [UInt8]
        do {
            rest = try ProtoToJSON.convert(message, type: inputType, schema: schema, excluding: FieldPathSet(values.map(\.path)))
        } catch {
            throw error.clarifaiError(messageType: inputType.fullName)
        }
        verb = rule.verb
        if rule.body == "*" {
            target = path
            body = rest
        } else {
            let tree = try rest.withUnsafeBytes { try JSONTree.parse($0, what: "\(method.name): request") }
            var query: [String] = []
            try QueryEncoder(method: method.name, schema: schema).append(tree.root, type: inputType, prefix: "", into: &query)
            target = query.isEmpty ? path : path + "?" + query.joined(separator: "&")
            body = nil
        }
    }

    private static func unfilledMessage(_ method: Method, message: UnsafeRawBufferPointer, type: MessageType, schema: Schema) -> String {
        let missing = { (rule: HTTPRule) in rule.variables.filter { PathValue(path: $0, in: message, type: type, schema: schema) == nil } }
        guard let closest = method.httpRules.min(by: { missing($0).count < missing($1).count }) else { return "\(method.name): no REST path" }
        let fields = missing(closest).map { $0.joined(separator: ".") }
        let template = closest.segments.map {
            switch $0 {
            case .literal(let text): return text
            case .variable(let path): return "{" + path.joined(separator: ".") + "}"
            }
        }.joined(separator: "/")
        return "\(method.name): the request does not fill any of its REST paths; set \(fields.joined(separator: ", ")) (for \(closest.verb) /\(template))"
    }
}

/// A path variable's value in the request: the text of a non-empty string or non-zero number
/// found by following field names through the serialized message.
private struct PathValue {
    let path: [String]
    let text: String

    init?(path: [String], in message: UnsafeRawBufferPointer, type: MessageType, schema: Schema) {
        var bytes = Array(message)
        var messageType = type
        for (depth, name) in path.enumerated() {
            guard let field = messageType.field(named: name), !field.isRepeated,
                  let occurrences = try? PathValue.occurrences(of: field.number, in: bytes), let last = occurrences.last else {
                return nil
            }
            if depth < path.count - 1 {
                // A message field seen several times is the merge of its parts (as the client's
                // user_app_id filling relies on).
                guard field.kind == .message, let next = schema.message(field.typeName) else { return nil }
                bytes = occurrences.flatMap(\.payload)
                messageType = next
                continue
            }
            switch field.kind {
            case .string:
                guard !last.payload.isEmpty else { return nil }
                text = String(decoding: last.payload, as: UTF8.self)
            case .int32, .int64, .enum: text = String(Int64(bitPattern: last.bits))
            case .uint32, .uint64, .fixed32, .fixed64: text = String(last.bits)
            default: return nil
            }
            guard last.bits != 0 || field.kind == .string else { return nil }
            self.path = path
            return
        }
        return nil
    }

    private struct Occurrence {
        var bits: UInt64 = 0
        var payload: [UInt8] = []
    }

    private static func occurrences(of number: Int, in bytes: [UInt8]) throws -> [Occurrence] {
        try bytes.withUnsafeBytes { buffer in
            var reader = WireReader(buffer)
            var found: [Occurrence] = []
            while let (field, wireType) = try reader.readTag() {
                guard field == UInt64(number) else {
                    try reader.skip(wireType)
                    continue
                }
                switch wireType {
                case .varint: found.append(Occurrence(bits: try reader.readVarint()))
                case .fixed32: found.append(Occurrence(bits: UInt64(try reader.readFixed32())))
                case .fixed64: found.append(Occurrence(bits: try reader.readFixed64()))
                case .lengthDelimited: found.append(Occurrence(payload: Array(try reader.readLengthDelimited())))
                case .startGroup, .endGroup: try reader.skip(wireType)
                }
            }
            return found
        }
    }
}

/// Flattens a request message into query parameters the way grpc-gateway reads them: dotted
/// original field names for nested messages, one key per element of a repeated field.
private struct QueryEncoder {
    let method: String
    let schema: Schema

    func append(_ node: JSONNode, type: MessageType, prefix: String, into query: inout [String]) throws {
        for (key, value) in node.members where !value.isNull {
            guard let field = type.field(named: key) else {
                throw ClarifaiError.invalidArgument("\(method): unknown field '\(prefix)\(key)' in \(type.fullName)")
            }
            let name = prefix + field.name
            if field.isRepeated {
                guard value.isArray else {
                    throw ClarifaiError.invalidArgument("\(method): field '\(name)' is repeated: give a JSON array")
                }
                for element in value.elements { try appendValue(element, field: field, name: name, into: &query) }
            } else {
                try appendValue(value, field: field, name: name, into: &query)
            }
        }
    }

    private func appendValue(_ value: JSONNode, field: Field, name: String, into query: inout [String]) throws {
        switch value.type {
        case JSON_OBJECT:
            guard field.kind == .message, let type = schema.message(field.typeName), !type.isMapEntry,
                  !type.fullName.hasPrefix("google.protobuf.") else {
                throw ClarifaiError.invalidArgument("\(method): field '\(name)' cannot be sent as a query parameter on this GET/DELETE binding")
            }
            try append(value, type: type, prefix: name + ".", into: &query)
        case JSON_ARRAY:
            throw ClarifaiError.invalidArgument("\(method): field '\(name)' is not repeated: a JSON array does not fit")
        case JSON_STRING:
            query.append(PercentEncoding.component(name) + "=" + PercentEncoding.component(value.string ?? ""))
        default:
            query.append(PercentEncoding.component(name) + "=" + PercentEncoding.component(value.serialized()))
        }
    }
}

/// RFC 3986 percent-encoding: everything but the unreserved characters is escaped.
enum PercentEncoding {
    static func component(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if isUnreserved(byte) {
                result.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                result += "%" + hexDigit(byte >> 4) + hexDigit(byte & 0xF)
            }
        }
        return result
    }

    /// A path segment: also "." and "..", which would otherwise move up the path.
    static func pathSegment(_ text: String) -> String {
        text == "." || text == ".." ? String(repeating: "%2E", count: text.count) : component(text)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func hexDigit(_ value: UInt8) -> String { String(UnicodeScalar(value < 10 ? 48 + value : 55 + value)) }
}

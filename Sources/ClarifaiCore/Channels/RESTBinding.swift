import CJansson

/// Maps a call onto the REST API with the method's google.api.http bindings: picks the binding
/// whose path variables the request fills best, puts those values into the path
/// (percent-encoded), and sends the rest as a JSON body (body "*") or as query parameters.
struct RESTBinding {
    let verb: String
    /// Path and query, to append to the base URL.
    let target: String
    let body: String?

    init(method: Method, request: JSONNode, schema: Schema) throws {
        guard let inputType = schema.message(method.inputType) else {
            throw ClarifaiError(.internal, "\(method.name): request type \(method.inputType) is missing from the schema")
        }
        guard !method.httpRules.isEmpty else {
            throw ClarifaiError(.unsupported, "\(method.name) has no REST binding: use a gRPC channel")
        }
        // The filled binding with the most path variables; the first of equals.
        var best: (rule: HTTPRule, values: [PathValue])?
        for rule in method.httpRules {
            let values = rule.variables.compactMap { PathValue(path: $0, in: request, type: inputType, schema: schema) }
            guard values.count == rule.variables.count, values.count > best?.values.count ?? -1 else { continue }
            best = (rule, values)
        }
        guard let (rule, values) = best else {
            throw ClarifaiError.invalidArgument(RESTBinding.unfilledMessage(method, request: request, type: inputType, schema: schema))
        }

        var path = ""
        var remainingValues = values[...]
        for segment in rule.segments {
            switch segment {
            case .literal(let text): path += "/" + text
            case .variable: path += "/" + PercentEncoding.pathSegment(remainingValues.popFirst()?.text ?? "")
            }
        }
        // The rest of the request, without the fields that went into the path.
        let rest = JSONTree.copy(of: request)
        for value in values { RESTBinding.remove(value.jsonKeys, from: rest.root) }

        verb = rule.verb
        if rule.body == "*" {
            target = path
            body = rest.root.serialized()
        } else {
            var query: [String] = []
            try QueryEncoder(method: method.name, schema: schema).append(rest.root, type: inputType, prefix: "", into: &query)
            target = query.isEmpty ? path : path + "?" + query.joined(separator: "&")
            body = nil
        }
    }

    /// Removes the value at `keys`, then every object on the way that it left empty.
    private static func remove(_ keys: [String], from node: JSONNode) {
        guard let first = keys.first else { return }
        if keys.count == 1 {
            node.remove(first)
        } else if let child = node[first] {
            remove(Array(keys.dropFirst()), from: child)
            if child.isObject && !child.isSetValue { node.remove(first) }
        }
    }

    private static func unfilledMessage(_ method: Method, request: JSONNode, type: MessageType, schema: Schema) -> String {
        let closest = method.httpRules.min { lhs, rhs in
            missing(lhs, request: request, type: type, schema: schema).count < missing(rhs, request: request, type: type, schema: schema).count
        }!
        let fields = missing(closest, request: request, type: type, schema: schema).map { $0.joined(separator: ".") }
        let template = closest.segments.map {
            switch $0 {
            case .literal(let text): return text
            case .variable(let path): return "{" + path.joined(separator: ".") + "}"
            }
        }.joined(separator: "/")
        return "\(method.name): the request does not fill any of its REST paths; set \(fields.joined(separator: ", ")) (for \(closest.verb) /\(template))"
    }

    private static func missing(_ rule: HTTPRule, request: JSONNode, type: MessageType, schema: Schema) -> [[String]] {
        rule.variables.filter { PathValue(path: $0, in: request, type: type, schema: schema) == nil }
    }
}

/// A path variable's value found in the request, and the JSON keys that led to it (the request
/// may use original or lowerCamel names).
private struct PathValue {
    let text: String
    let jsonKeys: [String]

    init?(path: [String], in request: JSONNode, type: MessageType, schema: Schema) {
        var node = request
        var messageType: MessageType? = type
        var keys: [String] = []
        for name in path {
            guard let field = messageType?.field(named: name) else { return nil }
            guard let (key, child) = [field.name, field.jsonName].lazy.compactMap({ key in node[key].map { (key, $0) } }).first else {
                return nil
            }
            keys.append(key)
            node = child
            messageType = field.kind == .message ? schema.message(field.typeName) : nil
        }
        guard node.isSetValue else { return nil }
        switch node.type {
        case JSON_STRING: text = node.string ?? ""
        case JSON_INTEGER, JSON_REAL, JSON_TRUE: text = node.serialized()
        default: return nil
        }
        jsonKeys = keys
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

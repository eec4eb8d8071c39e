import CJansson

/// Maps a call onto the REST API with the method's google.api.http bindings: picks the binding
/// whose path variables the request fills best, puts those values into the path
/// (percent-encoded), and sends the rest as a JSON body (body "*") or as query parameters.
struct RESTBinding {
    let verb: String
    /// Path and query, to append to the base URL.
    let target: String
    let body: [UInt8]?

    init(verb: String, target: String, body: [UInt8]?) {
        self.verb = verb
        self.target = target
        self.body = body
    }

    /// `message`: the serialized request, already checked against the schema.
    init(method: Method, message: UnsafeRawBufferPointer, schema: Schema) throws {
        let route = RESTRoute.table(of: schema)[method.index]
        guard let inputType = route.inputType else {
            throw ClarifaiError(.internal, "\(method.name): request type \(method.inputType) is missing from the schema")
        }
        guard !route.rules.isEmpty else {
            throw ClarifaiError(.unsupported, "\(method.name) has no REST binding: use a gRPC channel")
        }
        // Each variable's value read once.
        let values = route.variables.map { $0.value(in: message) }
        guard let chosen = route.bestRule(filled: { values[$0] != nil }) else {
            throw ClarifaiError.invalidArgument(route.unfilledMessage(method, values: values))
        }
        let rule = route.rules[chosen]
        let path = rule.path { values[$0] }
        // The rest of the request, in the REST API's JSON form, without the fields of the path.
        let rest: [UInt8]
        do {
            rest = try ProtoToJSON.convert(message, type: inputType, schema: schema, excluding: rule.excluded).array
        } catch {
            throw error.clarifaiError(messageType: inputType.fullName)
        }
        verb = rule.verb
        if rule.body == "*" {
            target = String(decoding: path, as: UTF8.self)
            body = rest
        } else {
            let tree = try rest.withUnsafeBytes { try JSONTree.parse($0, what: "\(method.name): request") }
            var query: [String] = []
            try QueryEncoder(method: method.name, schema: schema).append(tree.root, type: inputType, prefix: "", into: &query)
            let pathText = String(decoding: path, as: UTF8.self)
            target = query.isEmpty ? pathText : pathText + "?" + query.joined(separator: "&")
            body = nil
        }
    }
}

/// What a method's REST bindings need, worked out once per method (for the built-in schema, once
/// per process): each rule's verb and path, and every distinct path variable with the field
/// numbers it follows, so that a call reads each value once, straight from the serialized request.
final class RESTRoute: Sendable {
    enum Segment: Sendable {
        /// "/" and the literal text.
        case literal([UInt8])
        /// An index into `variables`.
        case variable(Int)
    }

    struct Rule: Sendable {
        let verb: String
        let body: String
        let segments: [Segment]
        /// The variables it needs (indexes into `variables`).
        let needs: [Int]
        /// Their fields, which the JSON body or query leaves out.
        let excluded: FieldPathSet
        /// The path template as the API documents it, for messages.
        let template: String

        /// The path with the variables' values (percent-encoded), `value` giving each by index.
        func path(_ value: (Int) -> PathValue?) -> [UInt8] {
            var path: [UInt8] = []
            path.reserveCapacity(128)
            for segment in segments {
                switch segment {
                case .literal(let text): path += text
                case .variable(let index):
                    path.append(UInt8(ascii: "/"))
                    value(index)?.withBytes { PercentEncoding.appendPathSegment($0, to: &path) }
                }
            }
            return path
        }
    }

    /// The index of the filled rule with the most variables (the first of equals), `filled`
    /// telling by variable index.
    func bestRule(filled: (Int) -> Bool) -> Int? {
        var chosen: Int?
        for (index, rule) in rules.enumerated()
        where rule.needs.count > chosen.map({ rules[$0].needs.count }) ?? -1 && rule.needs.allSatisfy(filled) {
            chosen = index
        }
        return chosen
    }

    let inputType: MessageType?
    let rules: [Rule]
    let variables: [PathVariable]

    init(_ method: Method, messageNamed message: (String) -> MessageType?) {
        let inputType = message(method.inputType)
        var variables: [PathVariable] = []
        rules = method.httpRules.map { rule in
            var needs: [Int] = []
            let segments = rule.segments.map { segment -> Segment in
                switch segment {
                case .literal(let text): return .literal(Array("/\(text)".utf8))
                case .variable(let names):
                    let index = variables.firstIndex { $0.names == names } ?? {
                        variables.append(PathVariable(names: names, from: inputType, messageNamed: message))
                        return variables.count - 1
                    }()
                    needs.append(index)
                    return .variable(index)
                }
            }
            let template = rule.segments.map {
                switch $0 {
                case .literal(let text): return text
                case .variable(let names): return "{" + names.joined(separator: ".") + "}"
                }
            }.joined(separator: "/")
            return Rule(verb: rule.verb, body: rule.body, segments: segments, needs: needs,
                        excluded: FieldPathSet(needs.compactMap { variables[$0].steps?.map(\.number) }), template: template)
        }
        self.inputType = inputType
        self.variables = variables
    }

    private static let official = table(for: .official)

    /// Every method's, by Method.index.
    static func table(of schema: Schema) -> [RESTRoute] { schema === Schema.official ? official : table(for: schema) }

    private static func table(for schema: Schema) -> [RESTRoute] {
        schema.methods.map { RESTRoute($0, messageNamed: schema.message) }
    }

    /// Names the fields of the rule closest to being filled.
    func unfilledMessage(_ method: Method, values: [PathValue?]) -> String {
        let missing = { (rule: Rule) in rule.needs.filter { values[$0] == nil } }
        guard let closest = rules.min(by: { missing($0).count < missing($1).count }) else { return "\(method.name): no REST path" }
        let fields = missing(closest).map { variables[$0].names.joined(separator: ".") }
        return "\(method.name): the request does not fill any of its REST paths; set \(fields.joined(separator: ", ")) (for \(closest.verb) /\(closest.template))"
    }
}

/// A path variable (`user_app_id.user_id`): the field numbers it follows through the request.
struct PathVariable: Sendable {
    struct Step: Sendable {
        let number: Int
        let kind: Field.Kind
    }

    let names: [String]
    /// nil when the schema has no such path of singular fields (messages on the way).
    let steps: [Step]?

    init(names: [String], from type: MessageType?, messageNamed message: (String) -> MessageType?) {
        self.names = names
        var steps: [Step] = []
        var type = type
        for (depth, name) in names.enumerated() {
            guard let field = type?.field(named: name), !field.isRepeated,
                  depth == names.count - 1 || field.kind == .message else {
                self.steps = nil
                return
            }
            steps.append(Step(number: field.number, kind: field.kind))
            type = depth < names.count - 1 ? message(field.typeName) : nil
        }
        self.steps = steps
    }

    /// The text of the non-empty string or non-zero number the path leads to in `message`; nil
    /// when it leads to nothing (absent, empty, zero, or a kind a path cannot hold).
    func value(in message: UnsafeRawBufferPointer) -> PathValue? {
        steps.flatMap { PathVariable.value(of: $0[...], in: message) }
    }

    private static func value(of steps: ArraySlice<Step>, in message: UnsafeRawBufferPointer) -> PathValue? {
        guard let step = steps.first else { return nil }
        var reader = WireReader(message)
        var lastBits: UInt64?, lastPayload: UnsafeRawBufferPointer?
        // A message field seen in parts: the first, and an array only when there are more.
        var firstPart: UnsafeRawBufferPointer?
        var parts: [UnsafeRawBufferPointer] = []
        do {
            while let (field, wireType) = try reader.readTag() {
                guard field == UInt64(step.number) else {
                    try reader.skip(wireType)
                    continue
                }
                lastPayload = nil
                switch wireType {
                case .varint: lastBits = try reader.readVarint()
                case .fixed32: lastBits = UInt64(try reader.readFixed32())
                case .fixed64: lastBits = try reader.readFixed64()
                case .lengthDelimited:
                    let payload = try reader.readLengthDelimited()
                    (lastBits, lastPayload) = (0, payload)
                    if firstPart == nil { firstPart = payload } else { parts.append(payload) }
                case .startGroup, .endGroup: try reader.skip(wireType)
                }
            }
        } catch {
            return nil
        }
        guard let bits = lastBits else { return nil }
        if steps.count > 1 {
            guard let firstPart else { return nil }
            if parts.isEmpty { return value(of: steps.dropFirst(), in: firstPart) }
            // A message field seen several times is the merge of its parts (as the client's
            // user_app_id filling relies on); the value is copied out of the merge.
            let merged = Array(firstPart) + parts.flatMap { Array($0) }
            return merged.withUnsafeBytes { value(of: steps.dropFirst(), in: $0)?.withBytes { PathValue.text(Array($0)) } }
        }
        switch step.kind {
        case .string:
            guard let payload = lastPayload, !payload.isEmpty else { return nil }
            return .bytes(payload)
        case .int32, .int64, .enum: return bits == 0 ? nil : .text(Array(String(Int64(bitPattern: bits)).utf8))
        case .uint32, .uint64, .fixed32, .fixed64: return bits == 0 ? nil : .text(Array(String(bits).utf8))
        default: return nil
        }
    }
}

/// A path variable's value: a string in the request message (valid while the message is), a
/// number's text, or a string given as such.
enum PathValue {
    case bytes(UnsafeRawBufferPointer)
    case text([UInt8])
    case string(String)

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .bytes(let bytes): return body(bytes)
        case .text(let text): return text.withUnsafeBytes(body)
        case .string(var string): return string.withUTF8 { body(UnsafeRawBufferPointer($0)) }
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
        var encoded: [UInt8] = []
        append(text.utf8, to: &encoded)
        return String(decoding: encoded, as: UTF8.self)
    }

    /// A path segment: also "." and "..", which would otherwise move up the path.
    static func appendPathSegment(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        if (1...2).contains(bytes.count) && bytes.allSatisfy({ $0 == UInt8(ascii: ".") }) {
            for _ in bytes { output += Array("%2E".utf8) }
            return
        }
        // Runs of unreserved bytes (usually the whole value) copied at once.
        var runStart = 0
        for (index, byte) in bytes.enumerated() where !unreserved[Int(byte)] {
            output.append(contentsOf: bytes[runStart..<index])
            appendEscaped(byte, to: &output)
            runStart = index + 1
        }
        output.append(contentsOf: bytes[runStart...])
    }

    private static func append<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to output: inout [UInt8]) {
        for byte in bytes {
            if unreserved[Int(byte)] { output.append(byte) } else { appendEscaped(byte, to: &output) }
        }
    }

    private static func appendEscaped(_ byte: UInt8, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "%"))
        output.append(hexDigits[Int(byte >> 4)])
        output.append(hexDigits[Int(byte & 0xF)])
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static let unreserved: [Bool] = (0...255).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}

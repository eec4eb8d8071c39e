import CClarifaiSchema

/// The official API definition, parsed from the embedded FileDescriptorSet: message and enum
/// types, and the V2 service's methods with their google.api.http bindings. Immutable.
public final class Schema: Sendable {
    /// The schema built into the library; parsed on first use (Swift globals initialize once,
    /// thread-safely).
    public static let official: Schema = {
        let bytes = UnsafeRawBufferPointer(start: cclarifai_descriptor_set_ptr(), count: Int(cclarifai_descriptor_set_size))
        do {
            return try DescriptorParser.parse(bytes, service: "clarifai.api.V2")
        } catch {
            fatalError("libclarifai: the embedded API descriptor does not parse: \(error)")
        }
    }()

    /// The clarifai-grpc release the schema was generated from.
    public static var apiVersion: UnsafePointer<CChar> { cclarifai_api_version_ptr() }

    let messages: [String: MessageType]
    let enums: [String: EnumType]
    /// The service's methods in declaration order.
    public let methods: [Method]
    private let methodIndex: [String: Int]

    init(messages: [String: MessageType], enums: [String: EnumType], methods: [Method]) {
        self.messages = messages
        self.enums = enums
        self.methods = methods
        methodIndex = Dictionary(methods.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func method(named name: String) -> Method? { methodIndex[name].map { methods[$0] } }

    func message(_ fullName: String) -> MessageType? { messages[fullName] }
}

/// A protobuf message type.
final class MessageType: Sendable {
    let fullName: String
    let fields: [Field]
    let isMapEntry: Bool
    /// Set for the google.protobuf types with a JSON form of their own.
    let wellKnown: WellKnownType?
    private let byName: [String: Int]
    private let byNumber: [Int: Int]

    init(fullName: String, fields: [Field], isMapEntry: Bool) {
        self.fullName = fullName
        self.fields = fields
        self.isMapEntry = isMapEntry
        wellKnown = WellKnownType(rawValue: fullName)
        var byName: [String: Int] = [:]
        for (index, field) in fields.enumerated() {
            byName[field.name] = index
            if byName[field.jsonName] == nil { byName[field.jsonName] = index }
        }
        self.byName = byName
        byNumber = Dictionary(fields.enumerated().map { ($1.number, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// A field by its original (snake_case) name or its JSON (lowerCamel) name.
    func field(named name: String) -> Field? { byName[name].map { fields[$0] } }

    /// The position in `fields` of the field with this number.
    func fieldIndex(number: Int) -> Int? { byNumber[number] }

    /// The position in `fields` of the field with this original or JSON name.
    func fieldIndex(named name: String) -> Int? { byName[name] }
}

/// A field of a message type. A class: the codec reads fields in its inner loops, and a struct
/// of several strings would be copied (retained and released) at each read.
final class Field: Sendable {
    enum Kind: Int, Sendable {
        case double = 1, float, int64, uint64, int32, fixed64, fixed32, bool, string, group, message,
             bytes, uint32, `enum`, sfixed32, sfixed64, sint32, sint64
    }

    let name: String
    let jsonName: String
    let number: Int
    let kind: Kind
    let isRepeated: Bool
    /// Full name of the message or enum type (no leading dot) for .message and .enum fields.
    let typeName: String
    /// Clarifai's option cl_show_if_empty: the REST API prints the field even at its default.
    let showIfEmpty: Bool
    /// The oneof the field belongs to (proto3 `optional` fields have one of their own).
    let oneofIndex: Int?

    /// Declared in a proto2 file: every singular field has explicit presence.
    let isProto2: Bool
    /// Filled in for map fields (the entry type's key and value fields).
    let mapEntry: MapEntry?

    init(name: String, jsonName: String, number: Int, kind: Kind, isRepeated: Bool, typeName: String,
         showIfEmpty: Bool, oneofIndex: Int?, isProto2: Bool, mapEntry: MapEntry?) {
        self.name = name
        self.jsonName = jsonName
        self.number = number
        self.kind = kind
        self.isRepeated = isRepeated
        self.typeName = typeName
        self.showIfEmpty = showIfEmpty
        self.oneofIndex = oneofIndex
        self.isProto2 = isProto2
        self.mapEntry = mapEntry
    }

    /// The same field with its map entry resolved.
    func with(mapEntry: MapEntry) -> Field {
        Field(name: name, jsonName: jsonName, number: number, kind: kind, isRepeated: isRepeated, typeName: typeName,
              showIfEmpty: showIfEmpty, oneofIndex: oneofIndex, isProto2: isProto2, mapEntry: mapEntry)
    }

    /// Whether a default value still counts as set (messages, oneof members, proto3 optional,
    /// proto2 fields).
    var hasPresence: Bool { !isRepeated && (kind == .message || oneofIndex != nil || isProto2) }
    var isMap: Bool { mapEntry != nil }
}

/// A map field's entry type: its key and value fields (a class: a Field holds one).
final class MapEntry: Sendable {
    let key: Field
    let value: Field

    init(key: Field, value: Field) {
        self.key = key
        self.value = value
    }
}

struct EnumType: Sendable {
    let fullName: String
    let values: [(name: String, number: Int32)]

    func number(named name: String) -> Int32? { values.first { $0.name == name }?.number }
}

/// One method of the V2 service.
public struct Method: Sendable {
    public let name: String
    let inputType: String
    let outputType: String
    let serverStreaming: Bool
    let clientStreaming: Bool
    /// The google.api.http rule followed by its additional_bindings.
    let httpRules: [HTTPRule]
}

/// A google.api.http binding: verb, path template and body selector ("*" or "").
struct HTTPRule: Sendable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        /// A `{field.path}` variable, as the path of field names.
        case variable([String])
    }

    let verb: String
    let segments: [Segment]
    let body: String

    var variables: [[String]] {
        segments.compactMap { if case .variable(let path) = $0 { return path } else { return nil } }
    }

    init(verb: String, path: String, body: String) {
        self.verb = verb
        self.body = body
        segments = path.split(separator: "/").map { part in
            if part.hasPrefix("{") && part.hasSuffix("}") {
                return .variable(part.dropFirst().dropLast().split(separator: ".").map(String.init))
            }
            return .literal(String(part))
        }
    }
}

import CClarifaiSchema
import Glibc

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
    /// The message types in a fixed order; `Field.messageIndex` points into it, so the codec
    /// finds a field's type without hashing its name.
    private let messageList: [MessageType]
    let enums: [String: EnumType]
    /// The service's methods in declaration order.
    public let methods: [Method]
    private let methodIndex: [String: Int]
    /// What validating a message checks in each field, by type (see WireFields.validate).
    let wireChecks: WireChecks

    init(messages: [String: MessageType], enums: [String: EnumType], methods: [Method]) {
        self.messages = messages
        messageList = messages.values.sorted { $0.fullName < $1.fullName }
        let positions = Dictionary(uniqueKeysWithValues: messageList.enumerated().map { ($1.fullName, $0) })
        for (position, type) in messageList.enumerated() {
            type.index = position
            for field in type.fields where field.kind == .message || field.kind == .group {
                field.messageIndex = positions[field.typeName] ?? -1
            }
        }
        for type in messageList {
            type.planJSON()
        }
        wireChecks = WireChecks(messageList)
        self.enums = enums
        for (position, method) in methods.enumerated() {
            method.index = position
            method.outputTypeIndex = positions[method.outputType] ?? -1
        }
        self.methods = methods
        methodIndex = Dictionary(methods.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func method(named name: String) -> Method? { methodIndex[name].map { methods[$0] } }

    func message(_ fullName: String) -> MessageType? { messages[fullName] }

    /// The type of a message field; nil for other kinds or a type missing from the schema.
    @inline(__always)
    func messageType(of field: Field) -> MessageType? { messageType(at: field.messageIndex) }

    /// The message type at a position of the schema's list (Field.messageIndex); nil for -1.
    @inline(__always)
    func messageType(at index: Int) -> MessageType? { index >= 0 ? messageList[index] : nil }
}

/// A protobuf message type. Unchecked Sendable: `index` is written only while the Schema is
/// built, before any other thread sees it.
final class MessageType: @unchecked Sendable {
    let fullName: String
    /// Its position in the schema's message types (see Schema.messageType(of:)).
    fileprivate(set) var index = -1
    let fields: [Field]
    let isMapEntry: Bool
    /// Set for the google.protobuf types with a JSON form of their own.
    let wellKnown: WellKnownType?
    let hasOneofs: Bool
    /// Fields printed even when absent (cl_show_if_empty, no presence), in declaration order.
    let shownWhenEmpty: [Int]
    /// Whether ProtoToJSON may write the type's fields as they come on the wire: they are declared
    /// in number order (the order writers emit them in), and it has no map field and no JSON form
    /// of its own (those need their fields gathered first).
    let writableInWireOrder: Bool
    private let byName: [String: Int]
    /// Field positions by number: a table indexed by number (-1 where none) when the numbers are
    /// small, as they nearly always are; a dictionary otherwise.
    private let positionByNumber: [Int32]
    private let byNumber: [Int: Int]
    /// Original and JSON names as bytes, in field order, for lookups of keys read from JSON text:
    /// all in one block of memory the type owns, so a lookup touches no reference counts. `next`:
    /// the entry of the original name of the field that JSON writers list after this one (they
    /// list fields by number), where the search for the next key starts. `quoted`: the name in
    /// quotes as one word (JSONReader.quotedKey), for skipKey.
    private let nameBytes: UnsafeMutableBufferPointer<UInt8>
    private let names: UnsafeMutableBufferPointer<(start: Int, count: Int, field: Int, next: Int, quoted: UInt64)>
    /// Per field position, what reading its JSON value needs, without Field's references (see JSONPlan).
    private let jsonPlans: UnsafeMutableBufferPointer<JSONPlan>
    /// Per field position, the wire types a value of it may come in (bit n: wire type n): the
    /// codec's tag loops check them without touching (and reference counting) Field objects.
    private let acceptedWireTypes: [UInt8]

    init(fullName: String, fields: [Field], isMapEntry: Bool) {
        self.fullName = fullName
        self.fields = fields
        self.isMapEntry = isMapEntry
        wellKnown = WellKnownType(rawValue: fullName)
        hasOneofs = fields.contains { $0.oneofIndex != nil }
        shownWhenEmpty = fields.indices.filter { fields[$0].showIfEmpty && !fields[$0].hasPresence }
        writableInWireOrder = wellKnown == nil && !fields.contains { $0.isMap }
            && zip(fields, fields.dropFirst()).allSatisfy { $0.number < $1.number }
        var byName: [String: Int] = [:]
        for (index, field) in fields.enumerated() {
            byName[field.name] = index
            if byName[field.jsonName] == nil { byName[field.jsonName] = index }
        }
        self.byName = byName
        var nameBytes: [UInt8] = []
        var names: [(start: Int, count: Int, field: Int, next: Int, quoted: UInt64)] = []
        var originalNameEntry: [Int] = []
        for (index, field) in fields.enumerated() {
            originalNameEntry.append(names.count)
            for name in field.jsonName == field.name ? [field.name] : [field.name, field.jsonName] {
                names.append((nameBytes.count, name.utf8.count, index, 0, JSONReader.quotedKey(Array(name.utf8))))
                nameBytes.append(contentsOf: name.utf8)
            }
        }
        // Per field position, the entry of the field with the next larger number (the first after the last).
        let numberOrder = fields.indices.sorted { fields[$0].number < fields[$1].number }
        var following = [Int](repeating: 0, count: fields.count)
        for (rank, index) in numberOrder.enumerated() { following[index] = originalNameEntry[numberOrder[(rank + 1) % numberOrder.count]] }
        for entry in names.indices { names[entry].next = following[names[entry].field] }
        self.nameBytes = .allocate(capacity: nameBytes.count)
        _ = self.nameBytes.initialize(from: nameBytes)
        self.names = .allocate(capacity: names.count)
        _ = self.names.initialize(from: names)
        jsonPlans = .allocate(capacity: fields.count)
        acceptedWireTypes = fields.map { field in
            (0...5).reduce(UInt8(0)) { bits, raw in
                WireReader.WireType(rawValue: raw).map { field.accepts($0) } == true ? bits | 1 << raw : bits
            }
        }
        let largest = fields.map(\.number).max() ?? 0
        var table = [Int32](repeating: -1, count: largest < MessageType.tabledNumbers ? largest + 1 : 0)
        for (index, field) in fields.enumerated().reversed() where !table.isEmpty { table[field.number] = Int32(index) }
        positionByNumber = table
        byNumber = table.isEmpty ? Dictionary(fields.enumerated().map { ($1.number, $0) }, uniquingKeysWith: { first, _ in first }) : [:]
        planJSON()
    }

    /// A field by its original (snake_case) name or its JSON (lowerCamel) name.
    func field(named name: String) -> Field? { byName[name].map { fields[$0] } }

    /// Field numbers below this are looked up in tables indexed by number (here and in
    /// WireChecks); a type with a larger one (none in the API) is read another way.
    static let tabledNumbers = 4096

    /// The position in `fields` of the field with this number.
    func fieldIndex(number: Int) -> Int? {
        if number < positionByNumber.count { return positionByNumber[number] >= 0 ? Int(positionByNumber[number]) : nil }
        return positionByNumber.isEmpty ? byNumber[number] : nil
    }

    /// The position in `fields` of the field with this original or JSON name.
    func fieldIndex(named name: String) -> Int? { byName[name] }

    /// Whether fields[index] takes a value of this wire type (Field.accepts).
    func field(_ index: Int, accepts wireType: WireReader.WireType) -> Bool {
        acceptedWireTypes[index] & 1 << wireType.rawValue != 0
    }

    deinit {
        nameBytes.deallocate()
        names.deallocate()
        jsonPlans.deallocate()
    }

    /// The position in `fields` of the field whose original or JSON name is `key`. The search
    /// starts at `cursor` and leaves it at the field that follows the match by number: JSON
    /// writers list fields by number, so the next key is usually found at the first try.
    func fieldIndex(named key: UnsafeRawBufferPointer, cursor: inout Int) -> Int? {
        let count = names.count
        var position = cursor < count ? cursor : 0
        for _ in 0..<count {
            let candidate = names[position]
            if candidate.count == key.count,
               key.count == 0 || memcmp(nameBytes.baseAddress! + candidate.start, key.baseAddress!, key.count) == 0 {
                cursor = candidate.next
                return candidate.field
            }
            position = position + 1 == count ? 0 : position + 1
        }
        return nil
    }

    /// The key the search from `cursor` tries first (see fieldIndex(named:cursor:)): its name and
    /// quoted word (for JSONReader.skipKey), its field's position, and the cursor after it. nil
    /// for a type without fields.
    @inline(__always)
    func expectedKey(_ cursor: Int) -> (name: UnsafeRawBufferPointer, quoted: UInt64, field: Int, next: Int)? {
        guard !names.isEmpty else { return nil }
        let entry = names[cursor < names.count ? cursor : 0]
        return (UnsafeRawBufferPointer(start: nameBytes.baseAddress! + entry.start, count: entry.count), entry.quoted, entry.field, entry.next)
    }

    @inline(__always)
    func jsonPlan(_ index: Int) -> JSONPlan { jsonPlans[index] }

    /// Fills jsonPlans; again once the schema has placed every message type (Field.messageIndex).
    fileprivate func planJSON() {
        for (index, field) in fields.enumerated() { (jsonPlans.baseAddress! + index).initialize(to: JSONPlan(field)) }
    }
}

/// What reading a field's JSON value needs, as plain values: JSONToProto reads the common fields
/// (singular, outside oneofs, not maps) from it and no Field, whose reference counts cost more
/// than the value's reading.
struct JSONPlan {
    let kind: Field.Kind
    let number: Int
    /// Singular, outside any oneof, not a map, not a field that takes JSON null as a value.
    let isPlain: Bool
    /// A default value is still written (Field.hasPresence).
    let alwaysWrites: Bool
    /// For messages: the type's position in the schema (Field.messageIndex).
    let messageIndex: Int

    init(_ field: Field) {
        kind = field.kind
        number = field.number
        isPlain = !field.isRepeated && field.mapEntry == nil && field.oneofIndex == nil
            && field.typeName != WellKnownType.value.rawValue && field.typeName != WellKnownType.nullValueEnum
        alwaysWrites = field.hasPresence
        messageIndex = field.messageIndex
    }
}

/// A field of a message type. A class: the codec reads fields in its inner loops, and a struct
/// of several strings would be copied (retained and released) at each read. Unchecked Sendable:
/// `messageIndex` is written only while the Schema is built, before any other thread sees it.
final class Field: @unchecked Sendable {
    enum Kind: Int, Sendable {
        case double = 1, float, int64, uint64, int32, fixed64, fixed32, bool, string, group, message,
             bytes, uint32, `enum`, sfixed32, sfixed64, sint32, sint64

        /// How a value of this kind is encoded (one element of a packed list for scalars).
        var wireType: WireReader.WireType {
            switch self {
            case .int32, .int64, .uint32, .uint64, .sint32, .sint64, .bool, .enum: return .varint
            case .fixed32, .sfixed32, .float: return .fixed32
            case .fixed64, .sfixed64, .double: return .fixed64
            case .string, .bytes, .message, .group: return .lengthDelimited
            }
        }
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
    /// `"name":`, the field's key as JSON objects carry it.
    let jsonKey: [UInt8]
    /// For .message and .group fields: the type's position in the schema (see Schema.messageType(of:)).
    fileprivate(set) var messageIndex = -1

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
        jsonKey = Array("\"\(name)\":".utf8)
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

    /// Whether a value of this wire type can be read into the field: its own, or a packed list
    /// of scalars for a repeated one.
    func accepts(_ wireType: WireReader.WireType) -> Bool {
        wireType == kind.wireType || (isRepeated && wireType == .lengthDelimited && kind.wireType != .lengthDelimited)
    }
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
/// A class, as MessageType is: a call hands its method from layer to layer, one reference
/// instead of a copy of its strings and rules each time.
public final class Method: @unchecked Sendable {
    public let name: String
    let inputType: String
    let outputType: String
    let serverStreaming: Bool
    let clientStreaming: Bool
    /// The google.api.http rule followed by its additional_bindings.
    let httpRules: [HTTPRule]
    /// Its position in Schema.methods (set when the schema loads, before it is shared): where
    /// per-method tables of other layers (REST routes, the client's user_app_id fields) keep its entry.
    fileprivate(set) var index = 0
    /// The position of its response type in the schema's list of message types (-1: missing).
    fileprivate(set) var outputTypeIndex = -1

    init(name: String, inputType: String, outputType: String, serverStreaming: Bool, clientStreaming: Bool, httpRules: [HTTPRule]) {
        self.name = name
        self.inputType = inputType
        self.outputType = outputType
        self.serverStreaming = serverStreaming
        self.clientStreaming = clientStreaming
        self.httpRules = httpRules
    }

    /// Whether sending the request twice is harmless: the REST API binds it to GET only.
    var isIdempotent: Bool { !httpRules.isEmpty && httpRules.allSatisfy { $0.verb == "GET" } }
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

/// Builds a `Schema` from a serialized google.protobuf.FileDescriptorSet, reading only the
/// descriptor fields the library uses (field numbers from google/protobuf/descriptor.proto).
enum DescriptorParser {
    private enum FieldNumber {
        static let setFile: UInt64 = 1
        static let filePackage: UInt64 = 2, fileMessage: UInt64 = 4, fileEnum: UInt64 = 5, fileService: UInt64 = 6
        static let fileSyntax: UInt64 = 12
        static let messageName: UInt64 = 1, messageField: UInt64 = 2, messageNested: UInt64 = 3
        static let messageEnum: UInt64 = 4, messageOptions: UInt64 = 7
        static let messageOptionsMapEntry: UInt64 = 7
        static let fieldName: UInt64 = 1, fieldNumber: UInt64 = 3, fieldLabel: UInt64 = 4, fieldType: UInt64 = 5
        static let fieldTypeName: UInt64 = 6, fieldOptions: UInt64 = 8, fieldOneofIndex: UInt64 = 9, fieldJSONName: UInt64 = 10
        /// clarifai.api.utils.cl_show_if_empty, an extension of FieldOptions.
        static let fieldOptionsShowIfEmpty: UInt64 = 50000
        static let enumName: UInt64 = 1, enumValue: UInt64 = 2, enumValueName: UInt64 = 1, enumValueNumber: UInt64 = 2
        static let serviceName: UInt64 = 1, serviceMethod: UInt64 = 2
        static let methodName: UInt64 = 1, methodInput: UInt64 = 2, methodOutput: UInt64 = 3, methodOptions: UInt64 = 4
        static let methodClientStreaming: UInt64 = 5, methodServerStreaming: UInt64 = 6
        /// google.api.http, an extension of MethodOptions.
        static let methodOptionsHTTP: UInt64 = 72_295_728
        static let ruleGet: UInt64 = 2, rulePut: UInt64 = 3, rulePost: UInt64 = 4, ruleDelete: UInt64 = 5
        static let rulePatch: UInt64 = 6, ruleBody: UInt64 = 7, ruleCustom: UInt64 = 8, ruleAdditional: UInt64 = 11
        static let customKind: UInt64 = 1, customPath: UInt64 = 2
    }

    private final class Collector {
        var messages: [String: MessageType] = [:]
        var enums: [String: EnumType] = [:]
        var methods: [Method] = []
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, service: String) throws -> Schema {
        let collector = Collector()
        try forEachField(bytes) { number, reader in
            if number == FieldNumber.setFile { try parseFile(try reader.readLengthDelimited(), service: service, into: collector) } else { return false }
            return true
        }
        guard !collector.methods.isEmpty else { throw WireReader.WireError(description: "service \(service) not found") }
        return Schema(messages: resolvingMaps(collector.messages), enums: collector.enums, methods: collector.methods)
    }

    /// Gives every map field its entry's key and value fields (known once all types are read).
    private static func resolvingMaps(_ messages: [String: MessageType]) -> [String: MessageType] {
        messages.mapValues { type in
            guard type.fields.contains(where: { $0.isRepeated && messages[$0.typeName]?.isMapEntry == true }) else { return type }
            let fields = type.fields.map { field -> Field in
                guard field.isRepeated, let entry = messages[field.typeName], entry.isMapEntry,
                      let key = entry.fields.first(where: { $0.number == 1 }),
                      let value = entry.fields.first(where: { $0.number == 2 }) else { return field }
                return field.with(mapEntry: MapEntry(key: key, value: value))
            }
            return MessageType(fullName: type.fullName, fields: fields, isMapEntry: type.isMapEntry)
        }
    }

    /// Calls `visit` for each field of a message; `visit` consumes the value and returns true, or
    /// returns false to have the field skipped.
    private static func forEachField(_ bytes: UnsafeRawBufferPointer,
                                     _ visit: (UInt64, inout WireReader) throws -> Bool) throws {
        var reader = WireReader(bytes)
        while let (number, wireType) = try reader.readTag() {
            if try !visit(number, &reader) { try reader.skip(wireType) }
        }
    }

    private static func parseFile(_ bytes: UnsafeRawBufferPointer, service: String, into collector: Collector) throws {
        var package = "", syntax = "proto2"
        var messages: [UnsafeRawBufferPointer] = [], enums: [UnsafeRawBufferPointer] = [], services: [UnsafeRawBufferPointer] = []
        try forEachField(bytes) { number, reader in
            switch number {
            case FieldNumber.filePackage: package = try reader.readString()
            case FieldNumber.fileSyntax: syntax = try reader.readString()
            case FieldNumber.fileMessage: messages.append(try reader.readLengthDelimited())
            case FieldNumber.fileEnum: enums.append(try reader.readLengthDelimited())
            case FieldNumber.fileService: services.append(try reader.readLengthDelimited())
            default: return false
            }
            return true
        }
        for message in messages { try parseMessage(message, scope: package, proto2: syntax == "proto2", into: collector) }
        for enumBytes in enums { try parseEnum(enumBytes, scope: package, into: collector) }
        for serviceBytes in services { try parseService(serviceBytes, package: package, wanted: service, into: collector) }
    }

    private static func qualified(_ scope: String, _ name: String) -> String { scope.isEmpty ? name : scope + "." + name }

    private static func parseMessage(_ bytes: UnsafeRawBufferPointer, scope: String, proto2: Bool, into collector: Collector) throws {
        var name = "", isMapEntry = false
        var fields: [Field] = []
        var nested: [UnsafeRawBufferPointer] = [], enums: [UnsafeRawBufferPointer] = []
        try forEachField(bytes) { number, reader in
            switch number {
            case FieldNumber.messageName: name = try reader.readString()
            case FieldNumber.messageField: fields.append(try parseField(try reader.readLengthDelimited(), proto2: proto2))
            case FieldNumber.messageNested: nested.append(try reader.readLengthDelimited())
            case FieldNumber.messageEnum: enums.append(try reader.readLengthDelimited())
            case FieldNumber.messageOptions:
                try forEachField(try reader.readLengthDelimited()) { option, optionReader in
                    guard option == FieldNumber.messageOptionsMapEntry else { return false }
                    isMapEntry = try optionReader.readVarint() != 0
                    return true
                }
            default: return false
            }
            return true
        }
        let fullName = qualified(scope, name)
        collector.messages[fullName] = MessageType(fullName: fullName, fields: fields, isMapEntry: isMapEntry)
        for message in nested { try parseMessage(message, scope: fullName, proto2: proto2, into: collector) }
        for enumBytes in enums { try parseEnum(enumBytes, scope: fullName, into: collector) }
    }

    private static func parseField(_ bytes: UnsafeRawBufferPointer, proto2: Bool) throws -> Field {
        var name = "", jsonName: String?, typeName = ""
        var number = 0, label = 0, type = 0
        var oneofIndex: Int?
        var showIfEmpty = false
        try forEachField(bytes) { field, reader in
            switch field {
            case FieldNumber.fieldName: name = try reader.readString()
            case FieldNumber.fieldNumber: number = Int(truncatingIfNeeded: try reader.readVarint())
            case FieldNumber.fieldLabel: label = Int(truncatingIfNeeded: try reader.readVarint())
            case FieldNumber.fieldType: type = Int(truncatingIfNeeded: try reader.readVarint())
            case FieldNumber.fieldTypeName: typeName = String(try reader.readString().drop { $0 == "." })
            case FieldNumber.fieldJSONName: jsonName = try reader.readString()
            case FieldNumber.fieldOneofIndex: oneofIndex = Int(truncatingIfNeeded: try reader.readVarint())
            case FieldNumber.fieldOptions:
                try forEachField(try reader.readLengthDelimited()) { option, optionReader in
                    guard option == FieldNumber.fieldOptionsShowIfEmpty else { return false }
                    showIfEmpty = try optionReader.readVarint() != 0
                    return true
                }
            default: return false
            }
            return true
        }
        guard let kind = Field.Kind(rawValue: type) else {
            throw WireReader.WireError(description: "field \(name) has unknown type \(type)")
        }
        let repeatedLabel = 3
        return Field(name: name, jsonName: jsonName ?? lowerCamelName(name), number: number, kind: kind,
                     isRepeated: label == repeatedLabel, typeName: typeName, showIfEmpty: showIfEmpty,
                     oneofIndex: oneofIndex, isProto2: proto2, mapEntry: nil)
    }

    /// protoc's JSON name: underscores dropped, the letter after each one upper-cased.
    static func lowerCamelName(_ name: String) -> String {
        var result = "", capitalizeNext = false
        for character in name {
            if character == "_" {
                capitalizeNext = true
            } else {
                result += capitalizeNext ? character.uppercased() : String(character)
                capitalizeNext = false
            }
        }
        return result
    }

    private static func parseEnum(_ bytes: UnsafeRawBufferPointer, scope: String, into collector: Collector) throws {
        var name = ""
        var values: [(name: String, number: Int32)] = []
        try forEachField(bytes) { field, reader in
            switch field {
            case FieldNumber.enumName: name = try reader.readString()
            case FieldNumber.enumValue:
                var valueName = "", valueNumber: Int32 = 0
                try forEachField(try reader.readLengthDelimited()) { valueField, valueReader in
                    switch valueField {
                    case FieldNumber.enumValueName: valueName = try valueReader.readString()
                    case FieldNumber.enumValueNumber: valueNumber = Int32(truncatingIfNeeded: try valueReader.readVarint())
                    default: return false
                    }
                    return true
                }
                values.append((valueName, valueNumber))
            default: return false
            }
            return true
        }
        let fullName = qualified(scope, name)
        collector.enums[fullName] = EnumType(fullName: fullName, values: values)
    }

    private static func parseService(_ bytes: UnsafeRawBufferPointer, package: String, wanted: String,
                                      into collector: Collector) throws {
        var name = ""
        var methods: [UnsafeRawBufferPointer] = []
        try forEachField(bytes) { field, reader in
            switch field {
            case FieldNumber.serviceName: name = try reader.readString()
            case FieldNumber.serviceMethod: methods.append(try reader.readLengthDelimited())
            default: return false
            }
            return true
        }
        guard qualified(package, name) == wanted else { return }
        for method in methods { collector.methods.append(try parseMethod(method)) }
    }

    private static func parseMethod(_ bytes: UnsafeRawBufferPointer) throws -> Method {
        var name = "", input = "", output = ""
        var clientStreaming = false, serverStreaming = false
        var rules: [HTTPRule] = []
        try forEachField(bytes) { field, reader in
            switch field {
            case FieldNumber.methodName: name = try reader.readString()
            case FieldNumber.methodInput: input = String(try reader.readString().drop { $0 == "." })
            case FieldNumber.methodOutput: output = String(try reader.readString().drop { $0 == "." })
            case FieldNumber.methodClientStreaming: clientStreaming = try reader.readVarint() != 0
            case FieldNumber.methodServerStreaming: serverStreaming = try reader.readVarint() != 0
            case FieldNumber.methodOptions:
                try forEachField(try reader.readLengthDelimited()) { option, optionReader in
                    guard option == FieldNumber.methodOptionsHTTP else { return false }
                    rules += try parseHTTPRule(try optionReader.readLengthDelimited())
                    return true
                }
            default: return false
            }
            return true
        }
        return Method(name: name, inputType: input, outputType: output, serverStreaming: serverStreaming,
                      clientStreaming: clientStreaming, httpRules: rules)
    }

    /// A rule followed by its additional_bindings (flattened, in order).
    private static func parseHTTPRule(_ bytes: UnsafeRawBufferPointer) throws -> [HTTPRule] {
        var verb = "", path = "", body = ""
        var additional: [HTTPRule] = []
        try forEachField(bytes) { field, reader in
            switch field {
            case FieldNumber.ruleGet: (verb, path) = ("GET", try reader.readString())
            case FieldNumber.rulePut: (verb, path) = ("PUT", try reader.readString())
            case FieldNumber.rulePost: (verb, path) = ("POST", try reader.readString())
            case FieldNumber.ruleDelete: (verb, path) = ("DELETE", try reader.readString())
            case FieldNumber.rulePatch: (verb, path) = ("PATCH", try reader.readString())
            case FieldNumber.ruleCustom:
                try forEachField(try reader.readLengthDelimited()) { customField, customReader in
                    switch customField {
                    case FieldNumber.customKind: verb = try customReader.readString()
                    case FieldNumber.customPath: path = try customReader.readString()
                    default: return false
                    }
                    return true
                }
            case FieldNumber.ruleBody: body = try reader.readString()
            case FieldNumber.ruleAdditional: additional += try parseHTTPRule(try reader.readLengthDelimited())
            default: return false
            }
            return true
        }
        guard !path.isEmpty else { return additional }
        return [HTTPRule(verb: verb, path: path, body: body)] + additional
    }
}

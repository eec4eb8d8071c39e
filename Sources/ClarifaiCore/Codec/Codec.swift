/// Conversions between proto3 JSON and protobuf binary for any message type of the schema.
public enum Codec {
    /// JSON text -> binary. Throws .invalidArgument naming the type and field path.
    public static func jsonToProto(typeName: String, json: UnsafeRawBufferPointer, ignoresUnknownFields: Bool = false,
                                   schema: Schema = .official) throws -> [UInt8] {
        let type = try messageType(typeName, schema)
        do {
            return try JSONToProto.convert(json, type: type, schema: schema, ignoresUnknownFields: ignoresUnknownFields)
        } catch {
            throw error.clarifaiError(messageType: type.fullName)
        }
    }

    /// Binary -> JSON text in the REST API's form, NUL-terminated in malloc'd memory that the
    /// caller frees (free()). Throws .invalidArgument naming the field.
    public static func protoToJSON(typeName: String, bytes: UnsafeRawBufferPointer, schema: Schema = .official) throws -> UnsafeMutablePointer<CChar> {
        let type = try messageType(typeName, schema)
        do {
            return try ProtoToJSON.convert(bytes, type: type, schema: schema).cString()
        } catch {
            throw error.clarifaiError(messageType: type.fullName)
        }
    }

    private static func messageType(_ name: String, _ schema: Schema) throws -> MessageType {
        let fullName = name.hasPrefix(".") ? String(name.dropFirst()) : name
        guard let type = schema.message(fullName) else {
            throw ClarifaiError.invalidArgument("unknown message type '\(name)': give a full name such as clarifai.api.ListConceptsRequest")
        }
        return type
    }
}

/// Any field of a response by its path, read from the protobuf binary with the schema:
/// "status.description", "outputs[0].status.code", "models[2].id". A C program reads what the
/// struct views do not cover without a JSON parser.
extension Response {
    /// Where a path leads: its last field, and that field's values as they are on the wire (every
    /// occurrence, in order; one element when the path ends with an index).
    private struct Target {
        let field: Field
        let values: [WireValue]
        let endsWithIndex: Bool
        let path: String
    }

    /// The elements of a repeated field (`path` names no element).
    public func count(path: String) throws -> Int {
        let target = try resolve(path)
        guard target.field.isRepeated, !target.endsWithIndex else {
            throw ClarifaiError.invalidArgument("\(path): not a repeated field")
        }
        return target.values.count
    }

    /// A string field, or an enum field by its value's name; "" when absent. The text lives as long
    /// as the response.
    public func string(path: String) throws -> UnsafePointer<CChar> {
        if let known = stringsByPath[path] { return known }
        let target = try singular(path)
        let text: UnsafePointer<CChar>
        switch target.field.kind {
        case .string:
            text = strings.add(target.values.last?.payload)
        case .enum:
            let number = Int32(truncatingIfNeeded: target.values.last?.varint ?? 0)
            let name = Schema.official.enums[target.field.typeName]?.values.first { $0.number == number }?.name ?? "\(number)"
            text = Array(name.utf8).withUnsafeBytes { strings.add($0) }
        default:
            throw ClarifaiError.invalidArgument("\(path): a \(target.field.kind) field, not a string or enum")
        }
        stringsByPath[path] = text
        return text
    }

    /// An integer, bool (0 or 1) or enum (its number) field; 0 when absent.
    public func int64(path: String) throws -> Int64 {
        let target = try singular(path)
        guard [.string, .bytes, .message, .group, .float, .double].contains(target.field.kind) == false else {
            throw ClarifaiError.invalidArgument("\(path): a \(target.field.kind) field, not an integer, bool or enum")
        }
        guard let value = target.values.last else { return 0 }
        guard case .bits(let bits, _) = value else { throw ClarifaiError.invalidArgument("\(path): not a number on the wire") }
        switch target.field.kind {
        case .int32, .enum: return Int64(Int32(truncatingIfNeeded: bits))
        case .int64, .sfixed64: return Int64(bitPattern: bits)
        case .uint32, .fixed32: return Int64(UInt32(truncatingIfNeeded: bits))
        case .sfixed32: return Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .sint32, .sint64: return Int64(bitPattern: (bits >> 1) ^ (0 &- (bits & 1)))
        case .bool: return bits == 0 ? 0 : 1
        case .uint64, .fixed64:
            guard bits <= UInt64(Int64.max) else {
                throw ClarifaiError.invalidArgument("\(path): \(bits) does not fit a long long")
            }
            return Int64(bits)
        default:
            throw ClarifaiError(.internal, "\(path): a \(target.field.kind) field read as an integer")
        }
    }

    /// A float or double field; 0 when absent.
    public func double(path: String) throws -> Double {
        let target = try singular(path)
        guard let value = target.values.last else { return 0 }
        switch (target.field.kind, value) {
        case (.double, .bits(let bits, .fixed64)): return Double(bitPattern: bits)
        case (.float, .bits(let bits, .fixed32)): return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case (.double, _), (.float, _): throw ClarifaiError.invalidArgument("\(path): not a number on the wire")
        default: throw ClarifaiError.invalidArgument("\(path): a \(target.field.kind) field, not a float or double")
        }
    }

    /// A path to one value: a singular field, or one element of a repeated one.
    private func singular(_ path: String) throws -> Target {
        let target = try resolve(path)
        guard !target.field.isRepeated || target.endsWithIndex else {
            throw ClarifaiError.invalidArgument("\(path): a repeated field: name an element, e.g. \(path)[0]")
        }
        return target
    }

    private func resolve(_ path: String) throws -> Target {
        let components = try Response.components(of: path)
        var type = self.type
        // The message the next component is read from, in the parts protobuf merges it from.
        var parts = [try proto()]
        var walked = ""
        for (position, (name, index)) in components.enumerated() {
            walked += (walked.isEmpty ? "" : ".") + name
            guard let field = type.field(named: name) else {
                throw ClarifaiError.invalidArgument("\(path): \(type.fullName) has no field '\(name)'")
            }
            var values: [WireValue] = []
            do {
                for part in parts {
                    try WireFields.forEach(part) { number, value in if number == field.number { values.append(value) } }
                }
                if field.isRepeated { values = try Response.elements(values, of: field) }
            } catch {
                throw ClarifaiError(.protocol, "\(path): the response does not decode at \(walked): \(error)")
            }
            if let index {
                guard field.isRepeated else { throw ClarifaiError.invalidArgument("\(path): \(walked) is not a repeated field") }
                guard index < values.count else {
                    throw ClarifaiError.invalidArgument("\(path): index \(index) is past the end of \(walked) (\(values.count) elements)")
                }
                values = [values[index]]
                walked += "[\(index)]"
            }
            if position == components.count - 1 {
                return Target(field: field, values: values, endsWithIndex: index != nil, path: path)
            }
            guard field.kind == .message, let nested = Schema.official.messageType(of: field) else {
                throw ClarifaiError.invalidArgument("\(path): \(walked) is not a message")
            }
            guard !field.isRepeated || index != nil else {
                throw ClarifaiError.invalidArgument("\(path): \(walked) is a repeated field: name an element, e.g. \(walked)[0]")
            }
            type = nested
            parts = values.compactMap(\.payload)
        }
        throw ClarifaiError.invalidArgument("the path is empty")
    }

    /// "models[2].id" as [("models", 2), ("id", nil)].
    private static func components(of path: String) throws -> [(name: String, index: Int?)] {
        guard !path.isEmpty else { throw ClarifaiError.invalidArgument("the path is empty") }
        return try path.split(separator: ".", omittingEmptySubsequences: false).map { component in
            guard let open = component.firstIndex(of: "[") else {
                guard !component.isEmpty else { throw ClarifaiError.invalidArgument("\(path): an empty field name") }
                return (String(component), nil)
            }
            let digits = component[component.index(after: open)...].dropLast()
            guard component.last == "]", !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ ("0"..."9").contains($0) }),
                  let index = Int(digits), open > component.startIndex else {
                throw ClarifaiError.invalidArgument("\(path): '\(component)' is not name or name[index]")
            }
            return (String(component[..<open]), index)
        }
    }

    /// The elements of a repeated field from its occurrences: packed lists of scalars unpacked.
    private static func elements(_ occurrences: [WireValue], of field: Field) throws -> [WireValue] {
        let elementType = field.kind.wireType
        guard elementType != .lengthDelimited else { return occurrences }
        var elements: [WireValue] = []
        for occurrence in occurrences {
            guard case .payload(let packed) = occurrence else {
                elements.append(occurrence)
                continue
            }
            var reader = WireReader(packed)
            while !reader.isAtEnd {
                switch elementType {
                case .varint: elements.append(.bits(try reader.readVarint(), .varint))
                case .fixed32: elements.append(.bits(UInt64(try reader.readFixed32()), .fixed32))
                default: elements.append(.bits(try reader.readFixed64(), .fixed64))
                }
            }
        }
        return elements
    }
}

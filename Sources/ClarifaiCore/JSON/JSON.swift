import CJansson
import Glibc

/// A borrowed jansson node: valid while the `JSONTree` that owns its root is alive.
struct JSONNode {
    let raw: UnsafeMutablePointer<json_t>

    var type: json_type { cjansson_typeof(raw) }
    var isObject: Bool { type == JSON_OBJECT }
    var isArray: Bool { type == JSON_ARRAY }
    var isNull: Bool { type == JSON_NULL }

    /// The member `key` of an object; nil for a missing key or a non-object.
    subscript(key: String) -> JSONNode? {
        guard isObject, let value = json_object_get(raw, key) else { return nil }
        return JSONNode(raw: value)
    }

    /// Follows a path of object keys.
    func at(_ path: [String]) -> JSONNode? {
        var node: JSONNode? = self
        for key in path { node = node?[key] }
        return node
    }

    var count: Int { isArray ? json_array_size(raw) : 0 }

    subscript(index: Int) -> JSONNode? {
        guard isArray, index >= 0, let value = json_array_get(raw, index) else { return nil }
        return JSONNode(raw: value)
    }

    var elements: [JSONNode] { (0..<count).compactMap { self[$0] } }

    /// Object members in the tree's order.
    var members: [(key: String, value: JSONNode)] {
        guard isObject else { return [] }
        var result: [(key: String, value: JSONNode)] = []
        var iterator = json_object_iter(raw)
        while let current = iterator {
            if let key = json_object_iter_key(current), let value = json_object_iter_value(current) {
                result.append((String(cString: key), JSONNode(raw: value)))
            }
            iterator = json_object_iter_next(raw, current)
        }
        return result
    }

    /// The string's bytes, owned by the tree (stable while it lives); nil for a non-string.
    var cString: UnsafePointer<CChar>? { type == JSON_STRING ? json_string_value(raw) : nil }
    var string: String? { cString.map { String(cString: $0) } }
    var integer: Int64? { type == JSON_INTEGER ? Int64(json_integer_value(raw)) : nil }
    var number: Double? {
        switch type {
        case JSON_INTEGER, JSON_REAL: return json_number_value(raw)
        // proto3 JSON writes non-finite floats as strings.
        case JSON_STRING:
            switch string {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default: return nil
            }
        default: return nil
        }
    }

    /// Serializes this node; scalars too. Compact, keys in insertion order.
    func serialized() -> String {
        guard let text = json_dumps(raw, Int(JSON_COMPACT | JSON_ENCODE_ANY)) else { return "" }
        defer { free(text) }
        return String(cString: text)
    }

    /// Sets `key` to `value`, taking over the caller's reference.
    func set(_ key: String, taking value: UnsafeMutablePointer<json_t>?) {
        json_object_set_new(raw, key, value)
    }

    func set(_ key: String, _ value: String) { set(key, taking: json_string(value)) }

}

/// Owns one reference to a jansson value: the root of a tree of `JSONNode`s.
final class JSONTree {
    let root: JSONNode

    /// Takes over a new reference (from json_object(), json_loadb(), json_deep_copy()...).
    init(taking raw: UnsafeMutablePointer<json_t>) { root = JSONNode(raw: raw) }

    deinit { json_decref(root.raw) }

    static func object() -> JSONTree { JSONTree(taking: json_object()) }

    /// Parses UTF-8 JSON text; `what` names the text in the error message.
    static func parse(_ bytes: UnsafeRawBufferPointer, what: String) throws -> JSONTree {
        var error = json_error_t()
        guard let base = bytes.baseAddress,
              let raw = json_loadb(base.assumingMemoryBound(to: CChar.self), bytes.count, Int(JSON_DECODE_ANY), &error) else {
            let reason = withUnsafeBytes(of: &error.text) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            throw ClarifaiError.invalidArgument("\(what): invalid JSON at line \(error.line), column \(error.column): \(reason)")
        }
        return JSONTree(taking: raw)
    }

    static func parse(_ text: String, what: String) throws -> JSONTree {
        var text = text
        return try text.withUTF8 { try parse(UnsafeRawBufferPointer($0), what: what) }
    }

    /// A deep copy of `node` as a new tree.
    static func copy(of node: JSONNode) -> JSONTree { JSONTree(taking: json_deep_copy(node.raw)) }
}

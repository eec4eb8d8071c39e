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

    var string: String? { type == JSON_STRING ? json_string_value(raw).map { String(cString: $0) } : nil }

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

    /// Takes over a new reference (from json_object(), json_loadb()...).
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

}

import CJansson

/// Who is calling: a channel, a token, and optionally the user and app that requests apply to.
/// Thread-safe; holds its channel alive.
public final class Client: Sendable {
    let channel: any Channel
    private let token: String
    private let userID: String?
    private let appID: String?
    let schema: Schema

    /// `token` nil: $CLARIFAI_PAT. Empty user or app ids count as absent.
    public init(channel: any Channel, token: String?, userID: String?, appID: String?, schema: Schema = .official) throws {
        guard let token = token ?? environmentValue("CLARIFAI_PAT"), !token.isEmpty else {
            throw ClarifaiError.invalidArgument("no token: pass a PAT or API key, or set CLARIFAI_PAT")
        }
        // A CR or LF would let the token add HTTP headers; the token itself is never echoed.
        guard !token.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ClarifaiError.invalidArgument("the token contains control characters (CR, LF, ...)")
        }
        self.channel = channel
        self.token = token
        self.userID = userID.flatMap { $0.isEmpty ? nil : $0 }
        self.appID = appID.flatMap { $0.isEmpty ? nil : $0 }
        self.schema = schema
    }

    /// Calls `methodName` with a proto3 JSON request (nil or "" for an empty one). Throws
    /// .api with the response when the Clarifai status is not SUCCESS.
    public func call(method methodName: String, requestJSON: String?) throws -> Response {
        let method = try unaryMethod(named: methodName)
        let message: JSONTree
        if let requestJSON, !requestJSON.isEmpty {
            message = try JSONTree.parse(requestJSON, what: "\(methodName): request_json")
            guard message.root.isObject else {
                throw ClarifaiError.invalidArgument("\(methodName): request_json must be a JSON object (the \(method.inputType) message)")
            }
        } else {
            message = JSONTree.object()
        }
        return try call(method, message: message)
    }

    func call(_ method: Method, message: JSONTree) throws -> Response {
        fillUserAppID(of: message.root, for: method)
        let response = try channel.unary(CallRequest(method: method, message: message), token: token)
        guard response.isSuccess else { throw ClarifaiError(apiFailure: response, method: method.name) }
        return response
    }

    func unaryMethod(named name: String) throws -> Method {
        guard let method = schema.method(named: name) else {
            let suggestion = schema.methods.first { $0.name.lowercased() == name.lowercased() }
            throw ClarifaiError.invalidArgument("unknown method '\(name)': not a method of clarifai.api.V2"
                + (suggestion.map { " (did you mean \($0.name)?)" } ?? ""))
        }
        guard !method.serverStreaming && !method.clientStreaming else {
            throw ClarifaiError(.unsupported, "\(name) is a streaming method: it needs a gRPC channel and a streaming call")
        }
        return method
    }

    /// Fills `user_app_id` with the client's user and app ids where the request message has that
    /// field: the whole object when absent, else only the ids it leaves out (so a request naming
    /// another app still gets the client's user).
    private func fillUserAppID(of message: JSONNode, for method: Method) {
        guard userID != nil || appID != nil,
              let field = schema.message(method.inputType)?.field(named: "user_app_id") else { return }
        let ids: JSONNode
        if let given = message[field.name] ?? message[field.jsonName] {
            guard given.isObject else { return }
            ids = given
        } else {
            ids = JSONNode(raw: json_object())
            message.set(field.name, taking: ids.raw)
        }
        for (name, jsonName, value) in [("user_id", "userId", userID), ("app_id", "appId", appID)] {
            if let value, ids[name] == nil, ids[jsonName] == nil { ids.set(name, value) }
        }
    }
}

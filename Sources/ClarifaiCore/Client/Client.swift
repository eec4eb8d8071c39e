/// Who is calling: a channel, a token, and optionally the user and app that requests apply to.
/// Thread-safe; holds its channel alive.
public final class Client: Sendable {
    let channel: any Channel
    private let token: String
    private let userID: String?
    private let appID: String?
    let schema: Schema
    private let retryPolicy: RetryPolicy

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
        Redaction.register(token)
        self.userID = userID.flatMap { $0.isEmpty ? nil : $0 }
        self.appID = appID.flatMap { $0.isEmpty ? nil : $0 }
        self.schema = schema
        retryPolicy = RetryPolicy(schema: schema)
    }

    deinit { Redaction.unregister(token) }

    /// Calls `methodName` with a proto3 JSON request (nil or "" for an empty one), checked
    /// against the schema first. Throws .api with the response when the Clarifai status is not
    /// SUCCESS.
    public func call(method methodName: String, requestJSON: String?) throws -> Response {
        let method = try unaryMethod(named: methodName)
        return try call(method, message: try requestMessage(method, json: requestJSON))
    }

    /// Calls a server-streaming method; `onMessage` gets each message as it arrives, on the calling
    /// thread, and returns false to cancel (the call then throws .cancelled).
    public func stream(method methodName: String, requestJSON: String?, onMessage: (Response) throws -> Bool) throws {
        let method = try self.method(named: methodName)
        guard method.serverStreaming && !method.clientStreaming else {
            throw ClarifaiError(.unsupported, method.clientStreaming
                ? "\(methodName) streams its request: client streaming is not supported"
                : "\(methodName) answers with one message: call it with clarifai_call")
        }
        var message = try requestMessage(method, json: requestJSON)
        try prefixingErrors(with: "\(method.name): ") { try fillUserAppID(of: &message, for: method) }
        var received = 0
        do {
            // Once a message arrived the stream is never retried: the caller has seen it.
            try withRetries(method) { timeout in
                try channel.serverStream(CallRequest(method: method, message: message, timeoutMilliseconds: timeout), token: token) { response in
                    received += 1
                    return try onMessage(response)
                }
                return ()
            } mayRetry: { received == 0 }
        } catch let error as ClarifaiError where error.code == .cancelled {
            throw ClarifaiError(.cancelled, "\(methodName): cancelled by the caller after \(received) message(s)")
        }
    }

    /// The request message from proto3 JSON (nil or "" for an empty one), checked against the schema.
    private func requestMessage(_ method: Method, json: String?) throws -> [UInt8] {
        var text = json ?? ""
        guard !text.isEmpty else { return [] }
        return try text.withUTF8 { json in
            try prefixingErrors(with: "\(method.name): request_json: ") {
                try Codec.jsonToProto(typeName: method.inputType, json: UnsafeRawBufferPointer(json), schema: schema)
            }
        }
    }

    /// Calls `methodName` with a serialized request message, checked against the schema first.
    public func call(method methodName: String, requestProto: UnsafeRawBufferPointer) throws -> Response {
        let method = try unaryMethod(named: methodName)
        try prefixingErrors(with: "\(methodName): request: ") {
            _ = try Codec.protoToJSON(typeName: method.inputType, bytes: requestProto, schema: schema)
        }
        return try call(method, message: Array(requestProto))
    }

    func call(_ method: Method, message: [UInt8]) throws -> Response {
        var message = message
        try prefixingErrors(with: "\(method.name): ") { try fillUserAppID(of: &message, for: method) }
        return try withRetries(method) { timeout in
            let response = try channel.unary(CallRequest(method: method, message: message, timeoutMilliseconds: timeout), token: token)
            guard response.isSuccess else { throw ClarifaiError(apiFailure: response, method: method.name) }
            return response
        }
    }

    /// Runs `attempt` with the time left of the channel's deadline, again after a transient
    /// failure or a retried Clarifai status, up to the channel's retry budget and never past the
    /// deadline; the last failure is the call's.
    private func withRetries<R>(_ method: Method, _ attempt: (_ timeoutMilliseconds: Int) throws -> R,
                                mayRetry: () -> Bool = { true }) throws -> R {
        let options = channel.options.current
        let deadline = options.timeoutMilliseconds > 0 ? monotonicMilliseconds() + Double(options.timeoutMilliseconds) : nil
        var retries = 0
        while true {
            let remaining = deadline.map { max(1, Int(($0 - monotonicMilliseconds()).rounded(.up))) } ?? 0
            do {
                return try attempt(remaining)
            } catch let error as ClarifaiError where retries < options.maxRetries && retryPolicy.isRetried(error) && mayRetry() {
                retries += 1
                let pause = RetryPolicy.pause(beforeRetry: retries)
                if let deadline, monotonicMilliseconds() + pause >= deadline { throw error }
                Log.debug("\(method.name): retry \(retries) of \(options.maxRetries) in \(Int(pause)) ms after: \(error.message)")
                RetryPolicy.sleep(milliseconds: pause)
            }
        }
    }

    private func method(named name: String) throws -> Method {
        guard let method = schema.method(named: name) else {
            let suggestion = schema.methods.first { $0.name.lowercased() == name.lowercased() }
            throw ClarifaiError.invalidArgument("unknown method '\(name)': not a method of clarifai.api.V2"
                + (suggestion.map { " (did you mean \($0.name)?)" } ?? ""))
        }
        return method
    }

    func unaryMethod(named name: String) throws -> Method {
        let method = try method(named: name)
        guard !method.serverStreaming && !method.clientStreaming else {
            throw ClarifaiError(.unsupported, "\(name) is a streaming method: call it with clarifai_call_stream on a gRPC channel")
        }
        return method
    }

    /// Fills `user_app_id` with the client's user and app ids where the request message has that
    /// field and leaves them empty: appending a partial `user_app_id` merges into the one given,
    /// as protobuf merges repeated occurrences of a message field.
    private func fillUserAppID(of message: inout [UInt8], for method: Method) throws {
        guard userID != nil || appID != nil,
              let field = schema.message(method.inputType)?.field(named: "user_app_id"),
              let idsType = schema.message(field.typeName),
              let userField = idsType.field(named: "user_id"), let appField = idsType.field(named: "app_id") else { return }
        var given = Set<UInt64>()
        do {
            try message.withUnsafeBytes { bytes in
                var reader = WireReader(bytes)
                while let (number, wireType) = try reader.readTag() {
                    guard number == field.number, wireType == .lengthDelimited else {
                        try reader.skip(wireType)
                        continue
                    }
                    var ids = WireReader(try reader.readLengthDelimited())
                    while let (idNumber, idWireType) = try ids.readTag() {
                        guard idWireType == .lengthDelimited else {
                            try ids.skip(idWireType)
                            continue
                        }
                        if try ids.readLengthDelimited().isEmpty { given.remove(idNumber) } else { given.insert(idNumber) }
                    }
                }
            }
        } catch let error as WireReader.WireError {
            throw ClarifaiError.invalidArgument("the request is not a valid \(method.inputType) message: \(error.description)")
        }
        var writer = WireWriter()
        let mark = writer.beginLengthDelimited(field.number)
        for (idField, value) in [(userField, userID), (appField, appID)] {
            guard let value, !given.contains(UInt64(idField.number)) else { continue }
            writer.tag(idField.number, .lengthDelimited)
            writer.varint(UInt64(value.utf8.count))
            writer.append(contentsOf: value.utf8)
        }
        guard writer.count > mark else { return }
        writer.endLengthDelimited(mark)
        message += writer.bytes
    }
}

/// Runs `body`, putting `prefix` before the message of a ClarifaiError it throws.
func prefixingErrors<R>(with prefix: String, _ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as ClarifaiError where error.response == nil {
        throw error.prefixed(prefix)
    }
}

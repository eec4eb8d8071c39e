/// A streaming call of a client (clarifai_stream_*): request messages sent as the caller goes,
/// answer messages received as they come, for the bidirectional methods and the server-streaming
/// ones alike. The client's deadline bounds the whole stream; streams are never retried.
public final class Stream: HandleObject, @unchecked Sendable {
    private let client: Client
    private let method: Method
    private let transport: any MessageStream
    /// Request messages sent so far: a server-streaming method takes exactly one.
    private let sent = Locked(0)

    init(client: Client, method: Method, transport: any MessageStream) {
        self.client = client
        self.method = method
        self.transport = transport
        super.init(tag: HandleTag.stream)
    }

    deinit { transport.cancel() }

    /// Sends a request message from proto3 JSON (nil or "" for an empty one), checked against the
    /// schema first; the client's user and app ids fill its user_app_id as for any call.
    public func send(json: String?) throws {
        try send(message: try client.requestMessage(method, json: json))
    }

    /// Sends a serialized request message, checked on the wire first.
    public func send(proto: UnsafeRawBufferPointer) throws {
        try client.checkRequest(proto, of: method)
        try send(message: Array(proto))
    }

    private func send(message: [UInt8]) throws {
        var message = message
        try prefixingErrors(with: "\(method.name): ") { try client.fillUserAppID(of: &message, for: method) }
        if !method.clientStreaming {
            try sent.withLock { count in
                guard count == 0 else {
                    throw ClarifaiError.invalidArgument("\(method.name) takes one request message: close the sending side now")
                }
                count += 1
            }
        }
        try transport.send(message)
    }

    /// No more request messages.
    public func closeSend() throws { try transport.closeSend() }

    /// The next answer message, waiting for it; nil when the stream ended with status OK.
    public func receive() throws -> Response? {
        guard let message = try transport.receive() else { return nil }
        do {
            return try message.withUnsafeBytes { try Response(protoMessage: $0, of: method) }
        } catch let error as ClarifaiError {
            transport.cancel()
            throw error.prefixed("\(method.name): ")
        }
    }

    /// Ends the stream at once (the server sees the cancellation); a receive waiting, and every
    /// later one, fails with CANCELLED.
    public func cancel() { transport.cancel() }
}

extension Client {
    /// Opens a streaming call of `methodName` (bidirectional or server-streaming).
    public func openStream(method methodName: String) throws -> Stream {
        let method = try method(named: methodName)
        guard method.serverStreaming || method.clientStreaming else {
            throw ClarifaiError(.unsupported, "\(methodName) answers with one message: call it with clarifai_call")
        }
        let (timeout, metadata) = callSettings()
        let request = CallRequest(method: method, message: [], timeoutMilliseconds: timeout, metadata: metadata)
        return Stream(client: self, method: method, transport: try channel.openStream(request))
    }
}

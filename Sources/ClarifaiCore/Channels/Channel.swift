import Glibc

/// A request on its way: the method, its request message serialized (protobuf binary), the
/// time this attempt has (0: no deadline), and the caller's headers ("Name: value": the
/// credential, the request-id prefix, extra ones), which the channel sends as they are.
public struct CallRequest {
    let method: Method
    let message: [UInt8]
    let timeoutMilliseconds: Int
    let metadata: [String]
    /// The request's REST form, written by the caller from what a message would be made of (a
    /// prediction's): a REST channel sends it instead of mapping `message` (RESTBinding), which
    /// is then empty.
    var restBinding: RESTBinding?
}

/// The HTTP exchange of a unary call and how to read its answer: what blocking and asynchronous
/// calls share.
public struct UnaryExchange {
    let http: HTTPClient
    let request: HTTPRequest
    /// The call's answer (its Clarifai status not checked yet), or the failure the answer tells.
    let interpret: (HTTPResponse) throws -> Response

    /// interpret's outcome, with the server's metadata on the answer.
    private func read(_ answer: HTTPResponse) throws -> Response {
        do {
            let response = try interpret(answer)
            response.answerFields = answer.answerFields
            return response
        } catch let error as ClarifaiError {
            throw error.withMetadata(answer.answerFields.metadata)
        }
    }

    /// Runs the exchange on the calling thread.
    func perform(_ call: CallRequest) throws -> Response {
        let answer: HTTPResponse
        do {
            answer = try http.perform(request)
        } catch let error as ClarifaiError {
            throw failed(call, error)
        }
        return try read(answer)
    }

    /// Runs the exchange on the client's multi handle: `completion` gets the outcome there.
    func start(_ call: CallRequest, completion: @escaping (Result<Response, ClarifaiError>) -> Void) throws -> AsyncExchange {
        try AsyncExchange(request, on: http) { result in
            completion(result.mapError { failed(call, $0) }.flatMap { answer in
                Result { try read(answer) }.mapError { $0 as? ClarifaiError ?? ClarifaiError(.internal, "\($0)") }
            })
        }
    }

    /// An exchange's failure as the call's.
    private func failed(_ call: CallRequest, _ error: ClarifaiError) -> ClarifaiError {
        Log.debug("\(call.method.name): \(request.method) \(request.displayURL): \(error.message)")
        return error.prefixed("\(call.method.name): ")
    }
}

/// How requests travel to Clarifai: REST or gRPC. Thread-safe.
public protocol Channel: AnyObject, Sendable {
    var options: ChannelOptions { get }
    /// The exchange of a unary call (throws for a request that cannot be sent, e.g. without the
    /// fields its REST path needs).
    func unaryExchange(_ request: CallRequest) throws -> UnaryExchange
    /// Calls a server-streaming method; `onMessage` gets each message in order, on the calling
    /// thread, and returns false to cancel the call.
    func serverStream(_ request: CallRequest, onMessage: (Response) throws -> Bool) throws
    /// Opens a streaming call whose messages the caller sends and receives as it goes
    /// (`request.message` is not used; its deadline bounds the whole stream).
    func openStream(_ request: CallRequest) throws -> any MessageStream
}

extension Channel {
    func unary(_ request: CallRequest) throws -> Response { try unaryExchange(request).perform(request) }
}

/// A call with messages both ways (gRPC channels): one thread may send while another receives;
/// any thread may cancel.
public protocol MessageStream: AnyObject, Sendable {
    /// Sends one request message (serialized), waiting while the server takes no more.
    func send(_ message: [UInt8]) throws
    /// No more request messages (the server sees the end of the request stream).
    func closeSend() throws
    /// The next answer message, waiting for it; nil at the end of a stream that ended with status
    /// OK; throws how it failed otherwise (CANCELLED after `cancel`), again on every later call.
    func receive() throws -> [UInt8]?
    /// Ends the call at once; the server sees the cancellation.
    func cancel()
}

/// Settings shared by every channel kind; changed at any time, read at each call's start.
public final class ChannelOptions: Sendable {
    struct Values {
        var timeoutMilliseconds = 0
        var idleTimeoutMilliseconds = ChannelOptions.defaultIdleTimeoutMilliseconds
        var keepaliveMilliseconds = ChannelOptions.defaultKeepaliveMilliseconds
        var maxRetries = 4
        var maximumReceiveBytes = HTTPClient.defaultMaximumBodyBytes
        var caFile: String?
        /// HTTP/2 connections a gRPC channel spreads concurrent calls over (by default, as many
        /// as threads calling at once need: HTTPClient.multiplexer(spreadOver:forCaller:)).
        var connections = HTTPClient.automaticConnections
    }

    /// Unary calls fail after this long with (almost) nothing received.
    public static let defaultIdleTimeoutMilliseconds = 120_000
    /// A quiet stream's connection is kept alive (HTTP/2 PING, TCP keepalive) this often.
    public static let defaultKeepaliveMilliseconds = 30_000
    /// Longer times are taken as this: 99,999,999 s (about 3 years), the most grpc-timeout carries.
    public static let longestTimeMilliseconds = 99_999_999_000
    /// A CA file larger than this is not a certificate bundle.
    static let largestCAFile = 64 << 20

    private let values = Locked(Values())

    var current: Values { values.withLock { $0 } }

    /// A time setting as given: negative ones refused (`name` and what 0 means name it), longer
    /// ones taken as `longestTimeMilliseconds`.
    static func time(_ milliseconds: Int, _ name: String, zeroMeans: String) throws -> Int {
        guard milliseconds >= 0 else {
            throw ClarifaiError.invalidArgument("\(name) must be 0 (\(zeroMeans)) or positive, got \(milliseconds)")
        }
        return min(milliseconds, longestTimeMilliseconds)
    }

    public func setTimeout(milliseconds: Int) throws {
        let timeout = try ChannelOptions.time(milliseconds, "timeout_ms", zeroMeans: "no deadline")
        values.withLock { $0.timeoutMilliseconds = timeout }
    }

    public func setIdleTimeout(milliseconds: Int) throws {
        let idle = try ChannelOptions.time(milliseconds, "idle_ms", zeroMeans: "no idle limit")
        values.withLock { $0.idleTimeoutMilliseconds = idle }
    }

    /// How often an open stream's connection is kept alive; 0: never.
    public func setKeepalive(milliseconds: Int) throws {
        let interval = try ChannelOptions.time(milliseconds, "interval_ms", zeroMeans: "no keepalive")
        values.withLock { $0.keepaliveMilliseconds = interval }
    }

    /// How many times a transient failure is retried (0: never).
    public func setMaxRetries(_ retries: Int) throws {
        try ChannelOptions.checkMaxRetries(retries)
        values.withLock { $0.maxRetries = retries }
    }

    static func checkMaxRetries(_ retries: Int) throws {
        guard (0...100).contains(retries) else {
            throw ClarifaiError.invalidArgument("max_retries must be between 0 and 100, got \(retries)")
        }
    }

    /// The largest answer accepted: a REST body once decoded, or one gRPC message once decompressed.
    public func setMaximumReceiveBytes(_ bytes: Int) {
        values.withLock { $0.maximumReceiveBytes = bytes }
    }

    /// How many HTTP/2 connections (each with its own multi handle) gRPC calls are spread over.
    public func setConnections(_ count: Int) throws {
        guard (1...ChannelOptions.mostConnections).contains(count) else {
            throw ClarifaiError.invalidArgument("count must be between 1 and \(ChannelOptions.mostConnections), got \(count)")
        }
        values.withLock { $0.connections = count }
    }

    static let mostConnections = 64

    /// A readable regular file holding at least one PEM certificate: else every call would fail.
    public func setCAFile(_ path: String) throws {
        guard !path.isEmpty else { throw ClarifaiError.invalidArgument("the CA file path is empty") }
        let content = try readRegularFile(path, purpose: "CA file", limit: ChannelOptions.largestCAFile)
        guard content.firstRange(of: Array("CERTIFICATE-----".utf8)) != nil else {
            throw ClarifaiError.invalidArgument("CA file '\(path)' holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        values.withLock { $0.caFile = path }
    }
}

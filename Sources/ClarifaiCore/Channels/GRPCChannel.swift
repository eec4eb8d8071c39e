/// The gRPC channels: HTTP/2 through libcurl, over TLS (ALPN h2) or cleartext (h2c with prior
/// knowledge), `POST /clarifai.api.V2/<Method>` with length-prefixed protobuf messages and the
/// status in the trailers.
public final class GRPCChannel: Channel {
    public static let defaultTarget = "api.clarifai.com"
    public static let tlsPort = 443
    public static let cleartextPort = 18080

    public let options = ChannelOptions()
    let target: GRPCTarget
    let usesTLS: Bool
    /// "http[s]://authority/clarifai.api.V2/", to which a call adds its method's name.
    private let servicePrefix: String
    /// $CLARIFAI_ROOT_CERTIFICATES_PATH for TLS channels, read when the channel is made.
    private let environmentCAFile: String?
    private let http = HTTPClient(userAgent: LibraryVersion.userAgent)
    /// A call's URL and header lines, by what they are made of.
    private struct CallKey: SameBytes {
        let method: String
        let metadata: [String]
        let timeoutMilliseconds: Int

        func hasSameBytes(as other: CallKey) -> Bool {
            timeoutMilliseconds == other.timeoutMilliseconds && method.hasSameBytes(as: other.method)
                && metadata.hasSameBytes(as: other.metadata)
        }
    }
    private let lastCall = LastMade<CallKey, (url: String, headers: [String])>()

    /// `target` nil: $CLARIFAI_GRPC_BASE, else (TLS only) api.clarifai.com.
    public init(target: String?, usesTLS: Bool) throws {
        let given = target ?? environmentValue("CLARIFAI_GRPC_BASE") ?? (usesTLS ? GRPCChannel.defaultTarget : nil)
        guard let given else {
            throw ClarifaiError.invalidArgument("no gRPC target: pass host[:port] or set CLARIFAI_GRPC_BASE")
        }
        self.target = try GRPCTarget(parsing: given, defaultPort: usesTLS ? GRPCChannel.tlsPort : GRPCChannel.cleartextPort)
        self.usesTLS = usesTLS
        servicePrefix = (usesTLS ? "https://" : "http://") + self.target.authority + "/clarifai.api.V2/"
        environmentCAFile = usesTLS ? environmentValue("CLARIFAI_ROOT_CERTIFICATES_PATH") : nil
    }

    /// A unary answer is held whole (one message, within the receive limit), then read.
    public func unaryExchange(_ request: CallRequest) throws -> UnaryExchange {
        let options = options.current
        let started = monotonicMilliseconds()
        var exchange = httpRequest(request, options, message: request.message)
        exchange.messageLimit = options.maximumReceiveBytes
        return UnaryExchange(http: http, request: exchange) { answer in
            try self.unaryAnswer(answer, request, maximumMessageBytes: options.maximumReceiveBytes, started: started)
        }
    }

    private func unaryAnswer(_ answer: HTTPResponse, _ request: CallRequest, maximumMessageBytes: Int, started: Double) throws -> Response {
        var decoder = GRPCFrameDecoder(maximumMessageBytes: maximumMessageBytes)
        var message: Response?
        // The start of a body that is not gRPC (a proxy's error page), for the error message.
        var foreignBody: [UInt8] = []
        if answer.status == 200, answer.contentType.hasPrefix("application/grpc") {
            do {
                _ = try answer.body.withUnsafeBytes { body in
                    try decoder.feed(body, encoding: answer.messageEncoding) { bytes in
                        guard message == nil else { throw ClarifaiError(.protocol, "more than one message in a unary answer") }
                        message = try Response(protoMessage: bytes, of: request.method)
                        return true
                    }
                }
            } catch let frameError as GRPCFrameDecoder.FrameError {
                throw ClarifaiError(.protocol, "\(origin(request)): \(frameError.message)")
            } catch let error as ClarifaiError {
                throw error.prefixed("\(origin(request)): ")
            }
        } else {
            foreignBody = Array(answer.body.prefix(512))
        }
        Log.debug("\(origin(request)): HTTP \(answer.status), grpc-status \(answer.field("grpc-status") ?? "none"), \(Int(monotonicMilliseconds() - started)) ms")
        if try ending(of: answer, request, decoder: decoder, foreignBody: foreignBody) == .trailersLost {
            // A Clarifai answer carries its outcome in its own status, which then stands for the lost one.
            guard let message, message.statusCode != 0 else { throw trailersLost(request) }
            Log.debug("\(origin(request)): gRPC trailers lost as the connection closed; the answer's status \(message.statusCode) stands")
        }
        guard let message else { throw ClarifaiError(.protocol, "\(origin(request)): the answer carried no message") }
        message.httpStatus = 200
        message.grpcStatus = 0
        return message
    }

    func trailersLost(_ request: CallRequest) -> ClarifaiError {
        ClarifaiError(.transport, "\(origin(request)): the connection closed before the gRPC status arrived "
                      + "(libcurl before 8.1 loses the trailers then)", transient: request.method.isIdempotent)
    }

    /// "Method: URL", the start of every error message of a call.
    func origin(_ request: CallRequest) -> String { "\(request.method.name): \(url(request))" }

    private func url(_ request: CallRequest) -> String {
        servicePrefix + request.method.name
    }

    public func openStream(_ request: CallRequest) throws -> any MessageStream {
        try GRPCStream(request, on: self, http: http)
    }

    public func serverStream(_ request: CallRequest, onMessage: (Response) throws -> Bool) throws {
        let ending = try exchange(request) { message in
            try onMessage(try Response(protoMessage: message, of: request.method))
        }
        if ending == .trailersLost { throw trailersLost(request) }
    }

    /// How an answer ended: with grpc-status OK, or complete but without the trailers, lost by
    /// libcurl as the server closed the connection (see HTTPClient.losesTrailersOnClose).
    enum Ending { case ok, trailersLost }

    /// Sends the request and hands each message of the answer to `deliver` as it arrives; then
    /// checks the gRPC status. `deliver` returns false to cancel the call.
    private func exchange(_ request: CallRequest, deliver: (UnsafeRawBufferPointer) throws -> Bool) throws -> Ending {
        let options = options.current
        let exchange = httpRequest(request, options, message: request.message)
        var origin: String { self.origin(request) }
        var decoder = GRPCFrameDecoder(maximumMessageBytes: options.maximumReceiveBytes)
        // A slow consumer must not see messages past the deadline, however fast they arrive.
        let deadline = request.timeoutMilliseconds > 0 ? monotonicMilliseconds() + Double(request.timeoutMilliseconds) : nil

        var failure: Error?
        // The start of a body that is not gRPC (a proxy's error page), for the error message.
        var foreignBody: [UInt8] = []
        let started = monotonicMilliseconds()
        let answer: HTTPResponse
        do {
            // The consumer lives only as long as perform(), which runs it synchronously.
            answer = try withoutActuallyEscaping(deliver) { deliver in
                try http.perform(exchange) { data, head in
                    guard head.status == 200, head.contentType.hasPrefix("application/grpc") else {
                        foreignBody.append(contentsOf: data.prefix(max(0, 512 - foreignBody.count)))
                        return true
                    }
                    do {
                        return try decoder.feed(data, encoding: head.messageEncoding) { message in
                            if let deadline, monotonicMilliseconds() >= deadline {
                                throw ClarifaiError(.timeout, "deadline of \(request.timeoutMilliseconds) ms passed")
                            }
                            return try deliver(message)
                        }
                    } catch {
                        failure = error
                        return false
                    }
                }
            }
        } catch let error as ClarifaiError {
            Log.debug("\(origin): \(error.message)")
            // A failure inside `deliver` stopped the transfer: report it rather than the stop.
            switch failure {
            case let frameError as GRPCFrameDecoder.FrameError: throw ClarifaiError(.protocol, "\(origin): \(frameError.message)")
            case let deliveryError as ClarifaiError: throw deliveryError.prefixed("\(origin): ")
            case let other?: throw other
            case nil: throw error.prefixed("\(request.method.name): ")
            }
        }
        Log.debug("\(origin): HTTP \(answer.status), grpc-status \(answer.field("grpc-status") ?? "none"), \(Int(monotonicMilliseconds() - started)) ms")
        return try ending(of: answer, request, decoder: decoder, foreignBody: foreignBody)
    }

    /// The size from which a request message is sent in place (see httpRequest): glibc's mmap
    /// threshold, from where a copy's memory is fresh pages. Below it the message is framed in an
    /// array of its own, which libcurl reads in place with the handle's options kept from the last call.
    static let messageSentInPlaceFrom = 128 << 10

    /// The HTTP/2 exchange of a call: POST /clarifai.api.V2/<Method> with the caller's metadata,
    /// the deadline as grpc-timeout, gzip accepted.
    /// `message`: the request's one message (nil: a stream's, sent as it goes). A large one goes
    /// out behind its frame's header from where it is: copied there first, a megabyte image cost
    /// the copy, and fresh memory for it (page faults) on every call.
    func httpRequest(_ request: CallRequest, _ options: ChannelOptions.Values, message: [UInt8]?) -> HTTPRequest {
        let (url, headers) = urlAndHeaders(request)
        let isStream = request.method.serverStreaming || request.method.clientStreaming
        var body = message, bodyPrefix: [UInt8] = []
        if let message {
            if message.count < GRPCChannel.messageSentInPlaceFrom {
                body = GRPCFrameDecoder.frame(message)
            } else {
                bodyPrefix = GRPCFrameDecoder.header(length: message.count)
            }
        }
        return HTTPRequest(method: "POST", url: url, headers: headers, body: body, bodyPrefix: bodyPrefix,
                           timeoutMilliseconds: request.timeoutMilliseconds,
                           // A stream may rightly stay silent for long: its connection is kept alive instead.
                           idleTimeoutMilliseconds: isStream ? 0 : options.idleTimeoutMilliseconds,
                           keepaliveMilliseconds: isStream ? options.keepaliveMilliseconds : 0,
                           // One message and its prefix: only unary answers are held whole.
                           maximumBodyBytes: options.maximumReceiveBytes > Int.max - 5 ? Int.max : options.maximumReceiveBytes + 5,
                           caFile: options.caFile ?? environmentCAFile,
                           version: usesTLS ? .http2OverTLS : .http2PriorKnowledge,
                           isStream: isStream, connections: options.connections)
    }

    private func urlAndHeaders(_ request: CallRequest) -> (url: String, headers: [String]) {
        let key = CallKey(method: request.method.name, metadata: request.metadata, timeoutMilliseconds: request.timeoutMilliseconds)
        return lastCall.value(for: key) {
            var headers = request.metadata + [
                "Content-Type: application/grpc",
                "TE: trailers",
                "grpc-accept-encoding: gzip",
                "Accept:",
                "Expect:",
            ]
            if request.timeoutMilliseconds > 0 { headers.append(GRPCStatus.timeoutHeader(milliseconds: request.timeoutMilliseconds)) }
            return (url(request), headers)
        }
    }

    /// How an answer ended, from its status line, content type and trailers: OK, its trailers
    /// lost, or the failure they tell.
    func ending(of answer: HTTPResponse, _ request: CallRequest, decoder: GRPCFrameDecoder,
                        foreignBody: [UInt8]) throws -> Ending {
        // Only a failure's message names it.
        var origin: String { self.origin(request) }
        guard answer.majorVersion == 2 else {
            throw ClarifaiError(.protocol, "\(origin): the server did not speak HTTP/2 (gRPC needs it)")
        }
        guard let statusText = answer.field("grpc-status") else {
            if answer.status == 200, answer.majorVersion == 2, answer.contentType.hasPrefix("application/grpc"),
               answer.connectionClosed, HTTPClient.losesTrailersOnClose, decoder.leftover == 0 {
                return .trailersLost
            }
            let type = answer.contentType.isEmpty ? "" : " (\(answer.contentType))"
            let excerpt = foreignBody.isEmpty ? "" : ": " + Response.excerpt(foreignBody)
            let problem = answer.status == 200 ? "ended without gRPC trailers (no grpc-status)" : "without a gRPC status"
            throw ClarifaiError(answer.status == 200 ? .protocol : .forHTTPStatus(answer.status),
                                "\(origin): HTTP \(answer.status)\(type) \(problem)\(excerpt)",
                                transient: answer.isTransientFailure(idempotent: request.method.isIdempotent)).answered(http: answer.status)
        }
        guard let status = Int(statusText) else {
            throw ClarifaiError(.protocol, "\(origin): invalid grpc-status '\(statusText)'").answered(http: answer.status)
        }
        guard status == 0 else {
            let message = answer.field("grpc-message").map(GRPCStatus.decodeMessage) ?? ""
            throw ClarifaiError(.forGRPCStatus(status),
                                "\(origin): gRPC status \(status) \(GRPCStatus.name(status))" + (message.isEmpty ? "" : ": \(message)"),
                                transient: GRPCStatus.isTransient(status)).answered(http: answer.status, grpc: status)
        }
        guard decoder.leftover == 0 else {
            throw ClarifaiError(.protocol, "\(origin): the answer ended inside a message (\(decoder.leftover) bytes of a frame)")
        }
        return .ok
    }
}

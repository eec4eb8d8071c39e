/// A gRPC call with messages both ways over an HTTPStream: what is sent goes out framed (a
/// 5-byte length prefix each), what arrives is decoded into messages as the caller asks for
/// them, and the end is checked as a unary call's (trailers, grpc-status).
final class GRPCStream: MessageStream, @unchecked Sendable {
    private let request: CallRequest
    private let channel: GRPCChannel
    private let exchange: HTTPStream
    private let origin: String

    /// The receiving side, one receiver at a time.
    private struct Receiving {
        var decoder: GRPCFrameDecoder
        var messages: [[UInt8]] = []
        /// The start of a body that is not gRPC (a proxy's error page), for the error message.
        var foreignBody: [UInt8] = []
        /// Set once the stream ended: nil for a clean end, else how it failed (told again to every
        /// later receive).
        var end: ClarifaiError??
    }

    private let receiving: Locked<Receiving>

    init(_ request: CallRequest, on channel: GRPCChannel, http: HTTPClient) throws {
        self.request = request
        self.channel = channel
        origin = channel.origin(request)
        let options = channel.options.current
        do {
            exchange = try HTTPStream(channel.httpRequest(request, options, message: nil), on: http,
                                      requestIsOneMessage: !request.method.clientStreaming)
        } catch let error as ClarifaiError {
            throw error.prefixed("\(request.method.name): ")
        }
        receiving = Locked(Receiving(decoder: GRPCFrameDecoder(maximumMessageBytes: options.maximumReceiveBytes)))
    }

    func send(_ message: [UInt8]) throws {
        do {
            try exchange.send(GRPCFrameDecoder.frame(message))
        } catch let error as ClarifaiError {
            throw error.prefixed("\(origin): ")
        }
    }

    func closeSend() throws {
        do {
            try exchange.closeSend()
        } catch let error as ClarifaiError {
            throw error.prefixed("\(origin): ")
        }
    }

    func cancel() { exchange.cancel() }

    func receive() throws -> [UInt8]? {
        try receiving.withLock { state in
            while true {
                if !state.messages.isEmpty { return state.messages.removeFirst() }
                if let end = state.end {
                    if let failure = end { throw failure }
                    return nil
                }
                do {
                    try receiveMore(&state)
                } catch let error as ClarifaiError {
                    exchange.cancel()
                    state.end = .some(error)
                    Log.debug("\(origin): \(error.message)")
                }
            }
        }
    }

    /// Takes the next bytes of the answer into messages, or records the end.
    private func receiveMore(_ state: inout Receiving) throws {
        guard let (bytes, head) = try withOrigin({ try exchange.receive() }) else {
            let answer = try withOrigin { try exchange.outcome() }
            switch try channel.ending(of: answer, request, decoder: state.decoder, foreignBody: state.foreignBody) {
            case .ok: state.end = .some(nil)
            case .trailersLost: throw channel.trailersLost(request)
            }
            return
        }
        guard head.status == 200, head.contentType.hasPrefix("application/grpc") else {
            state.foreignBody.append(contentsOf: bytes.prefix(max(0, 512 - state.foreignBody.count)))
            return
        }
        do {
            _ = try bytes.withUnsafeBytes { bytes in
                try state.decoder.feed(bytes, encoding: head.messageEncoding) { message in
                    state.messages.append(Array(message))
                    return true
                }
            }
        } catch let error as GRPCFrameDecoder.FrameError {
            throw ClarifaiError(.protocol, "\(origin): \(error.message)")
        }
    }

    /// Runs `body`, naming the call in the message of a failure from the HTTP layer.
    private func withOrigin<R>(_ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as ClarifaiError {
            throw error.prefixed("\(request.method.name): ")
        }
    }
}

import CCurl
import Glibc

/// An HTTP/2 exchange in both directions at once: the request body goes out as the caller sends
/// it (RequestFeed), and the caller pulls the answer as it arrives. It runs on a multi handle:
/// the channel's where libcurl can pause one stream alone (8.1 on), else one of its own, with
/// its own connection (libcurl 7.88 cannot pause or hold back a stream without the others on
/// its connection). One thread may send while another receives; any thread may cancel.
///
/// The exchange starts with the first send, or a receive. A request that is one message (a
/// server-streaming call) starts when it is closed instead, and goes out whole, as a body of
/// known size: libcurl (7.88 and 8.1) can lose an answer that arrives while it still reads a
/// request body from its read callback (seen when the server answers fast, or the client is slow).
final class HTTPStream: @unchecked Sendable {
    let request: HTTPRequest
    private let handle = CurlHandle()
    private let sink: ExchangeSink
    private let feed = RequestFeed()
    private let multiplexer: Multiplexer
    /// A multi handle of the stream's own, stopped with it.
    private let ownsMultiplexer: Bool
    private let client: HTTPClient
    /// A one-message request's body, which libcurl reads from here during the exchange.
    private var wholeBody: [UInt8] = []
    /// The end of the whole stream (monotonicMilliseconds()), nil for none.
    let deadline: Double?
    /// Whether the multi handle took the exchange (see start()).
    private let started = Locked(false)
    /// The request is one message: the exchange starts when it is closed.
    private let startsWhenClosed: Bool

    init(_ request: HTTPRequest, on client: HTTPClient, requestIsOneMessage: Bool) throws {
        startsWhenClosed = requestIsOneMessage
        guard handle.raw != nil else { throw ClarifaiError(.internal, "libcurl could not create a handle") }
        self.request = request
        deadline = request.timeoutMilliseconds > 0 ? monotonicMilliseconds() + Double(request.timeoutMilliseconds) : nil
        sink = ExchangeSink(pulledUntil: deadline, feed: feed, maximumBodyBytes: request.maximumBodyBytes,
                            probesConnectionEnd: HTTPClient.losesTrailersOnClose,
                            keepsAlive: request.keepaliveMilliseconds > 0 && HTTPClient.sendsKeepalivePings)
        let share = client.connections.withLock { $0.share }
        if HTTPClient.pausesStreamsAlone, let shared = client.multiplexer(spreadOver: request.connections, forCaller: false) {
            (multiplexer, ownsMultiplexer) = (shared, false)
        } else {
            guard let own = Multiplexer(share: share) else { throw ClarifaiError(.internal, "libcurl could not start a multi handle") }
            (multiplexer, ownsMultiplexer) = (own, true)
        }
        self.client = client
    }

    deinit {
        if started.withLock({ $0 }) {
            cancel()
            // The multi handle lets go of the easy handle before it goes.
            _ = sink.handOff?.withLock(waitingUntil: { $0.result != nil }) { _ in }
        }
        if ownsMultiplexer { multiplexer.stop() }
    }

    /// Hands the exchange to the multi handle, once.
    private func start() throws {
        try started.withLock { started in
            guard !started, let raw = handle.raw, sink.handOff?.withLock({ $0.cancelled }) == false else { return }
            let share = client.connections.withLock { $0.share }
            if startsWhenClosed, let whole = feed.takeAllIfClosed() {
                wholeBody = whole
                try wholeBody.withUnsafeBytes { body in
                    // The array keeps its storage while nothing changes it: libcurl reads it there.
                    try handle.prepare(request, body: .bytes(body), userAgent: client.userAgent, share: share, sink: sink,
                                       multiplexes: true)
                }
            } else {
                try handle.prepare(request, body: .feed(feed), userAgent: client.userAgent, share: share, sink: sink,
                                   multiplexes: true)
            }
            guard multiplexer.start(raw, sink) else {
                throw ClarifaiError(.transport, "\(request.method) \(request.displayURL): the connection is closing")
            }
            started = true
        }
    }

    /// Queues bytes of the request body (waiting while the server takes no more, until the
    /// deadline).
    func send(_ bytes: [UInt8]) throws {
        let resumes = try feed.append(bytes, deadline: deadline)
        if !startsWhenClosed { try start() }
        if resumes, let raw = handle.raw { multiplexer.resume(raw, sink) }
    }

    /// Ends the request body (HTTP/2 END_STREAM once what is queued went out).
    func closeSend() throws {
        let resumes = try feed.close()
        try start()
        if resumes, let raw = handle.raw { multiplexer.resume(raw, sink) }
    }

    /// The next bytes of the answer (with the response head) as they arrive, waiting until the
    /// deadline; nil once the exchange is over: then `outcome()` tells how it ended.
    func receive() throws -> (bytes: [UInt8], head: ResponseHead)? {
        guard let handOff = sink.handOff, let raw = handle.raw else { return nil }
        try start()
        let (bytes, head, resumes, ended) = handOff.withLock(waitingUntil: { !$0.pending.isEmpty || $0.result != nil },
                                                             deadline: deadline) { state in
            defer {
                state.pending = []
                state.paused = false
            }
            return (state.pending, state.head, state.paused, state.result != nil)
        }
        // A write callback may wait for the room this made (ExchangeSink.waitsForRoom).
        if !bytes.isEmpty { handOff.update { _ in } }
        if resumes { multiplexer.resume(raw, sink) }
        if !bytes.isEmpty { return (bytes, head) }
        if ended { return nil }
        cancel()
        throw ClarifaiError(.timeout, "\(request.method) \(request.displayURL): deadline of \(request.timeoutMilliseconds) ms passed")
    }

    /// How the exchange ended, once receive() returned nil (the answer's head and trailers, or the error).
    func outcome() throws -> HTTPResponse {
        guard let result = sink.handOff?.withLock({ $0.result }) else {
            throw ClarifaiError(.internal, "\(request.method) \(request.displayURL): the stream has not ended")
        }
        if sink.handOff?.withLock({ $0.cancelled }) == true {
            throw ClarifaiError(.cancelled, "\(request.method) \(request.displayURL): cancelled by the caller")
        }
        return try handle.outcome(result, of: request, sink)
    }

    /// Ends the exchange at once (the server sees an RST_STREAM); a receive waiting returns the
    /// end. Safe from any thread, more than once.
    func cancel() {
        guard let handOff = sink.handOff, let raw = handle.raw else { return }
        guard started.withLock({ $0 }) else {
            // Never started: ends here, with nothing sent.
            handOff.update { state in
                state.cancelled = true
                state.result = state.result ?? CURLE_ABORTED_BY_CALLBACK
            }
            feed.end()
            return
        }
        let running = handOff.update { state in
            guard state.result == nil && !state.cancelled else { return false }
            state.cancelled = true
            return true
        }
        guard running else { return }
        feed.end()  // a send after the cancel fails at once
        multiplexer.cancel(raw, sink)
    }
}

import CCurl
import Glibc

/// An exchange on the client's multi handle that nobody waits for: its answer, or its error, goes
/// to a completion that runs on the multi handle's thread. Any thread may cancel it.
final class AsyncExchange: @unchecked Sendable {
    typealias Completion = (Result<HTTPResponse, ClarifaiError>) -> Void

    private let client: HTTPClient
    private let request: HTTPRequest
    private let handle: CurlHandle
    /// A copy of the request body (after its prefix), which libcurl reads in place for the whole exchange.
    private let body: UnsafeMutableRawBufferPointer?
    private var sink: ExchangeSink
    /// Nil once it ran.
    private var completion: Completion?
    /// Sent again after a reused connection failed (once at most).
    private var resent = false
    /// The multi handle running the exchange, whether the caller cancelled it, and whether it
    /// finished (its easy handle may then run another exchange). Operations go to the multi
    /// handle under this lock, so that a cancel never reaches an exchange that came after.
    private let state = Locked<(multiplexer: Multiplexer?, cancelled: Bool, finished: Bool)>((nil, false, false))

    /// Starts `request` on `client`'s multi handle; throws when it cannot start (nothing then runs).
    init(_ request: HTTPRequest, on client: HTTPClient, completion: @escaping Completion) throws {
        self.client = client
        self.request = request
        self.completion = completion
        handle = client.takeHandle()
        body = request.body.map { bytes in
            let prefix = request.bodyPrefix
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: prefix.count + bytes.count, alignment: 1)
            prefix.withUnsafeBytes { copy.copyMemory(from: $0) }
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: copy[prefix.count...]).copyMemory(from: $0) }
            return copy
        }
        sink = AsyncExchange.newSink(for: request)
        try start(freshConnection: false)
    }

    deinit { body?.deallocate() }

    private static func newSink(for request: HTTPRequest) -> ExchangeSink {
        ExchangeSink(consumer: nil, handsOff: true, maximumBodyBytes: request.maximumBodyBytes,
                     idleLimit: request.idleTimeoutMilliseconds,
                     probesConnectionEnd: request.version != .automatic && HTTPClient.losesTrailersOnClose)
    }

    private func start(freshConnection: Bool) throws {
        guard let raw = handle.raw else { throw ClarifaiError(.internal, "libcurl could not create a handle") }
        let share = client.connections.withLock { $0.share }
        try handle.prepare(request, body: .bytes(body.map(UnsafeRawBufferPointer.init)), userAgent: client.userAgent,
                           share: share, sink: sink, multiplexes: true)
        if freshConnection { handle.requireFreshConnection(sink) }
        // The sink holds the exchange until it ends; the exchange drops the sink's hold then.
        sink.onFinish = { code in self.finished(code) }
        // A multi handle that ended before taking the exchange hands it on to the next one.
        while true {
            guard let multiplexer = client.multiplexer(spreadOver: request.connections, forCaller: false) else {
                sink.onFinish = nil
                throw ClarifaiError(.internal, "libcurl could not start a multi handle")
            }
            let started = state.withLock { state in
                state.multiplexer = multiplexer
                guard multiplexer.start(raw, sink) else { return false }
                if state.cancelled { multiplexer.cancel(raw, sink) }
                return true
            }
            if started { return }
        }
    }

    /// Ends the exchange at once; its completion gets CANCELLED unless it already ran.
    func cancel() {
        state.withLock { state in
            state.cancelled = true
            if !state.finished, let raw = handle.raw { state.multiplexer?.cancel(raw, sink) }
        }
    }

    /// Runs `action` on the multi handle's thread after `milliseconds` (a retry's pause); false
    /// when the multi handle has ended.
    func schedule(after milliseconds: Double, _ action: @escaping () -> Void) -> Bool {
        state.withLock { $0.multiplexer }?.schedule(after: milliseconds, action) ?? false
    }

    /// The exchange ended with `code` (multi handle's thread).
    private func finished(_ code: CURLcode) {
        guard let raw = handle.raw, let completion else { return }
        let cancelled = state.withLock { $0.cancelled }
        if !cancelled && !resent && CurlHandle.failedOnReusedConnection(code, raw, sink) {
            Log.debug("\(request.method) \(request.displayURL): a reused connection failed before any answer; sending again")
            resent = true
            let failed = sink
            sink = AsyncExchange.newSink(for: request)
            do {
                return try start(freshConnection: true)
            } catch {
                sink = failed  // not sent again: the first failure stands
            }
        }
        self.completion = nil
        state.withLock { $0.finished = true }
        let result = cancelled ? .failure(ClarifaiError(.cancelled, "\(request.method) \(request.displayURL): cancelled by the caller"))
            : Result { try handle.outcome(code, of: request, sink) }.mapError { $0 as? ClarifaiError ?? ClarifaiError(.internal, "\($0)") }
        // A handle goes back to the pool only after a clean exchange.
        if case .success = result { client.returnHandle(handle) }
        completion(result)
    }
}

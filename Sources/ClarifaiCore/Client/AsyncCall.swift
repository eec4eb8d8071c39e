/// A unary call that runs on its channel's multi handle while the caller goes on: attempts,
/// retries and the deadline as for a blocking call (Client.withRetries); the retry pauses are
/// timers of the multi handle. Its outcome goes to `deliver`, once.
final class AsyncCall: AsyncWork, @unchecked Sendable {
    private enum Phase {
        case starting
        case running(AsyncExchange)
        /// Between attempts, during a retry's pause.
        case waiting
        case done
    }

    private let client: Client
    private let method: Method
    private let message: [UInt8]
    let tag: UnsafeMutableRawPointer?
    private let deliver: (AsyncCall, Result<Response, ClarifaiError>) -> Void
    /// Touched by the thread running the call's current step only (the caller's, then the multi
    /// handle's), under `state`'s lock.
    private var attempts: CallAttempts
    private let state = Locked<(phase: Phase, cancelled: Bool)>((.starting, false))

    init(client: Client, attempts: CallAttempts, message: [UInt8], tag: UnsafeMutableRawPointer?,
         deliver: @escaping (AsyncCall, Result<Response, ClarifaiError>) -> Void) {
        self.client = client
        self.attempts = attempts
        method = attempts.method
        self.message = message
        self.tag = tag
        self.deliver = deliver
    }

    /// Starts the first attempt; throws what stops the call before anything was sent (then
    /// nothing is delivered).
    func start() throws {
        try state.withLock { state in try attempt(&state.phase) }
    }

    /// Starts an attempt (under the state lock).
    private func attempt(_ phase: inout Phase) throws {
        let request = CallRequest(method: method, message: message, timeoutMilliseconds: attempts.remainingMilliseconds,
                                  metadata: attempts.metadata)
        // Its end may come on the multi handle's thread before this returns: it waits for the lock.
        phase = .running(try client.channel.unaryExchange(request).start(request) { [self] result in attemptEnded(result) })
    }

    private func attemptEnded(_ result: Result<Response, ClarifaiError>) {
        let checked = result.flatMap { response in
            response.isSuccess ? .success(response) : .failure(ClarifaiError(apiFailure: response, method: method.name))
        }
        guard case .failure(let error) = checked else { return finish(checked) }
        let retried = state.withLock { state -> Result<Bool, ClarifaiError> in
            guard !state.cancelled, case .running(let exchange) = state.phase else { return .success(false) }
            do {
                let pause = try attempts.pauseBeforeRetry(after: error)
                state.phase = .waiting
                return .success(exchange.schedule(after: pause) { [self] in retry() })
            } catch {
                return .failure(error as? ClarifaiError ?? ClarifaiError(.internal, "\(error)"))
            }
        }
        switch retried {
        case .success(true): return
        case .success(false): finish(.failure(error))
        case .failure(let final): finish(.failure(final))
        }
    }

    /// The next attempt, after a retry's pause (on the multi handle's thread).
    private func retry() {
        let failure = state.withLock { state -> ClarifaiError? in
            guard case .waiting = state.phase else { return nil }  // cancelled during the pause
            do {
                try attempt(&state.phase)
                return nil
            } catch {
                return error as? ClarifaiError ?? ClarifaiError(.internal, "\(error)")
            }
        }
        if let failure { finish(.failure(failure)) }
    }

    /// Delivers the outcome, unless one was delivered already.
    private func finish(_ outcome: Result<Response, ClarifaiError>) {
        let first = state.withLock { state in
            if case .done = state.phase { return false }
            state.phase = .done
            return true
        }
        if first { deliver(self, outcome) }
    }

    /// An attempt in flight ends as CANCELLED (the server sees an RST_STREAM or a closed
    /// connection); a call waiting to retry ends at once.
    func cancel() {
        let waiting = state.withLock { state in
            state.cancelled = true
            switch state.phase {
            case .running(let exchange):
                exchange.cancel()
                return false
            case .waiting: return true
            case .starting, .done: return false
            }
        }
        if waiting { finish(.failure(ClarifaiError(.cancelled, "\(method.name): cancelled by the caller"))) }
    }
}

import Glibc

/// Which failures are worth another attempt, and how long to wait before it: exponential backoff
/// from 10 ms with jitter, capped, never past the call's deadline.
struct RetryPolicy {
    /// Clarifai statuses the official SDKs retry: throttling and models still warming up.
    static let retriedStatusNames = ["CONN_THROTTLED", "CONN_EXCEED_HOURLY_LIMIT", "MODEL_DEPLOYING", "MODEL_LOADING",
                                     "MODEL_BUSY_PLEASE_RETRY", "TRY_AGAIN"]
    static let firstPauseMilliseconds = 10.0
    static let longestPauseMilliseconds = 2000.0

    let retriedStatuses: Set<Int32>
    /// CONN_THROTTLED: the server's rate limit was passed.
    let throttledStatus: Int32

    static let official = RetryPolicy(schema: .official)

    init(schema: Schema) {
        let codes = schema.enums["clarifai.api.status.StatusCode"]
        retriedStatuses = Set(RetryPolicy.retriedStatusNames.compactMap { codes?.number(named: $0) })
        throttledStatus = codes?.number(named: "CONN_THROTTLED") ?? 11005
    }

    func isRetried(_ error: ClarifaiError) -> Bool {
        if let response = error.response { return retriedStatuses.contains(response.statusCode) }
        return error.isTransient
    }

    /// The pause before attempt `attempt` (1 for the first retry): half to all of 10 ms * 2^(n-1).
    static func pause(beforeRetry attempt: Int) -> Double {
        let ceiling = min(longestPauseMilliseconds, firstPauseMilliseconds * Double(1 << min(attempt - 1, 16)))
        return Double.random(in: (ceiling / 2)...ceiling)
    }

    static func sleep(milliseconds: Double) {
        guard milliseconds > 0 else { return }
        var pause = timespec(tv_sec: Int(milliseconds / 1000), tv_nsec: Int(milliseconds.truncatingRemainder(dividingBy: 1000) * 1_000_000))
        var left = timespec()
        while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
    }
}

/// The attempts of one call: its deadline, headers and retry budget, and when to try again.
struct CallAttempts {
    let method: Method
    let policy: RetryPolicy
    let timeoutMilliseconds: Int
    let metadata: [String]
    let maxRetries: Int
    /// monotonicMilliseconds() at which the call's deadline passes; nil: none.
    let deadline: Double?
    private(set) var retries = 0

    init(method: Method, policy: RetryPolicy, timeoutMilliseconds: Int, metadata: [String], maxRetries: Int) {
        self.method = method
        self.policy = policy
        self.timeoutMilliseconds = timeoutMilliseconds
        self.metadata = metadata
        self.maxRetries = maxRetries
        deadline = timeoutMilliseconds > 0 ? monotonicMilliseconds() + Double(timeoutMilliseconds) : nil
    }

    /// What is left of the deadline for the next attempt (0: no deadline).
    var remainingMilliseconds: Int { deadline.map { max(1, Int(($0 - monotonicMilliseconds()).rounded(.up))) } ?? 0 }

    /// How long to wait before trying again after `error`; throws the error the call ends with
    /// instead when it is not retried, the budget is spent or the pause would pass the deadline.
    mutating func pauseBeforeRetry(after error: ClarifaiError, mayRetry: Bool = true) throws -> Double {
        guard retries < maxRetries, policy.isRetried(error), mayRetry else {
            // The attempt's own deadline was what was left of the call's: say whose it was.
            guard error.code == .timeout && retries > 0 else { throw error }
            throw error.appending(" (the call's deadline: \(timeoutMilliseconds) ms, over \(retries + 1) attempts)")
        }
        retries += 1
        let pause = RetryPolicy.pause(beforeRetry: retries)
        if let deadline, monotonicMilliseconds() + pause >= deadline { throw error }
        Log.debug("\(method.name): retry \(retries) of \(maxRetries) in \(Int(pause)) ms after: \(error.message)")
        return pause
    }
}

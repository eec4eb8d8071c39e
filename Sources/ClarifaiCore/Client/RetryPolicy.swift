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

    static let official = RetryPolicy(schema: .official)

    init(schema: Schema) {
        let codes = schema.enums["clarifai.api.status.StatusCode"]
        retriedStatuses = Set(RetryPolicy.retriedStatusNames.compactMap { codes?.number(named: $0) })
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
        var pause = timespec(tv_sec: Int(milliseconds / 1000), tv_nsec: Int(milliseconds.truncatingRemainder(dividingBy: 1000) * 1_000_000))
        var left = timespec()
        while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
    }
}

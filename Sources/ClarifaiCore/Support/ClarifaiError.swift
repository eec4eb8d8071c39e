/// The library's error codes; the raw values are the C API's CLARIFAI_ERROR_* constants.
public enum ErrorCode: Int32, Sendable {
    case invalidArgument = 1
    case transport = 2
    case timeout = 3
    case `protocol` = 4
    case api = 5
    case unsupported = 6
    case cancelled = 7
    case `internal` = 8
    case auth = 9
}

extension ErrorCode {
    /// The error for a gRPC status other than OK, by what the caller must do next (the table in
    /// clarifai.h): fix the request, fix the credentials, wait and try again, or report the
    /// server's failure.
    static func forGRPCStatus(_ status: Int) -> ErrorCode {
        switch status {
        case 3, 5, 6, 9, 11: return .invalidArgument      // INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ...
        case 7, 16: return .auth                            // PERMISSION_DENIED, UNAUTHENTICATED
        case 12: return .unsupported                        // UNIMPLEMENTED: this server does not serve the method
        case 4: return .timeout                             // DEADLINE_EXCEEDED
        case 1, 8, 10, 14: return .transport                // CANCELLED, RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE
        default: return .protocol                           // UNKNOWN, INTERNAL, DATA_LOSS, codes not in the spec
        }
    }

    /// The error for an HTTP answer that carries no Clarifai (or gRPC) status: a proxy's, a
    /// gateway's or a server's error page. A 2xx that is not a reply is not one the caller can fix.
    static func forHTTPStatus(_ status: Int) -> ErrorCode {
        switch status {
        case 401, 403: return .auth
        case 408: return .timeout
        case 501: return .unsupported
        case 429, 500...599: return .transport
        case 300...499: return .invalidArgument
        default: return .protocol
        }
    }
}

/// A failed call: a code, a message naming what was wrong, and for `.api` the response itself.
public struct ClarifaiError: Error, Sendable {
    public let code: ErrorCode
    public private(set) var message: String
    /// Set when the call completed with a Clarifai status other than SUCCESS.
    public let response: Response?
    /// A failure that another attempt may not meet: no connection, a gateway's 502/503/504,
    /// gRPC UNAVAILABLE.
    let isTransient: Bool
    /// The HTTP status of the answer that failed the call; 0 when there was none.
    public var httpStatus = 0
    /// The gRPC status of the answer that failed the call; -1 when there was none (REST, no answer).
    public var grpcStatus = -1
    /// The server's metadata of the answer that failed the call (none without an answer).
    public var metadata: [MetadataField] = []

    /// Whether the library's retry policy tries such a failure again (clarifai_last_error_transient).
    public var isRetried: Bool { RetryPolicy.official.isRetried(self) }

    public init(_ code: ErrorCode, _ message: String, transient: Bool = false) {
        self.code = code
        self.message = message
        self.response = nil
        isTransient = transient
    }

    init(apiFailure response: Response, method: String) {
        code = .api
        var message = "\(method): Clarifai status \(response.statusCode)"
        if !response.statusDescription.isEmpty { message += " (\(response.statusDescription))" }
        if !response.statusDetails.isEmpty { message += ": \(response.statusDetails)" }
        if !response.requestID.isEmpty { message += " [req_id \(response.requestID)]" }
        self.message = message
        self.response = response
        isTransient = false
        httpStatus = response.httpStatus
        grpcStatus = response.grpcStatus
        metadata = response.metadata
    }

    /// The same failure, its message after `prefix` (e.g. the method's name).
    func prefixed(_ prefix: String) -> ClarifaiError {
        var error = self
        error.message = prefix + message
        return error
    }

    /// The same failure, `suffix` after its message.
    func appending(_ suffix: String) -> ClarifaiError {
        var error = self
        error.message += suffix
        return error
    }

    /// The same failure, with the statuses of the answer that caused it.
    func answered(http: Int, grpc: Int = -1) -> ClarifaiError {
        var error = self
        error.httpStatus = http
        error.grpcStatus = grpc
        return error
    }

    /// The same failure, with the server's metadata of the answer that caused it.
    func withMetadata(_ metadata: [MetadataField]) -> ClarifaiError {
        var error = self
        error.metadata = metadata
        return error
    }

    static func invalidArgument(_ message: String) -> ClarifaiError { ClarifaiError(.invalidArgument, message) }
}

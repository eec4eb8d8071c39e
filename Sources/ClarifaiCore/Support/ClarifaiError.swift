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
}

/// A failed call: a code, a message naming what was wrong, and for `.api` the response itself.
public struct ClarifaiError: Error, Sendable {
    public let code: ErrorCode
    public let message: String
    /// Set when the call completed with a Clarifai status other than SUCCESS.
    public let response: Response?
    /// A failure that another attempt may not meet: no connection, a gateway's 502/503/504,
    /// gRPC UNAVAILABLE.
    let isTransient: Bool

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
    }

    static func invalidArgument(_ message: String) -> ClarifaiError { ClarifaiError(.invalidArgument, message) }
}

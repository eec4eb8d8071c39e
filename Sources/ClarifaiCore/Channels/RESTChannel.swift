/// The REST channel: HTTPS + JSON to `<base>/v2/...`, like the official JSON channel.
public final class RESTChannel: Channel {
    public static let defaultBaseURL = "https://api.clarifai.com"

    public let options = ChannelOptions()
    let baseURL: String
    private let schema: Schema
    private let http = HTTPClient(userAgent: LibraryVersion.userAgent)
    /// A call's header lines, by what they are made of.
    private struct HeadersKey: SameBytes {
        let metadata: [String]
        let hasBody: Bool

        func hasSameBytes(as other: HeadersKey) -> Bool {
            hasBody == other.hasBody && metadata.hasSameBytes(as: other.metadata)
        }
    }
    private let lastHeaders = LastMade<HeadersKey, [String]>()
    /// The URL of the last target (most calls repeat the last one's path).
    private let lastURL = LastMade<String, String>()

    /// The user:password of the base URL, kept out of messages (Redaction).
    private let credentials: String?

    /// `baseURL` nil: $CLARIFAI_API_BASE, else the public API.
    public init(baseURL: String?, schema: Schema = .official) throws {
        let url = baseURL ?? environmentValue("CLARIFAI_API_BASE") ?? RESTChannel.defaultBaseURL
        guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.count > "https://".count else {
            throw ClarifaiError.invalidArgument("base URL '\(url)' must start with https:// or http:// and name a host")
        }
        // Request paths are appended to the base URL: after a query or a fragment they would not be paths.
        guard !url.contains("?"), !url.contains("#") else {
            throw ClarifaiError.invalidArgument("base URL '\(url)' has a query or fragment ('?' or '#'): give scheme, host and an optional path prefix only")
        }
        let trimmed = url.hasSuffix("/") ? String(url.dropLast()) : url
        guard !trimmed.hasSuffix("/v2") else {
            throw ClarifaiError.invalidArgument("base URL '\(url)' ends in /v2: give the API's root (e.g. https://api.clarifai.com), the library adds /v2/...")
        }
        self.baseURL = trimmed
        let authority = trimmed.drop { $0 != "/" }.dropFirst(2).prefix { $0 != "/" }
        credentials = authority.lastIndex(of: "@").map { String(authority[..<$0]) }
        credentials.map(Redaction.register)
        self.schema = schema
    }

    deinit { credentials.map(Redaction.unregister) }

    public func serverStream(_ request: CallRequest, onMessage: (Response) throws -> Bool) throws {
        throw ClarifaiError(.unsupported, "\(request.method.name) streams its answer: streaming needs a gRPC channel (clarifai_channel_new_grpc)")
    }

    public func openStream(_ request: CallRequest) throws -> any MessageStream {
        throw ClarifaiError(.unsupported, "\(request.method.name) is a streaming method: streams need a gRPC channel (clarifai_channel_new_grpc)")
    }

    public func unaryExchange(_ request: CallRequest) throws -> UnaryExchange {
        let binding = try request.restBinding
            ?? request.message.withUnsafeBytes { try RESTBinding(method: request.method, message: $0, schema: schema) }
        let options = options.current
        let exchange = HTTPRequest(method: binding.verb, url: lastURL.value(for: binding.target) { baseURL + binding.target },
                                   headers: headerLines(request.metadata, hasBody: binding.body != nil),
                                   body: binding.body,
                                   timeoutMilliseconds: request.timeoutMilliseconds,
                                   idleTimeoutMilliseconds: options.idleTimeoutMilliseconds,
                                   maximumBodyBytes: options.maximumReceiveBytes, caFile: options.caFile)
        // A lazily read answer keeps the call's origin: these strings, not the request and its body.
        let origin = RESTOrigin(methodName: request.method.name, verb: exchange.method, url: exchange.url)
        let started = monotonicMilliseconds()
        // The method alone kept, not the request (its message, metadata and REST form).
        let method = request.method
        return UnaryExchange(http: http, request: exchange) { answer in
            try RESTChannel.response(answer, method, origin: origin, started: started)
        }
    }

    private func headerLines(_ metadata: [String], hasBody: Bool) -> [String] {
        lastHeaders.value(for: HeadersKey(metadata: metadata, hasBody: hasBody)) {
            var lines = metadata + [
                "Accept: application/json",
                // libcurl would otherwise wait for "100 Continue" before sending a large body.
                "Expect:",
            ]
            if hasBody { lines.append("Content-Type: application/json") }
            return lines
        }
    }

    /// The call's answer from the server's: its Clarifai status (checked by the caller), or the
    /// failure a reply without one tells.
    private static func response(_ answer: HTTPResponse, _ method: Method, origin: RESTOrigin, started: Double) throws -> Response {
        do {
            let response = try Response(restBody: answer.body, origin: origin, of: method)
            response.httpStatus = answer.status
            Log.debug("\(origin.text): HTTP \(answer.status), status \(response.statusCode), \(Int(monotonicMilliseconds() - started)) ms")
            return response
        } catch is ClarifaiError where !(200...299).contains(answer.status) {
            // Not a Clarifai reply and not a success: a proxy, a gateway or a server error page.
            Log.debug("\(origin.text): HTTP \(answer.status) without a Clarifai status, \(Int(monotonicMilliseconds() - started)) ms")
            let type = answer.contentType.isEmpty ? "" : " (\(answer.contentType))"
            throw ClarifaiError(.forHTTPStatus(answer.status),
                                "\(origin.text): HTTP \(answer.status)\(type) without a Clarifai status: \(Response.excerpt(answer.body))",
                                transient: answer.isTransientFailure(idempotent: method.isIdempotent)).answered(http: answer.status)
        } catch let error as ClarifaiError {
            throw error.answered(http: answer.status)
        }
    }
}

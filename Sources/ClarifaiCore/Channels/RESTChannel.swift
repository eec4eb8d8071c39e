/// The REST channel: HTTPS + JSON to `<base>/v2/...`, like the official JSON channel.
public final class RESTChannel: Channel {
    public static let defaultBaseURL = "https://api.clarifai.com"

    public let options = ChannelOptions()
    let baseURL: String
    private let schema: Schema
    private let http = HTTPClient(userAgent: LibraryVersion.userAgent)

    /// `baseURL` nil: $CLARIFAI_API_BASE, else the public API.
    public init(baseURL: String?, schema: Schema = .official) throws {
        let url = baseURL ?? environmentValue("CLARIFAI_API_BASE") ?? RESTChannel.defaultBaseURL
        guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.count > "https://".count else {
            throw ClarifaiError.invalidArgument("base URL '\(url)' must start with https:// or http:// and name a host")
        }
        self.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.schema = schema
    }

    public func serverStream(_ request: CallRequest, token: String, onMessage: (Response) throws -> Bool) throws {
        throw ClarifaiError(.unsupported, "\(request.method.name) streams its answer: streaming needs a gRPC channel (clarifai_channel_new_grpc)")
    }

    public func unary(_ request: CallRequest, token: String) throws -> Response {
        let binding = try request.message.withUnsafeBytes { try RESTBinding(method: request.method, message: $0, schema: schema) }
        let options = options.current
        var headers = [
            "Authorization: Key \(token)",
            "Accept: application/json",
            "X-Clarifai-Request-ID-Prefix: \(LibraryVersion.requestIDPrefix)",
            // libcurl would otherwise wait for "100 Continue" before sending a large body.
            "Expect:",
        ]
        if binding.body != nil { headers.append("Content-Type: application/json") }
        let exchange = HTTPRequest(method: binding.verb, url: baseURL + binding.target, headers: headers,
                                   body: binding.body,
                                   timeoutMilliseconds: request.timeoutMilliseconds, caFile: options.caFile)
        let origin = "\(request.method.name): \(exchange.method) \(exchange.url)"
        let started = monotonicMilliseconds()
        let answer: HTTPResponse
        do {
            answer = try http.perform(exchange)
        } catch let error as ClarifaiError {
            Log.debug("\(origin): \(error.message)")
            throw ClarifaiError(error.code, "\(request.method.name): \(error.message)", transient: error.isTransient)
        }
        do {
            let response = try Response(restBody: answer.body, origin: origin, messageType: request.method.outputType)
            Log.debug("\(origin): HTTP \(answer.status), status \(response.statusCode), \(Int(monotonicMilliseconds() - started)) ms")
            return response
        } catch is ClarifaiError where !(200...299).contains(answer.status) {
            // Not a Clarifai reply and not a success: a proxy, a gateway or a server error page.
            Log.debug("\(origin): HTTP \(answer.status) without a Clarifai status, \(Int(monotonicMilliseconds() - started)) ms")
            let type = answer.contentType.isEmpty ? "" : " (\(answer.contentType))"
            throw ClarifaiError(.transport, "\(origin): HTTP \(answer.status)\(type) without a Clarifai status: \(Response.excerpt(answer.body))",
                                transient: answer.isGatewayFailure)
        }
    }
}

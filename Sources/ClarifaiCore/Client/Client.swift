/// Who is calling: a channel, a credential, optionally the user and app that requests apply to,
/// and settings of its own (a deadline, a retry budget, extra headers) that override the
/// channel's. Thread-safe; holds its channel alive. Clients are cheap: one per setting is the way
/// to call with different settings over one channel.
public final class Client: HandleObject, @unchecked Sendable {
    /// How the client proves who it is.
    public enum Credential: Sendable {
        /// A Personal Access Token or an app's API key: `authorization: Key <token>`.
        case key(String)
        /// A session token, as the official SDK sends it: `x-clarifai-session-token: <token>`.
        case sessionToken(String)
        /// An authorization header's value as the caller gives it (`Bearer <token>`, `Key <pat>`).
        case authorization(String)
        /// None: calls go out without a credential, and the server answers them as such.
        case none

        /// What is secret in it, kept out of every message: an authorization value's credentials
        /// (after its scheme).
        var secret: String? {
            switch self {
            case .key(let token), .sessionToken(let token): return token
            case .authorization(let value): return value.firstIndex(of: " ").map { String(value[value.index(after: $0)...]) } ?? value
            case .none: return nil
            }
        }

        var header: String? {
            switch self {
            case .key(let token): return "Authorization: Key \(token)"
            case .sessionToken(let token): return "X-Clarifai-Session-Token: \(token)"
            case .authorization(let value): return "Authorization: \(value)"
            case .none: return nil
            }
        }
    }

    /// What a client may change after it was made; a copy goes to each call.
    struct Settings {
        /// nil: the channel's.
        var timeoutMilliseconds: Int?
        var maxRetries: Int?
        /// Extra headers by lower-case name, in the order set.
        private(set) var headers: [(name: String, value: String)] = []
        /// The header lines of every call: the credential's, the request-id prefix (the library's
        /// unless set), then the extra headers; made when they change, not per call.
        private(set) var metadata: [String] = []
        private let credentialHeader: String?

        init(credentialHeader: String?) {
            self.credentialHeader = credentialHeader
            updateMetadata()
        }

        /// Sets header `name` (lower case) to `value`, or removes it (nil).
        mutating func setHeader(_ name: String, _ value: String?) {
            let index = headers.firstIndex { $0.name == name }
            switch (index, value) {
            case (let index?, let value?): headers[index].value = value
            case (let index?, nil): headers.remove(at: index)
            case (nil, let value?): headers.append((name, value))
            case (nil, nil): return
            }
            updateMetadata()
        }

        private mutating func updateMetadata() {
            metadata = credentialHeader.map { [$0] } ?? []
            if !headers.contains(where: { $0.name == "x-clarifai-request-id-prefix" }) {
                metadata.append(Settings.requestIDPrefixHeader)
            }
            metadata += headers.map { "\($0.name): \($0.value)" }
        }

        private static let requestIDPrefixHeader = "X-Clarifai-Request-ID-Prefix: \(LibraryVersion.requestIDPrefix)"
    }

    let channel: any Channel
    private let credential: Credential
    let userID: String?
    let appID: String?
    let schema: Schema
    let retryPolicy: RetryPolicy
    /// Each method's user_app_id fields (by Method.index), looked up once, not per call.
    private let userAppIDFields: [UserAppIDFields?]
    private let settings: Locked<Settings>

    /// `token` nil: $CLARIFAI_PAT. `userID`/`appID` nil: $CLARIFAI_USER_ID / $CLARIFAI_APP_ID, as the
    /// official SDK reads them; empty ones count as absent.
    public convenience init(channel: any Channel, token: String?, userID: String?, appID: String?, schema: Schema = .official) throws {
        guard let token = token ?? environmentValue("CLARIFAI_PAT"), !token.isEmpty else {
            throw ClarifaiError.invalidArgument("no token: pass a PAT or API key, or set CLARIFAI_PAT")
        }
        try self.init(channel: channel, credential: .key(token), userID: userID ?? environmentValue("CLARIFAI_USER_ID"),
                      appID: appID ?? environmentValue("CLARIFAI_APP_ID"), schema: schema)
    }

    /// A client authenticated by a session token; nil: $CLARIFAI_SESSION_TOKEN.
    public convenience init(channel: any Channel, sessionToken: String?, userID: String?, appID: String?) throws {
        guard let token = sessionToken ?? environmentValue("CLARIFAI_SESSION_TOKEN"), !token.isEmpty else {
            throw ClarifaiError.invalidArgument("no session token: pass one, or set CLARIFAI_SESSION_TOKEN")
        }
        try self.init(channel: channel, credential: .sessionToken(token), userID: userID ?? environmentValue("CLARIFAI_USER_ID"),
                      appID: appID ?? environmentValue("CLARIFAI_APP_ID"), schema: .official)
    }

    /// A client whose calls carry `authorization` as the header's value, exactly as given (a
    /// scheme and its credentials); nil: no credential at all. Nothing comes from the environment
    /// but the ids (as above).
    public convenience init(channel: any Channel, authorization: String?, userID: String?, appID: String?) throws {
        if authorization?.isEmpty == true {
            throw ClarifaiError.invalidArgument("the authorization value is empty: pass NULL for a call without credentials")
        }
        try self.init(channel: channel, credential: authorization.map(Credential.authorization) ?? .none,
                      userID: userID ?? environmentValue("CLARIFAI_USER_ID"), appID: appID ?? environmentValue("CLARIFAI_APP_ID"),
                      schema: .official)
    }

    private init(channel: any Channel, credential: Credential, userID: String?, appID: String?, schema: Schema,
                 settings: Settings? = nil) throws {
        // A CR or LF would let the token add HTTP headers; the token itself is never echoed.
        guard !(credential.header ?? "").unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ClarifaiError.invalidArgument("the token contains control characters (CR, LF, ...)")
        }
        self.channel = channel
        self.credential = credential
        if let secret = credential.secret { Redaction.register(secret) }
        self.userID = userID.flatMap { $0.isEmpty ? nil : $0 }
        self.appID = appID.flatMap { $0.isEmpty ? nil : $0 }
        self.schema = schema
        retryPolicy = RetryPolicy(schema: schema)
        userAppIDFields = UserAppIDFields.table(of: schema)
        self.settings = Locked(settings ?? Settings(credentialHeader: credential.header))
        super.init(tag: HandleTag.client)
    }

    deinit { if let secret = credential.secret { Redaction.unregister(secret) } }

    /// A client with the same channel, credential, ids and settings, whose settings then change
    /// on their own.
    public func duplicate() throws -> Client {
        try Client(channel: channel, credential: credential, userID: userID, appID: appID, schema: schema,
                   settings: settings.withLock { $0 })
    }

    /// The deadline of this client's calls; nil: the channel's again.
    public func setTimeout(milliseconds: Int?) throws {
        let timeout = try milliseconds.map { try ChannelOptions.time($0, "timeout_ms", zeroMeans: "no deadline; -1: the channel's") }
        settings.withLock { $0.timeoutMilliseconds = timeout }
    }

    /// The retry budget of this client's calls; nil: the channel's again.
    public func setMaxRetries(_ retries: Int?) throws {
        if let retries { try ChannelOptions.checkMaxRetries(retries) }
        settings.withLock { $0.maxRetries = retries }
    }

    /// Headers the official clients' metadata never carries from a caller: the credential has its
    /// own functions, the rest belong to the transport (HTTP/2 pseudo-headers, gRPC's own).
    static let reservedHeaders: Set<String> = ["authorization", "x-clarifai-session-token", "content-type", "content-length",
                                               "te", "host", "connection", "transfer-encoding", "expect", "keep-alive",
                                               "upgrade", "accept-encoding"]

    /// Sends `name: value` with every call of this client (nil removes it). Names are HTTP tokens,
    /// compared without case; the credential's headers and the transport's are refused, and so are
    /// values with control characters (which would add headers of their own).
    public func setHeader(name: String, value: String?) throws {
        let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        guard !name.isEmpty, name.utf8.allSatisfy(tokenCharacters.contains) else {
            throw ClarifaiError.invalidArgument("header name '\(name)' is not an HTTP field name (letters, digits, -, _ and the like)")
        }
        let lowercased = name.lowercased()
        guard !Client.reservedHeaders.contains(lowercased), !lowercased.hasPrefix("grpc-") else {
            throw ClarifaiError.invalidArgument(lowercased == "authorization" || lowercased == "x-clarifai-session-token"
                ? "header '\(name)' carries the credential: give it to clarifai_client_new or clarifai_client_new_session"
                : "header '\(name)' belongs to the transport and cannot be set")
        }
        if let value {
            guard !value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) else {
                throw ClarifaiError.invalidArgument("the value of header '\(name)' contains control characters (CR, LF, ...)")
            }
        }
        settings.withLock { $0.setHeader(lowercased, value) }
    }

    /// A call's deadline (the client's, else the channel's) and headers.
    func callSettings() -> (timeoutMilliseconds: Int, metadata: [String]) {
        let (timeout, metadata) = settings.withLock { ($0.timeoutMilliseconds, $0.metadata) }
        return (timeout ?? channel.options.current.timeoutMilliseconds, metadata)
    }

    /// Calls `methodName` with a proto3 JSON request (nil or "" for an empty one), checked
    /// against the schema first. Throws .api with the response when the Clarifai status is not
    /// SUCCESS.
    public func call(method methodName: String, requestJSON: String?) throws -> Response {
        let method = try unaryMethod(named: methodName)
        return try call(method, message: try requestMessage(method, json: requestJSON))
    }

    /// Calls a server-streaming method; `onMessage` gets each message as it arrives, on the calling
    /// thread, and returns false to cancel (the call then throws .cancelled).
    public func stream(method methodName: String, requestJSON: String?, onMessage: (Response) throws -> Bool) throws {
        let method = try self.method(named: methodName)
        guard method.serverStreaming && !method.clientStreaming else {
            throw ClarifaiError(.unsupported, method.clientStreaming
                ? "\(methodName) streams its request: client streaming is not supported"
                : "\(methodName) answers with one message: call it with clarifai_call")
        }
        var message = try requestMessage(method, json: requestJSON)
        try prefixingErrors(with: "\(method.name): ") { try fillUserAppID(of: &message, for: method) }
        var received = 0
        do {
            // Once a message arrived the stream is never retried: the caller has seen it.
            try withRetries(method) { timeout, metadata in
                try channel.serverStream(CallRequest(method: method, message: message, timeoutMilliseconds: timeout,
                                                     metadata: metadata)) { response in
                    received += 1
                    return try onMessage(response)
                }
                return ()
            } mayRetry: { received == 0 }
        } catch let error as ClarifaiError where error.code == .cancelled {
            throw ClarifaiError(.cancelled, "\(methodName): cancelled by the caller after \(received) message(s)")
        }
    }

    /// The request message from proto3 JSON (nil or "" for an empty one), checked against the schema.
    func requestMessage(_ method: Method, json: String?) throws -> [UInt8] {
        var text = json ?? ""
        guard !text.isEmpty else { return [] }
        return try text.withUTF8 { json in
            try prefixingErrors(with: "\(method.name): request_json: ") {
                try Codec.jsonToProto(typeName: method.inputType, json: UnsafeRawBufferPointer(json), schema: schema)
            }
        }
    }

    /// Calls `methodName` with a serialized request message, checked on the wire as the official
    /// runtime parses it (not by a JSON round trip, which would refuse what protobuf allows: a
    /// Struct holding NaN, a timestamp past year 9999).
    public func call(method methodName: String, requestProto: UnsafeRawBufferPointer) throws -> Response {
        let method = try unaryMethod(named: methodName)
        try checkRequest(requestProto, of: method)
        return try call(method, message: Array(requestProto))
    }

    /// Checks a serialized request message as the official runtime parses one.
    func checkRequest(_ message: UnsafeRawBufferPointer, of method: Method) throws {
        guard let type = schema.message(method.inputType) else { throw ClarifaiError(.internal, "unknown type \(method.inputType)") }
        do {
            try WireFields.validate(message, type: type, schema: schema)
        } catch {
            throw ClarifaiError.invalidArgument("\(method.name): request: not a valid \(method.inputType) message: \(error.message)")
        }
    }

    /// (`message` taken: the ids are appended in place, into the room its maker left.)
    /// `restBinding`: the request's REST form, ids included, when the caller wrote it instead of
    /// the message (see CallRequest).
    func call(_ method: Method, message: consuming [UInt8], restBinding: RESTBinding? = nil) throws -> Response {
        var request = consume message
        if restBinding == nil { try prefixingErrors(with: "\(method.name): ") { try fillUserAppID(of: &request, for: method) } }
        return try withRetries(method) { timeout, metadata in
            let response = try channel.unary(CallRequest(method: method, message: request, timeoutMilliseconds: timeout,
                                                         metadata: metadata, restBinding: restBinding))
            guard response.isSuccess else { throw ClarifaiError(apiFailure: response, method: method.name) }
            return response
        }
    }

    /// Runs `attempt` with the time left of the deadline (the client's, else the channel's) and the
    /// call's headers, again after a transient failure or a retried Clarifai status, up to the
    /// retry budget and never past the deadline; the last failure is the call's.
    private func withRetries<R>(_ method: Method, _ attempt: (_ timeoutMilliseconds: Int, _ metadata: [String]) throws -> R,
                                mayRetry: () -> Bool = { true }) throws -> R {
        var attempts = self.attempts(of: method)
        while true {
            do {
                return try attempt(attempts.remainingMilliseconds, attempts.metadata)
            } catch let error as ClarifaiError {
                let pause = try attempts.pauseBeforeRetry(after: error, mayRetry: mayRetry())
                RetryPolicy.sleep(milliseconds: pause)
            }
        }
    }

    /// The attempts of a call starting now, with this client's settings (`maxRetries`: another budget).
    func attempts(of method: Method, maxRetries: Int? = nil) -> CallAttempts {
        let (timeout, metadata) = callSettings()
        return CallAttempts(method: method, policy: retryPolicy, timeoutMilliseconds: timeout, metadata: metadata,
                            maxRetries: maxRetries ?? self.maxRetries)
    }

    /// The retry budget of this client's calls (its own, else the channel's).
    var maxRetries: Int { settings.withLock { $0.maxRetries } ?? channel.options.current.maxRetries }

    func method(named name: String) throws -> Method {
        guard let method = schema.method(named: name) else {
            let suggestion = schema.methods.first { $0.name.lowercased() == name.lowercased() }
            throw ClarifaiError.invalidArgument("unknown method '\(name)': not a method of clarifai.api.V2"
                + (suggestion.map { " (did you mean \($0.name)?)" } ?? ""))
        }
        return method
    }

    func unaryMethod(named name: String) throws -> Method {
        let method = try method(named: name)
        guard !method.serverStreaming && !method.clientStreaming else {
            throw ClarifaiError(.unsupported, "\(name) is a streaming method: call it with clarifai_call_stream on a gRPC channel")
        }
        return method
    }

    /// Fills `user_app_id` with the client's user and app ids where the request message has that
    /// field and leaves them empty: appending a partial `user_app_id` merges into the one given,
    /// as protobuf merges repeated occurrences of a message field.
    func fillUserAppID(of message: inout [UInt8], for method: Method) throws {
        guard userID != nil || appID != nil, let fields = userAppIDFields[method.index] else { return }
        // Whether the message gives each id (non-empty, the last occurrence winning).
        var userGiven = false, appGiven = false
        do {
            try message.withUnsafeBytes { bytes in
                var reader = WireReader(bytes)
                while let (number, wireType) = try reader.readTag() {
                    guard number == fields.container, wireType == .lengthDelimited else {
                        try reader.skip(wireType)
                        continue
                    }
                    var ids = WireReader(try reader.readLengthDelimited())
                    while let (idNumber, idWireType) = try ids.readTag() {
                        guard idWireType == .lengthDelimited else {
                            try ids.skip(idWireType)
                            continue
                        }
                        let given = try !ids.readLengthDelimited().isEmpty
                        if idNumber == UInt64(fields.user) { userGiven = given }
                        if idNumber == UInt64(fields.app) { appGiven = given }
                    }
                }
            }
        } catch let error as WireReader.WireError {
            throw ClarifaiError.invalidArgument("the request is not a valid \(method.inputType) message: \(error.description)")
        }
        let user = userGiven ? nil : userID, app = appGiven ? nil : appID
        guard user != nil || app != nil else { return }
        var writer = WireWriter(capacity: 16 + (user?.utf8.count ?? 0) + (app?.utf8.count ?? 0))
        let mark = writer.beginLengthDelimited(fields.container)
        if let user { writer.string(fields.user, user) }
        if let app { writer.string(fields.app, app) }
        writer.endLengthDelimited(mark)
        // Appended in place: a call's request is seldom shared, and its maker left room.
        writer.withUnsafeBytes { message.append(contentsOf: $0) }
    }
}

/// Runs `body`, putting `prefix` before the message of a ClarifaiError it throws.
func prefixingErrors<R>(with prefix: @autoclosure () -> String, _ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as ClarifaiError where error.response == nil {
        throw error.prefixed(prefix())
    }
}

/// The field numbers of a request's user_app_id and of the ids in it.
struct UserAppIDFields: Sendable {
    let container: Int, user: Int, app: Int

    /// nil when the request type has no user_app_id with user_id and app_id.
    init?(_ requestType: String, messageNamed message: (String) -> MessageType?) {
        guard let field = message(requestType)?.field(named: "user_app_id"), let ids = message(field.typeName),
              let user = ids.field(named: "user_id"), let app = ids.field(named: "app_id") else { return nil }
        (container, self.user, self.app) = (field.number, user.number, app.number)
    }

    private static let official = table(for: .official)

    /// Every method's, by Method.index (the built-in schema's worked out once).
    static func table(of schema: Schema) -> [UserAppIDFields?] { schema === Schema.official ? official : table(for: schema) }

    private static func table(for schema: Schema) -> [UserAppIDFields?] {
        schema.methods.map { UserAppIDFields($0.inputType, messageNamed: schema.message) }
    }
}

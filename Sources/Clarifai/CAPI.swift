// The C ABI of libclarifai (Include/clarifai.h): argument checks and conversions only; the
// work is done in ClarifaiCore. Handles are retained Swift objects passed as opaque pointers.
import CClarifaiHeader
import ClarifaiCore
import Glibc

// MARK: - Handles and arguments

/// The object behind a clarifai_channel*.
final class ChannelHandle: HandleObject, @unchecked Sendable {
    let channel: any Channel
    init(_ channel: any Channel) {
        self.channel = channel
        super.init(tag: HandleTag.channel)
    }
}

/// A kind of handle: its tag and its C type's name.
private protocol CHandle: HandleObject {
    static var tag: UInt64 { get }
    static var typeName: String { get }
}

extension ChannelHandle: CHandle {
    static let tag = HandleTag.channel
    static let typeName = "clarifai_channel"
}

extension Client: CHandle {
    static let tag = HandleTag.client
    static let typeName = "clarifai_client"
}

extension Response: CHandle {
    static let tag = HandleTag.response
    static let typeName = "clarifai_response"
}

extension Stream: CHandle {
    static let tag = HandleTag.stream
    static let typeName = "clarifai_stream"
}

extension Pager: CHandle {
    static let tag = HandleTag.pager
    static let typeName = "clarifai_pager"
}

extension CompletionQueue: CHandle {
    static let tag = HandleTag.queue
    static let typeName = "clarifai_queue"
}

private func retainedHandle(_ object: HandleObject) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

/// The object behind a handle of kind T; nil for NULL and for a handle of another kind or one
/// already freed (its tag tells).
private func object<T: CHandle>(_ handle: OpaquePointer?) -> T? {
    guard let handle, HandleObject.tag(of: UnsafeRawPointer(handle)) == T.tag else { return nil }
    return Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// Drops the caller's reference; a handle of another kind is left alone.
private func releaseHandle<T: CHandle>(_ handle: OpaquePointer?, as type: T.Type) {
    guard let object: T = object(handle) else { return }
    Unmanaged.passUnretained(object).release()
}

/// For getters that cannot fail: the object behind a handle; nil for NULL, and for a handle of
/// another kind or one already freed, which is recorded as the last error.
private func inspected<T: CHandle>(_ handle: OpaquePointer?, _ name: String) -> T? {
    guard handle != nil else { return nil }
    guard let found: T = object(handle) else {
        LastError.set(code: ErrorCode.invalidArgument.rawValue,
                      message: "\(name) is not a \(T.typeName) (a handle of another kind, or one already freed)")
        return nil
    }
    return found
}

private func required<T: CHandle>(_ handle: OpaquePointer?, _ name: String, in function: String) throws -> T {
    guard let handle else { throw ClarifaiError(.invalidArgument, "\(function): \(name) is NULL") }
    guard let object: T = object(handle) else {
        throw ClarifaiError(.invalidArgument, "\(function): \(name) is not a \(T.typeName) (a handle of another kind, or one already freed)")
    }
    return object
}

/// A borrowed C string as a String; nil for NULL. Invalid UTF-8 is an error naming the argument.
private func optionalString(_ text: UnsafePointer<CChar>?, _ name: String, in function: String) throws -> String? {
    guard let text else { return nil }
    guard let string = String(validatingCString: text) else {
        throw ClarifaiError(.invalidArgument, "\(function): \(name) is not valid UTF-8")
    }
    return string
}

private func requiredString(_ text: UnsafePointer<CChar>?, _ name: String, in function: String) throws -> String {
    guard let string = try optionalString(text, name, in: function) else {
        throw ClarifaiError(.invalidArgument, "\(function): \(name) is NULL")
    }
    return string
}

/// Runs a call that produces a response: *out gets it on success and on a Clarifai API error,
/// NULL otherwise.
private func responding(_ out: UnsafeMutablePointer<OpaquePointer?>?, in function: String,
                        _ body: () throws -> Response) -> Int32 {
    out?.pointee = nil
    return entryPoint {
        guard let out else { throw ClarifaiError(.invalidArgument, "\(function): out is NULL") }
        do {
            out.pointee = retainedHandle(try body())
        } catch let error as ClarifaiError {
            if let response = error.response { out.pointee = retainedHandle(response) }
            throw error
        }
    }
}

/// NUL-terminated copies that live as long as the process, for functions returning static storage.
private func permanentCStrings(_ strings: [String]) -> [UnsafePointer<CChar>] {
    strings.map { UnsafePointer(strdup($0)!) }
}

// MARK: - Errors and versions

nonisolated(unsafe) private let errorNames = permanentCStrings([
    "CLARIFAI_OK", "CLARIFAI_ERROR_INVALID_ARGUMENT", "CLARIFAI_ERROR_TRANSPORT", "CLARIFAI_ERROR_TIMEOUT",
    "CLARIFAI_ERROR_PROTOCOL", "CLARIFAI_ERROR_API", "CLARIFAI_ERROR_UNSUPPORTED", "CLARIFAI_ERROR_CANCELLED",
    "CLARIFAI_ERROR_INTERNAL", "CLARIFAI_ERROR_AUTH", "CLARIFAI_ERROR_UNKNOWN",
])

@_cdecl("clarifai_error_name")
public func clarifai_error_name(_ code: Int32) -> UnsafePointer<CChar> {
    errorNames[(0..<errorNames.count - 1).contains(Int(code)) ? Int(code) : errorNames.count - 1]
}

@_cdecl("clarifai_last_error")
public func clarifai_last_error() -> UnsafePointer<CChar> { LastError.message }

@_cdecl("clarifai_last_error_code")
public func clarifai_last_error_code() -> Int32 { LastError.code }

@_cdecl("clarifai_last_error_http_status")
public func clarifai_last_error_http_status() -> Int32 { LastError.httpStatus }

@_cdecl("clarifai_last_error_grpc_status")
public func clarifai_last_error_grpc_status() -> Int32 { LastError.grpcStatus }

@_cdecl("clarifai_last_error_transient")
public func clarifai_last_error_transient() -> Int32 { LastError.isTransient ? 1 : 0 }

@_cdecl("clarifai_last_error_metadata_count")
public func clarifai_last_error_metadata_count() -> Int { LastError.metadataCount }

@_cdecl("clarifai_last_error_metadata")
public func clarifai_last_error_metadata(_ index: Int, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                         _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                         _ trailing: UnsafeMutablePointer<Int32>?) -> Int32 {
    // Not an entry point: reading the last error leaves it as it is.
    handOut(LastError.metadataField(index), name, value, trailing)
}

/// Hands a metadata field out through the C pointers given (NULL ones are skipped); all NULL and
/// INVALID_ARGUMENT for none.
private func handOut(_ field: (name: UnsafePointer<CChar>, value: UnsafePointer<CChar>, trailing: Bool)?,
                     _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                     _ trailing: UnsafeMutablePointer<Int32>?) -> Int32 {
    name?.pointee = field?.name
    value?.pointee = field?.value
    trailing?.pointee = field.map { $0.trailing ? 1 : 0 } ?? 0
    return field == nil ? ErrorCode.invalidArgument.rawValue : 0
}

nonisolated(unsafe) private let versionText = permanentCStrings([LibraryVersion.string])[0]

@_cdecl("clarifai_version")
public func clarifai_version() -> UnsafePointer<CChar> { versionText }

@_cdecl("clarifai_version_number")
public func clarifai_version_number() -> UInt32 { LibraryVersion.number }

@_cdecl("clarifai_api_version")
public func clarifai_api_version() -> UnsafePointer<CChar> { Schema.apiVersion }

// MARK: - Channels

@_cdecl("clarifai_channel_new_json")
public func clarifai_channel_new_json(_ baseURL: UnsafePointer<CChar>?) -> OpaquePointer? {
    constructor {
        let url = try optionalString(baseURL, "base_url", in: "clarifai_channel_new_json")
        return retainedHandle(ChannelHandle(try RESTChannel(baseURL: url)))
    }
}

@_cdecl("clarifai_channel_new_grpc")
public func clarifai_channel_new_grpc(_ target: UnsafePointer<CChar>?) -> OpaquePointer? {
    constructor {
        let text = try optionalString(target, "target", in: "clarifai_channel_new_grpc")
        return retainedHandle(ChannelHandle(try GRPCChannel(target: text, usesTLS: true)))
    }
}

@_cdecl("clarifai_channel_new_grpc_insecure")
public func clarifai_channel_new_grpc_insecure(_ target: UnsafePointer<CChar>?) -> OpaquePointer? {
    constructor {
        let text = try optionalString(target, "target", in: "clarifai_channel_new_grpc_insecure")
        return retainedHandle(ChannelHandle(try GRPCChannel(target: text, usesTLS: false)))
    }
}

/// A channel setting: `change` applied to the options of the channel behind `channel`.
private func channelSetting(_ function: String, _ channel: OpaquePointer?, _ change: (ChannelOptions) throws -> Void) -> Int32 {
    entryPoint {
        let handle: ChannelHandle = try required(channel, "channel", in: function)
        try change(handle.channel.options)
    }
}

@_cdecl("clarifai_channel_set_timeout_ms")
public func clarifai_channel_set_timeout_ms(_ channel: OpaquePointer?, _ timeoutMilliseconds: Int) -> Int32 {
    channelSetting("clarifai_channel_set_timeout_ms", channel) { try $0.setTimeout(milliseconds: timeoutMilliseconds) }
}

@_cdecl("clarifai_channel_set_max_retries")
public func clarifai_channel_set_max_retries(_ channel: OpaquePointer?, _ retries: Int32) -> Int32 {
    channelSetting("clarifai_channel_set_max_retries", channel) { try $0.setMaxRetries(Int(retries)) }
}

@_cdecl("clarifai_channel_set_connections")
public func clarifai_channel_set_connections(_ channel: OpaquePointer?, _ count: Int32) -> Int32 {
    channelSetting("clarifai_channel_set_connections", channel) { try $0.setConnections(Int(count)) }
}

@_cdecl("clarifai_channel_set_idle_timeout_ms")
public func clarifai_channel_set_idle_timeout_ms(_ channel: OpaquePointer?, _ idleMilliseconds: Int) -> Int32 {
    channelSetting("clarifai_channel_set_idle_timeout_ms", channel) { try $0.setIdleTimeout(milliseconds: idleMilliseconds) }
}

@_cdecl("clarifai_channel_set_keepalive_ms")
public func clarifai_channel_set_keepalive_ms(_ channel: OpaquePointer?, _ intervalMilliseconds: Int) -> Int32 {
    channelSetting("clarifai_channel_set_keepalive_ms", channel) { try $0.setKeepalive(milliseconds: intervalMilliseconds) }
}

@_cdecl("clarifai_channel_set_max_receive_bytes")
public func clarifai_channel_set_max_receive_bytes(_ channel: OpaquePointer?, _ maximumBytes: Int) -> Int32 {
    let function = "clarifai_channel_set_max_receive_bytes"
    return channelSetting(function, channel) { options in
        guard maximumBytes != 0 else { throw ClarifaiError(.invalidArgument, "\(function): max_bytes is 0") }
        // Past Int.max (negative here) there is no limit to speak of.
        options.setMaximumReceiveBytes(maximumBytes > 0 ? maximumBytes : Int.max)
    }
}

@_cdecl("clarifai_channel_set_ca_file")
public func clarifai_channel_set_ca_file(_ channel: OpaquePointer?, _ pemPath: UnsafePointer<CChar>?) -> Int32 {
    let function = "clarifai_channel_set_ca_file"
    return channelSetting(function, channel) { try $0.setCAFile(try requiredString(pemPath, "pem_path", in: function)) }
}

@_cdecl("clarifai_channel_free")
public func clarifai_channel_free(_ channel: OpaquePointer?) { releaseHandle(channel, as: ChannelHandle.self) }

// MARK: - Clients and calls

@_cdecl("clarifai_client_new")
public func clarifai_client_new(_ channel: OpaquePointer?, _ pat: UnsafePointer<CChar>?,
                                _ userID: UnsafePointer<CChar>?, _ appID: UnsafePointer<CChar>?) -> OpaquePointer? {
    constructor {
        let function = "clarifai_client_new"
        let handle: ChannelHandle = try required(channel, "channel", in: function)
        return retainedHandle(try Client(channel: handle.channel, token: try optionalString(pat, "pat", in: function),
                                         userID: try optionalString(userID, "user_id", in: function),
                                         appID: try optionalString(appID, "app_id", in: function)))
    }
}

@_cdecl("clarifai_client_new_session")
public func clarifai_client_new_session(_ channel: OpaquePointer?, _ sessionToken: UnsafePointer<CChar>?,
                                        _ userID: UnsafePointer<CChar>?, _ appID: UnsafePointer<CChar>?) -> OpaquePointer? {
    constructor {
        let function = "clarifai_client_new_session"
        let handle: ChannelHandle = try required(channel, "channel", in: function)
        return retainedHandle(try Client(channel: handle.channel,
                                         sessionToken: try optionalString(sessionToken, "session_token", in: function),
                                         userID: try optionalString(userID, "user_id", in: function),
                                         appID: try optionalString(appID, "app_id", in: function)))
    }
}

@_cdecl("clarifai_client_new_authorization")
public func clarifai_client_new_authorization(_ channel: OpaquePointer?, _ authorization: UnsafePointer<CChar>?,
                                              _ userID: UnsafePointer<CChar>?, _ appID: UnsafePointer<CChar>?) -> OpaquePointer? {
    constructor {
        let function = "clarifai_client_new_authorization"
        let handle: ChannelHandle = try required(channel, "channel", in: function)
        return retainedHandle(try Client(channel: handle.channel,
                                         authorization: try optionalString(authorization, "authorization", in: function),
                                         userID: try optionalString(userID, "user_id", in: function),
                                         appID: try optionalString(appID, "app_id", in: function)))
    }
}

@_cdecl("clarifai_client_dup")
public func clarifai_client_dup(_ client: OpaquePointer?) -> OpaquePointer? {
    constructor {
        let original: Client = try required(client, "client", in: "clarifai_client_dup")
        return retainedHandle(try original.duplicate())
    }
}

@_cdecl("clarifai_client_set_timeout_ms")
public func clarifai_client_set_timeout_ms(_ client: OpaquePointer?, _ timeoutMilliseconds: Int) -> Int32 {
    entryPoint {
        let caller: Client = try required(client, "client", in: "clarifai_client_set_timeout_ms")
        try caller.setTimeout(milliseconds: timeoutMilliseconds == -1 ? nil : timeoutMilliseconds)
    }
}

@_cdecl("clarifai_client_set_max_retries")
public func clarifai_client_set_max_retries(_ client: OpaquePointer?, _ retries: Int32) -> Int32 {
    entryPoint {
        let caller: Client = try required(client, "client", in: "clarifai_client_set_max_retries")
        try caller.setMaxRetries(retries == -1 ? nil : Int(retries))
    }
}

@_cdecl("clarifai_client_set_header")
public func clarifai_client_set_header(_ client: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                       _ value: UnsafePointer<CChar>?) -> Int32 {
    let function = "clarifai_client_set_header"
    return entryPoint {
        let caller: Client = try required(client, "client", in: function)
        try caller.setHeader(name: try requiredString(name, "name", in: function),
                             value: try optionalString(value, "value", in: function))
    }
}

@_cdecl("clarifai_client_free")
public func clarifai_client_free(_ client: OpaquePointer?) { releaseHandle(client, as: Client.self) }

@_cdecl("clarifai_call")
public func clarifai_call(_ client: OpaquePointer?, _ method: UnsafePointer<CChar>?, _ requestJSON: UnsafePointer<CChar>?,
                          _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_call"
    return responding(out, in: function) {
        let caller: Client = try required(client, "client", in: function)
        return try caller.call(method: try requiredString(method, "method", in: function),
                               requestJSON: try optionalString(requestJSON, "request_json", in: function))
    }
}

@_cdecl("clarifai_call_proto")
public func clarifai_call_proto(_ client: OpaquePointer?, _ method: UnsafePointer<CChar>?, _ request: UnsafeRawPointer?,
                                _ length: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_call_proto"
    return responding(out, in: function) {
        let caller: Client = try required(client, "client", in: function)
        return try caller.call(method: try requiredString(method, "method", in: function),
                               requestProto: try borrowedBytes(request, length, "request", in: function))
    }
}

@_cdecl("clarifai_call_stream")
public func clarifai_call_stream(_ client: OpaquePointer?, _ method: UnsafePointer<CChar>?, _ requestJSON: UnsafePointer<CChar>?,
                                 _ onMessage: clarifai_stream_fn?, _ userdata: UnsafeMutableRawPointer?) -> Int32 {
    let function = "clarifai_call_stream"
    return entryPoint {
        let caller: Client = try required(client, "client", in: function)
        guard let onMessage else { throw ClarifaiError(.invalidArgument, "\(function): on_message is NULL") }
        try caller.stream(method: try requiredString(method, "method", in: function),
                          requestJSON: try optionalString(requestJSON, "request_json", in: function)) { message in
            // The handle is borrowed: the message lives until the callback returns.
            onMessage(OpaquePointer(Unmanaged.passUnretained(message).toOpaque()), userdata) == 0
        }
    }
}

// MARK: - Streams

@_cdecl("clarifai_stream_open")
public func clarifai_stream_open(_ client: OpaquePointer?, _ method: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_stream_open"
    out?.pointee = nil
    return entryPoint {
        guard let out else { throw ClarifaiError(.invalidArgument, "\(function): out is NULL") }
        let caller: Client = try required(client, "client", in: function)
        out.pointee = retainedHandle(try caller.openStream(method: try requiredString(method, "method", in: function)))
    }
}

@_cdecl("clarifai_stream_send")
public func clarifai_stream_send(_ stream: OpaquePointer?, _ requestJSON: UnsafePointer<CChar>?) -> Int32 {
    let function = "clarifai_stream_send"
    return entryPoint {
        let open: Stream = try required(stream, "stream", in: function)
        try open.send(json: try optionalString(requestJSON, "request_json", in: function))
    }
}

@_cdecl("clarifai_stream_send_proto")
public func clarifai_stream_send_proto(_ stream: OpaquePointer?, _ message: UnsafeRawPointer?, _ length: Int) -> Int32 {
    let function = "clarifai_stream_send_proto"
    return entryPoint {
        let open: Stream = try required(stream, "stream", in: function)
        try open.send(proto: try borrowedBytes(message, length, "message", in: function))
    }
}

@_cdecl("clarifai_stream_close_send")
public func clarifai_stream_close_send(_ stream: OpaquePointer?) -> Int32 {
    entryPoint {
        let open: Stream = try required(stream, "stream", in: "clarifai_stream_close_send")
        try open.closeSend()
    }
}

@_cdecl("clarifai_stream_recv")
public func clarifai_stream_recv(_ stream: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_stream_recv"
    out?.pointee = nil
    return entryPoint {
        guard let out else { throw ClarifaiError(.invalidArgument, "\(function): out is NULL") }
        let open: Stream = try required(stream, "stream", in: function)
        out.pointee = try open.receive().map(retainedHandle)
    }
}

@_cdecl("clarifai_stream_cancel")
public func clarifai_stream_cancel(_ stream: OpaquePointer?) {
    let open: Stream? = object(stream)
    open?.cancel()
}

@_cdecl("clarifai_stream_free")
public func clarifai_stream_free(_ stream: OpaquePointer?) { releaseHandle(stream, as: Stream.self) }

// MARK: - Pagination

@_cdecl("clarifai_pager_new")
public func clarifai_pager_new(_ client: OpaquePointer?, _ method: UnsafePointer<CChar>?, _ requestJSON: UnsafePointer<CChar>?,
                               _ perPage: UInt32) -> OpaquePointer? {
    let function = "clarifai_pager_new"
    return constructor {
        let caller: Client = try required(client, "client", in: function)
        return retainedHandle(try Pager(client: caller, method: try requiredString(method, "method", in: function),
                                        requestJSON: try optionalString(requestJSON, "request_json", in: function),
                                        perPage: Int(perPage)))
    }
}

@_cdecl("clarifai_pager_next")
public func clarifai_pager_next(_ pager: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_pager_next"
    out?.pointee = nil
    return entryPoint {
        guard let out else { throw ClarifaiError(.invalidArgument, "\(function): page is NULL") }
        let pages: Pager = try required(pager, "pager", in: function)
        do {
            out.pointee = try pages.next().map(retainedHandle)
        } catch let error as ClarifaiError {
            if let response = error.response { out.pointee = retainedHandle(response) }
            throw error
        }
    }
}

@_cdecl("clarifai_pager_free")
public func clarifai_pager_free(_ pager: OpaquePointer?) { releaseHandle(pager, as: Pager.self) }

// MARK: - Asynchronous calls

@_cdecl("clarifai_queue_new")
public func clarifai_queue_new() -> OpaquePointer? {
    constructor { retainedHandle(try CompletionQueue()) }
}

@_cdecl("clarifai_queue_fd")
public func clarifai_queue_fd(_ queue: OpaquePointer?) -> Int32 {
    let completions: CompletionQueue? = inspected(queue, "queue")
    return completions?.descriptor ?? -1
}

@_cdecl("clarifai_call_async")
public func clarifai_call_async(_ client: OpaquePointer?, _ method: UnsafePointer<CChar>?, _ requestJSON: UnsafePointer<CChar>?,
                                _ queue: OpaquePointer?, _ tag: UnsafeMutableRawPointer?) -> Int32 {
    let function = "clarifai_call_async"
    return entryPoint {
        let caller: Client = try required(client, "client", in: function)
        let completions: CompletionQueue = try required(queue, "queue", in: function)
        try caller.callAsync(method: try requiredString(method, "method", in: function),
                             requestJSON: try optionalString(requestJSON, "request_json", in: function), queue: completions, tag: tag)
    }
}

@_cdecl("clarifai_call_proto_async")
public func clarifai_call_proto_async(_ client: OpaquePointer?, _ method: UnsafePointer<CChar>?, _ request: UnsafeRawPointer?,
                                      _ length: Int, _ queue: OpaquePointer?, _ tag: UnsafeMutableRawPointer?) -> Int32 {
    let function = "clarifai_call_proto_async"
    return entryPoint {
        let caller: Client = try required(client, "client", in: function)
        let completions: CompletionQueue = try required(queue, "queue", in: function)
        try caller.callAsync(method: try requiredString(method, "method", in: function),
                             requestProto: try borrowedBytes(request, length, "request", in: function), queue: completions, tag: tag)
    }
}

@_cdecl("clarifai_predict_async")
public func clarifai_predict_async(_ client: OpaquePointer?, _ modelID: UnsafePointer<CChar>?, _ versionID: UnsafePointer<CChar>?,
                                   _ inputs: UnsafePointer<clarifai_input>?, _ count: Int, _ queue: OpaquePointer?,
                                   _ tag: UnsafeMutableRawPointer?) -> Int32 {
    let function = "clarifai_predict_async"
    return entryPoint {
        let caller: Client = try required(client, "client", in: function)
        let completions: CompletionQueue = try required(queue, "queue", in: function)
        try caller.predictAsync(modelID: try requiredString(modelID, "model_id", in: function),
                                versionID: try optionalString(versionID, "version_id", in: function),
                                inputs: try predictionInputs(inputs, count, in: function), queue: completions, tag: tag)
    }
}

@_cdecl("clarifai_queue_next")
public func clarifai_queue_next(_ queue: OpaquePointer?, _ timeoutMilliseconds: Int, _ tag: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                _ code: UnsafeMutablePointer<Int32>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_queue_next"
    out?.pointee = nil
    var failure: ClarifaiError?
    let result = entryPoint {
        let completions: CompletionQueue = try required(queue, "queue", in: function)
        guard let tag, let code, let out else {
            throw ClarifaiError(.invalidArgument, "\(function): \(tag == nil ? "tag" : code == nil ? "code" : "out") is NULL")
        }
        guard let completion = try completions.next(timeoutMilliseconds: timeoutMilliseconds) else {
            throw ClarifaiError(.timeout, timeoutMilliseconds < 0 ? "\(function): nothing is running on the queue"
                                : "\(function): nothing completed within \(timeoutMilliseconds) ms")
        }
        tag.pointee = completion.tag
        switch completion.outcome {
        case .success(let response):
            code.pointee = 0
            out.pointee = retainedHandle(response)
        case .failure(let error):
            code.pointee = error.code.rawValue
            out.pointee = error.response.map(retainedHandle)
            failure = error
        }
    }
    // The call's failure is the thread's last error, as after the blocking call.
    if let failure { LastError.set(failure) }
    return result
}

@_cdecl("clarifai_queue_cancel")
public func clarifai_queue_cancel(_ queue: OpaquePointer?, _ tag: UnsafeMutableRawPointer?) -> Int {
    let completions: CompletionQueue? = inspected(queue, "queue")
    return completions?.cancel(tag: tag) ?? 0
}

@_cdecl("clarifai_queue_free")
public func clarifai_queue_free(_ queue: OpaquePointer?) {
    guard let completions: CompletionQueue = object(queue) else { return }
    // A forked child's copy of a parent's queue is left as it is (see CompletionQueue.owner).
    guard !completions.isInherited else { return }
    completions.shutDown()
    releaseHandle(queue, as: CompletionQueue.self)
}

nonisolated(unsafe) private let methodNames = permanentCStrings(Schema.official.methods.map(\.name))

@_cdecl("clarifai_method_count")
public func clarifai_method_count() -> Int { methodNames.count }

@_cdecl("clarifai_method_name")
public func clarifai_method_name(_ index: Int) -> UnsafePointer<CChar>? {
    index >= 0 && index < methodNames.count ? methodNames[index] : nil
}

// MARK: - Predictions

@_cdecl("clarifai_predict")
public func clarifai_predict(_ client: OpaquePointer?, _ modelID: UnsafePointer<CChar>?, _ versionID: UnsafePointer<CChar>?,
                             _ inputs: UnsafePointer<clarifai_input>?, _ count: Int,
                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_predict"
    return responding(out, in: function) {
        let caller: Client = try required(client, "client", in: function)
        return try caller.predict(modelID: try requiredString(modelID, "model_id", in: function),
                                  versionID: try optionalString(versionID, "version_id", in: function),
                                  inputs: try predictionInputs(inputs, count, in: function))
    }
}

/// A C array of inputs, whose bytes stay borrowed.
private func predictionInputs(_ inputs: UnsafePointer<clarifai_input>?, _ count: Int, in function: String) throws -> [PredictionInput] {
    guard let inputs else { throw ClarifaiError(.invalidArgument, "\(function): inputs is NULL") }
    // No array of clarifai_input can hold more (SIZE_MAX is -1 here).
    guard (0...(Int.max / MemoryLayout<clarifai_input>.stride)).contains(count) else {
        throw ClarifaiError(.invalidArgument, "\(function): count \(UInt(bitPattern: count)) is larger than any array of inputs")
    }
    return try (0..<count).map { try predictionInput(inputs[$0], position: $0, in: function) }
}

/// One C input, whose bytes stay borrowed.
private func predictionInput(_ input: clarifai_input, position: Int, in function: String) throws -> PredictionInput {
    let name = "inputs[\(position)]"
    let data = try borrowedBytes(input.data, input.data_len, "\(name).data", in: function)
    return try PredictionInput(kindNumber: input.kind, url: try optionalString(input.url, "\(name).url", in: function),
                               data: data.isEmpty ? nil : data, text: try optionalString(input.text, "\(name).text", in: function),
                               id: try optionalString(input.id, "\(name).id", in: function), position: position)
}

@_cdecl("clarifai_predict_many")
public func clarifai_predict_many(_ client: OpaquePointer?, _ modelID: UnsafePointer<CChar>?, _ versionID: UnsafePointer<CChar>?,
                                  _ batchSize: Int, _ concurrency: Int, _ rate: Double, _ nextInput: clarifai_input_fn?,
                                  _ onResult: clarifai_result_fn?, _ onProgress: clarifai_progress_fn?,
                                  _ userdata: UnsafeMutableRawPointer?) -> Int32 {
    let function = "clarifai_predict_many"
    return entryPoint {
        let caller: Client = try required(client, "client", in: function)
        guard let nextInput, let onResult else {
            throw ClarifaiError(.invalidArgument, "\(function): \(nextInput == nil ? "next_input" : "on_result") is NULL")
        }
        // size_t arguments past Int.max arrive negative.
        let options: BulkOptions
        do {
            options = try BulkOptions(batchSize: batchSize == 0 ? BulkOptions.defaultBatchSize : batchSize,
                                      concurrency: concurrency == 0 ? BulkOptions.defaultConcurrency : concurrency,
                                      rate: rate == 0 ? nil : rate)
        } catch let error as ClarifaiError {
            throw ClarifaiError(error.code, "\(function): \(error.message)")
        }
        var supplied = 0
        try caller.predictMany(modelID: try requiredString(modelID, "model_id", in: function),
                               versionID: try optionalString(versionID, "version_id", in: function), options: options,
                               nextInput: {
            var input = clarifai_input()
            let more = nextInput(userdata, &input)
            guard more >= 0 else { throw ClarifaiError(.cancelled, "\(function): stopped by next_input after \(supplied) inputs") }
            guard more > 0 else { return nil }
            defer { supplied += 1 }
            return Result { try predictionInput(input, position: supplied, in: "next_input") }
                .mapError { $0 as? ClarifaiError ?? ClarifaiError(.internal, "\($0)") }
        }, onResult: { index, outcome in
            switch outcome {
            case .success(let response):
                LastError.clear()
                return onResult(userdata, index, 0, OpaquePointer(Unmanaged.passUnretained(response).toOpaque())) == 0
            case .failure(let error):
                LastError.set(error)
                let response = error.response.map { OpaquePointer(Unmanaged.passUnretained($0).toOpaque()) }
                return onResult(userdata, index, error.code.rawValue, response) == 0
            }
        }, onProgress: progressReporter(onProgress, userdata))
    }
}

/// A bulk run's progress handed to the caller's C callback; nil without one.
private func progressReporter(_ onProgress: clarifai_progress_fn?, _ userdata: UnsafeMutableRawPointer?) -> ((BulkProgress) -> Void)? {
    onProgress.map { onProgress in { progress in
        var report = clarifai_bulk_progress(supplied: progress.supplied, done: progress.done, failed: progress.failed,
                                            in_flight: progress.inFlight, rate: progress.rate)
        onProgress(userdata, &report)
    } }
}

@_cdecl("clarifai_upload_inputs")
public func clarifai_upload_inputs(_ client: OpaquePointer?, _ batchSize: Int, _ concurrency: Int, _ maxRetries: UInt32,
                                   _ nextInput: clarifai_upload_input_fn?, _ onResult: clarifai_upload_result_fn?,
                                   _ onProgress: clarifai_progress_fn?, _ userdata: UnsafeMutableRawPointer?) -> Int32 {
    let function = "clarifai_upload_inputs"
    return entryPoint {
        let caller: Client = try required(client, "client", in: function)
        guard let nextInput, let onResult else {
            throw ClarifaiError(.invalidArgument, "\(function): \(nextInput == nil ? "next_input" : "on_result") is NULL")
        }
        let options: UploadOptions
        do {
            // (size_t arguments past Int.max arrive negative, and are refused as such.)
            options = try UploadOptions(batchSize: batchSize == 0 ? UploadOptions.defaultBatchSize : batchSize,
                                        concurrency: concurrency == 0 ? UploadOptions.defaultConcurrency : concurrency,
                                        maxRetries: Int(maxRetries))
        } catch let error as ClarifaiError {
            throw ClarifaiError(error.code, "\(function): \(error.message)")
        }
        var supplied = 0
        try caller.upload(options: options, next: {
            var input = clarifai_upload_input()
            let more = nextInput(userdata, &input)
            guard more >= 0 else { throw ClarifaiError(.cancelled, "\(function): stopped by next_input after \(supplied) inputs") }
            guard more > 0 else { return .end }
            defer { supplied += 1 }
            do {
                return try uploadSupply(input, position: supplied)
            } catch let error as ClarifaiError {
                return .invalid(error)
            }
        }, report: { index, outcome in
            if let failure = outcome.failure { LastError.set(failure) } else { LastError.clear() }
            return outcome.id.withCString { id in
                onResult(userdata, index, outcome.failure?.code.rawValue ?? 0, id, outcome.statusCode, UInt32(outcome.tries)) == 0
            }
        }, progress: progressReporter(onProgress, userdata))
    }
}

/// One C upload input, whose bytes stay borrowed.
private func uploadSupply(_ upload: clarifai_upload_input, position: Int) throws -> Client.UploadSupply {
    let name = "inputs[\(position)]"
    guard upload.concept_count == 0 || upload.concepts != nil else {
        throw ClarifaiError(.invalidArgument, "next_input: \(name).concepts is NULL with concept_count \(UInt(bitPattern: upload.concept_count))")
    }
    guard (0...Client.maximumConceptsPerInput).contains(upload.concept_count) else {
        throw ClarifaiError(.invalidArgument, "next_input: \(name).concept_count \(UInt(bitPattern: upload.concept_count)) is over "
                                            + "\(Client.maximumConceptsPerInput)")
    }
    let concepts = try (0..<upload.concept_count).map { try requiredString(upload.concepts[$0], "\(name).concepts[\($0)]", in: "next_input") }
    return .input(try predictionInput(upload.input, position: position, in: "next_input"), conceptIDs: concepts,
                  metadataJSON: try optionalString(upload.metadata_json, "\(name).metadata_json", in: "next_input"))
}

/// The single-input predictions: checks the common arguments, then runs `body`.
private func predictOne(_ function: String, _ client: OpaquePointer?, _ modelID: UnsafePointer<CChar>?,
                        _ versionID: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                        _ body: (Client, String, String?) throws -> Response) -> Int32 {
    responding(out, in: function) {
        let caller: Client = try required(client, "client", in: function)
        return try body(caller, try requiredString(modelID, "model_id", in: function),
                        try optionalString(versionID, "version_id", in: function))
    }
}

@_cdecl("clarifai_predict_url")
public func clarifai_predict_url(_ client: OpaquePointer?, _ modelID: UnsafePointer<CChar>?, _ versionID: UnsafePointer<CChar>?,
                                 _ url: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_predict_url"
    return predictOne(function, client, modelID, versionID, out) { caller, model, version in
        let input = try PredictionInput(kindNumber: PredictionInput.Kind.image.rawValue,
                                        url: try requiredString(url, "url", in: function),
                                        data: nil, text: nil, id: nil, position: 0)
        return try caller.predict(modelID: model, versionID: version, inputs: [input])
    }
}

@_cdecl("clarifai_predict_bytes")
public func clarifai_predict_bytes(_ client: OpaquePointer?, _ modelID: UnsafePointer<CChar>?, _ versionID: UnsafePointer<CChar>?,
                                   _ data: UnsafeRawPointer?, _ length: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_predict_bytes"
    return predictOne(function, client, modelID, versionID, out) { caller, model, version in
        let bytes = try borrowedBytes(data, length, "data", in: function)
        guard !bytes.isEmpty else { throw ClarifaiError(.invalidArgument, "\(function): data is NULL or len is 0") }
        let input = PredictionInput(kind: .image, source: .bytes(bytes))
        return try caller.predict(modelID: model, versionID: version, inputs: [input])
    }
}

@_cdecl("clarifai_predict_file")
public func clarifai_predict_file(_ client: OpaquePointer?, _ modelID: UnsafePointer<CChar>?, _ versionID: UnsafePointer<CChar>?,
                                  _ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_predict_file"
    return predictOne(function, client, modelID, versionID, out) { caller, model, version in
        try caller.predict(modelID: model, versionID: version, kind: .image, filePath: try requiredString(path, "path", in: function))
    }
}

@_cdecl("clarifai_predict_text")
public func clarifai_predict_text(_ client: OpaquePointer?, _ modelID: UnsafePointer<CChar>?, _ versionID: UnsafePointer<CChar>?,
                                  _ text: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "clarifai_predict_text"
    return predictOne(function, client, modelID, versionID, out) { caller, model, version in
        let input = PredictionInput(kind: .text, source: .text(try requiredString(text, "text", in: function)))
        return try caller.predict(modelID: model, versionID: version, inputs: [input])
    }
}

// MARK: - Responses

/// For getters that cannot fail: the response, or nil (NULL, or a handle of another kind, which
/// also sets the last error since it is a mistake in the caller's program).
private func response(_ handle: OpaquePointer?) -> Response? { inspected(handle, "response") }

@_cdecl("clarifai_response_status_code")
public func clarifai_response_status_code(_ handle: OpaquePointer?) -> Int32 { response(handle)?.statusCode ?? 0 }

@_cdecl("clarifai_response_status_description")
public func clarifai_response_status_description(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    response(handle)?.statusDescriptionPointer
}

@_cdecl("clarifai_response_status_details")
public func clarifai_response_status_details(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    response(handle)?.statusDetailsPointer
}

@_cdecl("clarifai_response_request_id")
public func clarifai_response_request_id(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    response(handle)?.requestIDPointer
}

@_cdecl("clarifai_response_metadata_count")
public func clarifai_response_metadata_count(_ handle: OpaquePointer?) -> Int { response(handle)?.metadata.count ?? 0 }

@_cdecl("clarifai_response_metadata")
public func clarifai_response_metadata(_ handle: OpaquePointer?, _ index: Int, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                       _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                       _ trailing: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let source = response(handle) else { return handOut(nil, name, value, trailing) }
    guard let field = source.metadataField(index) else {
        // Success leaves the last error alone, as the other getters do; this failure says why.
        LastError.set(code: ErrorCode.invalidArgument.rawValue,
                      message: "clarifai_response_metadata: index \(index) is past the response's \(source.metadata.count) metadata fields")
        return handOut(nil, name, value, trailing)
    }
    return handOut(field, name, value, trailing)
}

@_cdecl("clarifai_response_json")
public func clarifai_response_json(_ handle: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let source = response(handle) else { return nil }
    // Success leaves the last error alone: callers print it beside the JSON of a failed call.
    do {
        return try source.json()
    } catch {
        LastError.set(anyError: error)
        return nil
    }
}

@_cdecl("clarifai_response_proto")
public func clarifai_response_proto(_ handle: OpaquePointer?, _ data: UnsafeMutablePointer<UnsafeRawPointer?>?,
                                    _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    let function = "clarifai_response_proto"
    data?.pointee = nil
    length?.pointee = 0
    return entryPoint {
        let source: Response = try required(handle, "response", in: function)
        guard let data, let length else { throw ClarifaiError(.invalidArgument, "\(function): an out-parameter is NULL") }
        let bytes = try source.proto()
        data.pointee = bytes.baseAddress
        length.pointee = bytes.count
    }
}

@_cdecl("clarifai_response_output_count")
public func clarifai_response_output_count(_ handle: OpaquePointer?) -> Int {
    guard let source = response(handle) else { return 0 }
    // Success leaves the last error alone, as clarifai_response_json's does.
    do {
        return try source.countOutputs()
    } catch {
        LastError.set(anyError: error)
        return 0
    }
}

/// Hands out one of a response's struct buffers through (pointer, count) out-parameters.
private func buffer<T>(_ function: String, _ handle: OpaquePointer?, _ output: Int,
                       _ pointer: UnsafeMutablePointer<UnsafePointer<T>?>?, _ count: UnsafeMutablePointer<Int>?,
                       _ read: (Response, Int) throws -> UnsafeBufferPointer<T>) -> Int32 {
    pointer?.pointee = nil
    count?.pointee = 0
    return entryPoint {
        let source: Response = try required(handle, "response", in: function)
        guard let pointer, let count else { throw ClarifaiError(.invalidArgument, "\(function): an out-parameter is NULL") }
        let values = try read(source, output)
        pointer.pointee = values.isEmpty ? nil : values.baseAddress
        count.pointee = values.count
    }
}

@_cdecl("clarifai_response_concepts")
public func clarifai_response_concepts(_ handle: OpaquePointer?, _ output: Int,
                                       _ concepts: UnsafeMutablePointer<UnsafePointer<clarifai_concept>?>?,
                                       _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    buffer("clarifai_response_concepts", handle, output, concepts, count) { try $0.concepts(output: $1) }
}

@_cdecl("clarifai_response_concepts_text")
public func clarifai_response_concepts_text(_ handle: OpaquePointer?, _ output: Int,
                                            _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                            _ length: UnsafeMutablePointer<Int>?, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    text?.pointee = nil
    length?.pointee = 0
    count?.pointee = 0
    return entryPoint {
        let source: Response = try required(handle, "response", in: "clarifai_response_concepts_text")
        guard let text, let length, let count else {
            throw ClarifaiError(.invalidArgument, "clarifai_response_concepts_text: an out-parameter is NULL")
        }
        let made = try source.conceptsText(output: output)
        if made.count > 0 {
            text.pointee = made.text.baseAddress?.assumingMemoryBound(to: CChar.self)
            length.pointee = made.text.count
            count.pointee = made.count
        }
    }
}

@_cdecl("clarifai_response_outputs_text")
public func clarifai_response_outputs_text(_ handle: OpaquePointer?, _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                           _ length: UnsafeMutablePointer<Int>?, _ outputs: UnsafeMutablePointer<Int>?,
                                           _ conceptCounts: UnsafeMutablePointer<UnsafePointer<Int>?>?,
                                           _ contents: UnsafeMutablePointer<UnsafePointer<UInt8>?>?) -> Int32 {
    text?.pointee = nil
    length?.pointee = 0
    outputs?.pointee = 0
    conceptCounts?.pointee = nil
    contents?.pointee = nil
    return entryPoint {
        let source: Response = try required(handle, "response", in: "clarifai_response_outputs_text")
        guard let text, let length, let outputs, let conceptCounts, let contents else {
            throw ClarifaiError(.invalidArgument, "clarifai_response_outputs_text: an out-parameter is NULL")
        }
        let made = try source.outputsText()
        if !made.text.isEmpty {
            text.pointee = made.text.baseAddress?.assumingMemoryBound(to: CChar.self)
            length.pointee = made.text.count
        }
        if !made.conceptCounts.isEmpty {
            outputs.pointee = made.conceptCounts.count
            conceptCounts.pointee = made.conceptCounts.baseAddress
            contents.pointee = made.contents.baseAddress
        }
    }
}

@_cdecl("clarifai_response_regions")
public func clarifai_response_regions(_ handle: OpaquePointer?, _ output: Int,
                                      _ regions: UnsafeMutablePointer<UnsafePointer<clarifai_region>?>?,
                                      _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    buffer("clarifai_response_regions", handle, output, regions, count) { try $0.regions(output: $1) }
}

@_cdecl("clarifai_response_text")
public func clarifai_response_text(_ handle: OpaquePointer?, _ output: Int) -> UnsafePointer<CChar>? {
    response(handle)?.text(output: output)
}

@_cdecl("clarifai_response_embedding")
public func clarifai_response_embedding(_ handle: OpaquePointer?, _ output: Int,
                                        _ vector: UnsafeMutablePointer<UnsafePointer<Float>?>?,
                                        _ dimension: UnsafeMutablePointer<Int>?) -> Int32 {
    buffer("clarifai_response_embedding", handle, output, vector, dimension) { try $0.embedding(output: $1) }
}

/// A path getter that returns a value: `read`'s result, or `fallback` with the last error set
/// (a success clears it, so that a caller can tell 0 or NULL from a failure).
private func pathValue<T>(_ function: String, _ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?, fallback: T,
                          _ read: (Response, String) throws -> T) -> T {
    var value = fallback
    _ = entryPoint {
        let source: Response = try required(handle, "response", in: function)
        value = try read(source, try requiredString(path, "path", in: function))
    }
    return value
}

@_cdecl("clarifai_response_count")
public func clarifai_response_count(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int {
    pathValue("clarifai_response_count", handle, path, fallback: 0) { try $0.count(path: $1) }
}

@_cdecl("clarifai_response_string")
public func clarifai_response_string(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    pathValue("clarifai_response_string", handle, path, fallback: nil) { try $0.string(path: $1) }
}

/// A path getter that hands its number out through `value` (0 on failure).
private func pathNumber<T: Numeric>(_ function: String, _ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                    _ value: UnsafeMutablePointer<T>?, _ read: (Response, String) throws -> T) -> Int32 {
    value?.pointee = 0
    return entryPoint {
        guard let value else { throw ClarifaiError(.invalidArgument, "\(function): value is NULL") }
        let source: Response = try required(handle, "response", in: function)
        value.pointee = try read(source, try requiredString(path, "path", in: function))
    }
}

@_cdecl("clarifai_response_int64")
public func clarifai_response_int64(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                    _ value: UnsafeMutablePointer<Int64>?) -> Int32 {
    pathNumber("clarifai_response_int64", handle, path, value) { try $0.int64(path: $1) }
}

@_cdecl("clarifai_response_double")
public func clarifai_response_double(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                     _ value: UnsafeMutablePointer<Double>?) -> Int32 {
    pathNumber("clarifai_response_double", handle, path, value) { try $0.double(path: $1) }
}

@_cdecl("clarifai_response_free")
public func clarifai_response_free(_ handle: OpaquePointer?) { releaseHandle(handle, as: Response.self) }

// MARK: - Schema

/// A copy of `bytes` in malloc'd memory for the caller to free with clarifai_free. Never NULL,
/// even for zero bytes.
private func mallocCopy(_ bytes: [UInt8]) throws -> UnsafeMutableRawPointer {
    guard let memory = malloc(bytes.count + 1) else {
        throw ClarifaiError(.internal, "out of memory for \(bytes.count) bytes")
    }
    bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(memory), byteCount: $0.count) }
    return memory
}

/// (data, len) from C as a buffer; data may be NULL only when len is 0. A length past protobuf's
/// message limit (SIZE_MAX among them) is refused: no message or input can be that large.
private func borrowedBytes(_ data: UnsafeRawPointer?, _ length: Int, _ name: String, in function: String) throws -> UnsafeRawBufferPointer {
    guard (0...Client.maximumRequestBytes).contains(length) else {
        throw ClarifaiError(.invalidArgument,
                            "\(function): the length of \(name), \(UInt(bitPattern: length)), is over the \(Client.maximumRequestBytes)-byte message limit")
    }
    guard data != nil || length == 0 else { throw ClarifaiError(.invalidArgument, "\(function): \(name) is NULL but len is \(length)") }
    return UnsafeRawBufferPointer(start: data, count: length)
}

@_cdecl("clarifai_json_to_proto")
public func clarifai_json_to_proto(_ messageType: UnsafePointer<CChar>?, _ json: UnsafePointer<CChar>?,
                                   _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ outLength: UnsafeMutablePointer<Int>?) -> Int32 {
    let function = "clarifai_json_to_proto"
    out?.pointee = nil
    outLength?.pointee = 0
    return entryPoint {
        guard let out, let outLength else { throw ClarifaiError(.invalidArgument, "\(function): an out-parameter is NULL") }
        let typeName = try requiredString(messageType, "message_type", in: function)
        guard let json else { throw ClarifaiError(.invalidArgument, "\(function): json is NULL") }
        let bytes = try Codec.jsonToProto(typeName: typeName, json: UnsafeRawBufferPointer(start: json, count: strlen(json)))
        out.pointee = try mallocCopy(bytes)
        outLength.pointee = bytes.count
    }
}

@_cdecl("clarifai_proto_to_json")
public func clarifai_proto_to_json(_ messageType: UnsafePointer<CChar>?, _ data: UnsafeRawPointer?, _ length: Int,
                                   _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    let function = "clarifai_proto_to_json"
    out?.pointee = nil
    return entryPoint {
        guard let out else { throw ClarifaiError(.invalidArgument, "\(function): out_json is NULL") }
        let typeName = try requiredString(messageType, "message_type", in: function)
        out.pointee = try Codec.protoToJSON(typeName: typeName, bytes: try borrowedBytes(data, length, "data", in: function))
    }
}

@_cdecl("clarifai_free")
public func clarifai_free(_ memory: UnsafeMutableRawPointer?) { free(memory) }

// MARK: - Resource URLs

@_cdecl("clarifai_parse_resource_url")
public func clarifai_parse_resource_url(_ url: UnsafePointer<CChar>?, _ ids: UnsafeMutablePointer<clarifai_resource_ids>?,
                                        _ buffer: UnsafeMutablePointer<CChar>?, _ bufferSize: Int) -> Int32 {
    let function = "clarifai_parse_resource_url"
    ids?.pointee = clarifai_resource_ids()
    return entryPoint {
        let text = try requiredString(url, "url", in: function)
        guard let ids else { throw ClarifaiError(.invalidArgument, "\(function): ids is NULL") }
        guard let buffer else { throw ClarifaiError(.invalidArgument, "\(function): buffer is NULL") }
        let parsed = try ResourceURL(parsing: text)
        let parts = [parsed.userID, parsed.appID, parsed.resourceType, parsed.resourceID, parsed.versionID]
        let needed = parts.reduce(0) { $0 + ($1.map { $0.utf8.count + 1 } ?? 0) }
        // (A size_t past Int.max arrives negative: more than enough.)
        guard bufferSize < 0 || bufferSize >= needed else {
            throw ClarifaiError(.invalidArgument, "\(function): a buffer of \(bufferSize) bytes is too small: the ids of '\(text)' need \(needed)")
        }
        var next = buffer
        let copies: [UnsafePointer<CChar>?] = parts.map { part in
            guard let part else { return nil }
            let start = next
            for byte in part.utf8 {
                next.pointee = CChar(bitPattern: byte)
                next += 1
            }
            next.pointee = 0
            next += 1
            return UnsafePointer(start)
        }
        ids.pointee = clarifai_resource_ids(user_id: copies[0], app_id: copies[1], resource_type: copies[2],
                                            resource_id: copies[3], version_id: copies[4])
    }
}

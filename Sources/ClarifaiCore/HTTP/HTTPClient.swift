import CCurl
import Glibc
import Synchronization

struct HTTPRequest {
    var method: String
    var url: String
    var headers: [String]
    /// Sent as is; nil for a request without a body.
    var body: String?
    /// The whole exchange's deadline; 0 means none.
    var timeoutMilliseconds: Int
    var caFile: String?
}

struct HTTPResponse {
    let status: Int
    let contentType: String
    let body: [UInt8]
}

/// Runs HTTP exchanges on libcurl easy handles kept in a pool: a handle keeps its connections,
/// DNS and TLS session caches between calls, so sequential calls reuse connections. Thread-safe.
final class HTTPClient: Sendable {
    /// Bodies above this are refused rather than buffered (the official clients' message limit).
    static let maximumBodySize = 1 << 30
    /// Connecting gets at most this long, whatever the call's deadline.
    static let connectTimeoutMilliseconds = 10_000

    private let idleHandles = Mutex<[CurlHandle]>([])
    let userAgent: String

    init(userAgent: String) {
        _ = CurlGlobal.initialized
        self.userAgent = userAgent
    }

    func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        let handle = idleHandles.withLock { $0.popLast() } ?? CurlHandle()
        let response = try handle.perform(request, userAgent: userAgent)
        // A handle goes back to the pool only after a clean exchange, with its connection.
        idleHandles.withLock { $0.append(handle) }
        return response
    }
}

/// curl_global_init must run once before any other libcurl call.
private enum CurlGlobal {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// Collects a response body for the write callback.
private final class BodySink {
    var bytes: [UInt8] = []
    var overflowed = false
}

/// One libcurl easy handle. Used by one thread at a time (the pool hands it out).
private final class CurlHandle: @unchecked Sendable {
    private let raw: UnsafeMutableRawPointer?
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    init() { raw = curl_easy_init() }

    deinit { curl_easy_cleanup(raw) }

    func perform(_ request: HTTPRequest, userAgent: String) throws -> HTTPResponse {
        guard let raw else { throw ClarifaiError(.internal, "libcurl could not create a handle") }
        curl_easy_reset(raw)
        let sink = BodySink()
        var headers: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headers = curl_slist_append(headers, header) }
        defer { curl_slist_free_all(headers) }

        ccurl_setopt_string(raw, CURLOPT_URL, request.url)
        ccurl_setopt_long(raw, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(raw, CURLOPT_PATH_AS_IS, 1)
        ccurl_setopt_long(raw, CURLOPT_TCP_KEEPALIVE, 1)
        ccurl_setopt_string(raw, CURLOPT_ACCEPT_ENCODING, "")
        ccurl_setopt_string(raw, CURLOPT_USERAGENT, userAgent)
        ccurl_setopt_slist(raw, CURLOPT_HTTPHEADER, headers)
        ccurl_setopt_long(raw, CURLOPT_TIMEOUT_MS, request.timeoutMilliseconds)
        let connectTimeout = request.timeoutMilliseconds > 0
            ? min(request.timeoutMilliseconds, HTTPClient.connectTimeoutMilliseconds) : HTTPClient.connectTimeoutMilliseconds
        ccurl_setopt_long(raw, CURLOPT_CONNECTTIMEOUT_MS, connectTimeout)
        if let caFile = request.caFile { ccurl_setopt_string(raw, CURLOPT_CAINFO, caFile) }
        ccurl_setopt_pointer(raw, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
        ccurl_setopt_write_callback(raw, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<BodySink>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            guard sink.bytes.count + length <= HTTPClient.maximumBodySize else {
                sink.overflowed = true
                return 0
            }
            sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
            return length
        }

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorText in
            errorText[0] = 0
            ccurl_setopt_pointer(raw, CURLOPT_ERRORBUFFER, errorText.baseAddress)
            switch request.method {
            case "GET": ccurl_setopt_long(raw, CURLOPT_HTTPGET, 1)
            case "POST": break
            default: ccurl_setopt_string(raw, CURLOPT_CUSTOMREQUEST, request.method)
            }
            guard var body = request.body else { return curl_easy_perform(raw) }
            return body.withUTF8 { text in
                ccurl_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(text.count))
                if let start = text.baseAddress {
                    ccurl_setopt_pointer(raw, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: start))
                } else {
                    // Without POSTFIELDS libcurl would read the body from stdin.
                    ccurl_setopt_string(raw, CURLOPT_COPYPOSTFIELDS, "")
                }
                return curl_easy_perform(raw)
            }
        }
        ccurl_setopt_pointer(raw, CURLOPT_ERRORBUFFER, nil)
        let exchange = "\(request.method) \(request.url)"
        guard code == CURLE_OK else {
            if sink.overflowed {
                throw ClarifaiError(.protocol, "\(exchange): response body larger than \(HTTPClient.maximumBodySize) bytes")
            }
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            if code == CURLE_OPERATION_TIMEDOUT {
                let limit = request.timeoutMilliseconds > 0 ? "deadline of \(request.timeoutMilliseconds) ms passed"
                    : "no connection within \(HTTPClient.connectTimeoutMilliseconds) ms"
                throw ClarifaiError(.timeout, "\(exchange): \(limit) (\(reason))")
            }
            throw ClarifaiError(.transport, "\(exchange): \(reason)")
        }
        var status = 0
        ccurl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &status)
        var contentType: UnsafePointer<CChar>?
        ccurl_getinfo_string(raw, CURLINFO_CONTENT_TYPE, &contentType)
        return HTTPResponse(status: status, contentType: contentType.map { String(cString: $0) } ?? "", body: sink.bytes)
    }
}

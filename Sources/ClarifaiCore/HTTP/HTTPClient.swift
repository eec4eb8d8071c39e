import CCurl
import Glibc

struct HTTPRequest {
    enum Version {
        /// libcurl's default: HTTP/2 when TLS ALPN offers it, else HTTP/1.1.
        case automatic
        /// HTTP/2 over TLS (ALPN h2), as gRPC needs.
        case http2OverTLS
        /// Cleartext HTTP/2 without upgrade (h2c with prior knowledge), as gRPC needs.
        case http2PriorKnowledge
    }

    var method: String
    var url: String
    var headers: [String]
    /// Sent as is; nil for a request without a body.
    var body: [UInt8]?
    /// The whole exchange's deadline; 0 means none.
    var timeoutMilliseconds: Int
    var caFile: String?
    var version: Version = .automatic
    /// Close the connection after the exchange instead of keeping it for the next one.
    var forbidsReuse = false
}

struct HTTPResponse {
    let status: Int
    let contentType: String
    /// The body, unless the request streamed it to a consumer.
    let body: [UInt8]
    /// Header and trailer fields in arrival order, names lower-cased.
    let fields: [(name: String, value: String)]
    /// 2 for HTTP/2, 1 for HTTP/1.x.
    let majorVersion: Int

    func field(_ name: String) -> String? { fields.last { $0.name == name }?.value }

    /// 502/503/504: a gateway could not reach the server; another attempt may get through.
    var isGatewayFailure: Bool { [502, 503, 504].contains(status) }
}

/// Runs HTTP exchanges on libcurl easy handles kept in a pool: a handle keeps its connections,
/// DNS and TLS session caches between calls, so sequential calls reuse connections. Thread-safe.
final class HTTPClient: Sendable {
    /// Bodies above this are refused rather than buffered (the official clients' message limit).
    static let maximumBodySize = 1 << 30
    /// Connecting gets at most this long, whatever the call's deadline.
    static let connectTimeoutMilliseconds = 10_000
    /// libcurl's receive buffer for HTTP/2: with its 16 kB default, libcurl 7.88 stalls answers
    /// larger than that for 200 ms to 1 s each (measured by make bench).
    static let http2ReceiveBufferSize = 512 * 1024

    private let idleHandles = Locked<[CurlHandle]>([])
    let userAgent: String

    init(userAgent: String) {
        _ = CurlGlobal.initialized
        self.userAgent = userAgent
    }

    /// Runs one exchange. With `consumer`, body bytes go to it as they arrive, with the response's
    /// status and content type, instead of being buffered; the consumer returns false to abort the
    /// exchange (which then throws .cancelled).
    func perform(_ request: HTTPRequest, consumer: Consumer? = nil) throws -> HTTPResponse {
        let handle = idleHandles.withLock { $0.popLast() } ?? CurlHandle()
        let response = try handle.perform(request, userAgent: userAgent, consumer: consumer)
        // A handle goes back to the pool only after a clean exchange, with its connection.
        idleHandles.withLock { $0.append(handle) }
        return response
    }

    /// libcurl before 8.0 cannot reuse a cleartext HTTP/2 (h2c) connection (curl issue #10634).
    static let reusesCleartextHTTP2: Bool = ccurl_version_info().pointee.version_num >= 0x08_00_00
}

/// curl_global_init must run once before any other libcurl call.
private enum CurlGlobal {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

/// The start of an answer, as known when its body begins.
struct ResponseHead {
    var status = 0
    var contentType = ""
    /// grpc-encoding: how the messages of a gRPC answer are compressed.
    var messageEncoding = ""
}

typealias Consumer = (UnsafeRawBufferPointer, ResponseHead) -> Bool

/// What the callbacks collect during one exchange.
private final class ExchangeSink {
    var body: [UInt8] = []
    var fields: [(name: String, value: String)] = []
    var head = ResponseHead()
    var overflowed = false
    var consumerStopped = false
    let consumer: Consumer?

    init(consumer: Consumer?) { self.consumer = consumer }

    /// Body bytes; false stops the transfer.
    func receive(_ data: UnsafeRawBufferPointer) -> Bool {
        if let consumer {
            consumerStopped = !consumer(data, head)
            return !consumerStopped
        }
        guard body.count + data.count <= HTTPClient.maximumBodySize else {
            overflowed = true
            return false
        }
        body.append(contentsOf: data)
        return true
    }

    /// One header or trailer line ("name: value\r\n") or a status line ("HTTP/2 200").
    func receiveHeader(_ line: UnsafeRawBufferPointer) {
        if line.starts(with: "HTTP/".utf8) {
            let words = String(decoding: line, as: UTF8.self).split(separator: " ")
            head = ResponseHead(status: words.count > 1 ? Int(words[1]) ?? 0 : 0)
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingASCIIWhitespace()
        if name == "content-type" { head.contentType = value }
        if name == "grpc-encoding" { head.messageEncoding = value }
        fields.append((name, value))
    }
}

extension String {
    /// Without leading and trailing spaces, tabs, CRs and LFs (byte-wise: "\r\n" is one Character).
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}

/// One libcurl easy handle. Used by one thread at a time (the pool hands it out).
private final class CurlHandle: @unchecked Sendable {
    private let raw: UnsafeMutableRawPointer?
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    init() { raw = curl_easy_init() }

    deinit { curl_easy_cleanup(raw) }

    func perform(_ request: HTTPRequest, userAgent: String, consumer: Consumer?) throws -> HTTPResponse {
        guard let raw else { throw ClarifaiError(.internal, "libcurl could not create a handle") }
        curl_easy_reset(raw)
        let sink = ExchangeSink(consumer: consumer)
        var headers: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headers = curl_slist_append(headers, header) }
        defer { curl_slist_free_all(headers) }

        ccurl_setopt_string(raw, CURLOPT_URL, request.url)
        ccurl_setopt_long(raw, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(raw, CURLOPT_PATH_AS_IS, 1)
        ccurl_setopt_long(raw, CURLOPT_TCP_KEEPALIVE, 1)
        ccurl_setopt_string(raw, CURLOPT_USERAGENT, userAgent)
        ccurl_setopt_slist(raw, CURLOPT_HTTPHEADER, headers)
        ccurl_setopt_long(raw, CURLOPT_TIMEOUT_MS, request.timeoutMilliseconds)
        let connectTimeout = request.timeoutMilliseconds > 0
            ? min(request.timeoutMilliseconds, HTTPClient.connectTimeoutMilliseconds) : HTTPClient.connectTimeoutMilliseconds
        ccurl_setopt_long(raw, CURLOPT_CONNECTTIMEOUT_MS, connectTimeout)
        if let caFile = request.caFile { ccurl_setopt_string(raw, CURLOPT_CAINFO, caFile) }
        switch request.version {
        case .automatic: ccurl_setopt_string(raw, CURLOPT_ACCEPT_ENCODING, "")
        case .http2OverTLS: ccurl_setopt_long(raw, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        case .http2PriorKnowledge: ccurl_setopt_long(raw, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
        }
        if request.version != .automatic { ccurl_setopt_long(raw, CURLOPT_BUFFERSIZE, HTTPClient.http2ReceiveBufferSize) }
        if request.forbidsReuse {
            ccurl_setopt_long(raw, CURLOPT_FRESH_CONNECT, 1)
            ccurl_setopt_long(raw, CURLOPT_FORBID_REUSE, 1)
        }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        ccurl_setopt_pointer(raw, CURLOPT_WRITEDATA, context)
        ccurl_setopt_write_callback(raw, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<ExchangeSink>.fromOpaque(context).takeUnretainedValue()
            return sink.receive(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        ccurl_setopt_pointer(raw, CURLOPT_HEADERDATA, context)
        ccurl_setopt_write_callback(raw, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            Unmanaged<ExchangeSink>.fromOpaque(context).takeUnretainedValue()
                .receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorText in
            errorText[0] = 0
            ccurl_setopt_pointer(raw, CURLOPT_ERRORBUFFER, errorText.baseAddress)
            switch request.method {
            case "GET": ccurl_setopt_long(raw, CURLOPT_HTTPGET, 1)
            case "POST": break
            default: ccurl_setopt_string(raw, CURLOPT_CUSTOMREQUEST, request.method)
            }
            guard let body = request.body else { return curl_easy_perform(raw) }
            return body.withUnsafeBytes { bytes in
                ccurl_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                if let start = bytes.baseAddress {
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
            if sink.consumerStopped { throw ClarifaiError(.cancelled, "\(exchange): cancelled by the caller") }
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
            // Nothing was sent when the connection could not be made: safe to try again.
            throw ClarifaiError(.transport, "\(exchange): \(reason)", transient: code == CURLE_COULDNT_CONNECT)
        }
        var status = 0
        ccurl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &status)
        var version = 0
        ccurl_getinfo_long(raw, CURLINFO_HTTP_VERSION, &version)
        var contentType: UnsafePointer<CChar>?
        ccurl_getinfo_string(raw, CURLINFO_CONTENT_TYPE, &contentType)
        return HTTPResponse(status: status, contentType: contentType.map { String(cString: $0) } ?? "", body: sink.body,
                            fields: sink.fields, majorVersion: version == CURL_HTTP_VERSION_2_0 ? 2 : 1)
    }
}

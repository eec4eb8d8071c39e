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

    /// HTTP/2 exchanges that keep their connection run on the client's multi handle, which
    /// multiplexes concurrent ones as streams of one connection.
    var multiplexes: Bool { version != .automatic && !forbidsReuse }
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

/// Runs HTTP exchanges on libcurl easy handles kept in a pool: a handle keeps its connection
/// between calls, so sequential calls reuse connections; DNS answers and TLS sessions are shared
/// by all handles of the client. HTTP/2 exchanges go through one multi handle instead, so that
/// concurrent calls from many threads become streams of one connection. Thread-safe.
final class HTTPClient: @unchecked Sendable {
    /// Bodies above this are refused rather than buffered (the official clients' message limit).
    static let maximumBodySize = 1 << 30
    /// Connecting gets at most this long, whatever the call's deadline.
    static let connectTimeoutMilliseconds = 10_000
    /// libcurl's receive buffer for HTTP/2: with its 16 kB default, libcurl 7.88 stalls answers
    /// larger than that for 200 ms to 1 s each (measured by make bench).
    static let http2ReceiveBufferSize = 512 * 1024

    private let idleHandles = Locked<[CurlHandle]>([])
    private let share = CurlShare()
    /// The multi handle of multiplexed exchanges (started by the first), and how many it took.
    private let multiplexer = Locked<(current: Multiplexer?, exchanges: Int)>((nil, 0))
    let userAgent: String

    /// Exchanges a multi handle takes before a new one (with new connections, resuming their TLS
    /// sessions) takes over and it ends once its own are done. libcurl 7.88 ends every finished
    /// HTTP/2 stream with an RST_STREAM, and servers guarding against "rapid reset" attacks close
    /// a connection that sent too many (nghttp2's default: 1,000, then 33 per second), failing the
    /// calls in flight on it.
    static let exchangesPerMultiplexer = 500

    init(userAgent: String) {
        _ = CurlGlobal.initialized
        self.userAgent = userAgent
    }

    deinit {
        multiplexer.withLock { $0.current?.stop() }
        // The handles go before the share they use.
        idleHandles.withLock { $0.removeAll() }
    }

    /// Runs one exchange. With `consumer`, body bytes go to it as they arrive, with the response's
    /// status and content type, instead of being buffered; the consumer returns false to abort the
    /// exchange (which then throws .cancelled). The consumer runs on the calling thread.
    func perform(_ request: HTTPRequest, consumer: Consumer? = nil) throws -> HTTPResponse {
        let handle = idleHandles.withLock { $0.popLast() } ?? CurlHandle()
        let multiplexer = request.multiplexes ? { self.multiplexerForNextExchange() } : nil
        let response = try handle.perform(request, userAgent: userAgent, share: share, consumer: consumer, multiplexer: multiplexer)
        // A handle goes back to the pool only after a clean exchange.
        idleHandles.withLock { $0.append(handle) }
        return response
    }

    /// The multi handle for the next exchange; nil when libcurl cannot start one.
    private func multiplexerForNextExchange() -> Multiplexer? {
        multiplexer.withLock { state in
            if let current = state.current, state.exchanges < HTTPClient.exchangesPerMultiplexer {
                state.exchanges += 1
                return current
            }
            guard let started = Multiplexer(share: share) else { return nil }
            state.current?.retire()
            state = (started, 1)
            return started
        }
    }

    /// libcurl before 8.0 cannot reuse a cleartext HTTP/2 (h2c) connection (curl issue #10634).
    static let reusesCleartextHTTP2: Bool = ccurl_version_info().pointee.version_num >= 0x08_00_00

    /// libcurl before 8.1 can leave an HTTP/2 connection, with all its streams, stuck after a
    /// stream was paused and resumed (curl #10988): there a slow consumer's bytes are buffered
    /// instead (as such libcurl itself would buffer a paused stream's, curl #4939).
    static let pausesStreamsAlone: Bool = ccurl_version_info().pointee.version_num >= 0x08_01_00
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

/// What the callbacks collect during one exchange. On the multi handle the callbacks run on its
/// thread: streamed bytes are then handed to the calling thread through `handOff`.
private final class ExchangeSink: @unchecked Sendable {
    /// Streamed bytes a slow consumer has not taken yet, before libcurl is asked to pause (where
    /// a pause holds back only that stream, see HTTPClient.pausesStreamsAlone).
    static let maximumPendingBytes = 4 << 20

    enum Verdict { case accepted, stop, pause }

    struct HandOff {
        var pending: [UInt8] = []
        var head = ResponseHead()
        /// The write callback paused the transfer; taking `pending` asks for it to go on.
        var paused = false
        /// Set when the exchange ended.
        var result: CURLcode?
    }

    var body: [UInt8] = []
    var fields: [(name: String, value: String)] = []
    var head = ResponseHead()
    var overflowed = false
    var consumerStopped = false
    /// The consumer, when the callbacks run on the calling thread.
    private let consumer: Consumer?
    /// Set when the callbacks run on the multi handle's thread: the calling thread waits here for
    /// the end, and takes streamed bytes from here to run the consumer itself (the sink may
    /// outlive the exchange on that thread for a moment, so it holds no consumer).
    let handOff: Locked<HandOff>?
    /// Whether body bytes go through `handOff` (rather than into `body`).
    private let handsBytesOver: Bool

    init(consumer: Consumer?, handsOff: Bool) {
        self.consumer = handsOff ? nil : consumer
        handOff = handsOff ? Locked(HandOff()) : nil
        handsBytesOver = handsOff && consumer != nil
    }

    /// Body bytes.
    func receive(_ data: UnsafeRawBufferPointer) -> Verdict {
        if let consumer {
            consumerStopped = !consumer(data, head)
            return consumerStopped ? .stop : .accepted
        }
        if handsBytesOver, let handOff {
            let head = head
            return handOff.update { state in
                guard state.pending.count < ExchangeSink.maximumPendingBytes || !HTTPClient.pausesStreamsAlone else {
                    state.paused = true
                    return .pause
                }
                state.pending.append(contentsOf: data)
                state.head = head
                return .accepted
            }
        }
        guard body.count + data.count <= HTTPClient.maximumBodySize else {
            overflowed = true
            return .stop
        }
        body.append(contentsOf: data)
        return .accepted
    }

    /// The exchange ended with `code` (multi handle's thread).
    func finish(_ code: CURLcode) { handOff?.update { $0.result = code } }

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

    /// Runs the exchange on this thread, or on a multi handle from `multiplexer` (the calling
    /// thread waits for it and runs the consumer).
    func perform(_ request: HTTPRequest, userAgent: String, share: CurlShare, consumer: Consumer?,
                 multiplexer: (() -> Multiplexer?)?) throws -> HTTPResponse {
        guard let raw else { throw ClarifaiError(.internal, "libcurl could not create a handle") }
        curl_easy_reset(raw)
        let sink = ExchangeSink(consumer: consumer, handsOff: multiplexer != nil)
        var headers: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headers = curl_slist_append(headers, header) }
        defer { curl_slist_free_all(headers) }

        ccurl_setopt_string(raw, CURLOPT_URL, request.url)
        ccurl_setopt_long(raw, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(raw, CURLOPT_PATH_AS_IS, 1)
        ccurl_setopt_long(raw, CURLOPT_TCP_KEEPALIVE, 1)
        ccurl_setopt_share(raw, share.raw)
        // A second stream waits for the connection being set up rather than opening another.
        if multiplexer != nil { ccurl_setopt_long(raw, CURLOPT_PIPEWAIT, 1) }
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
            switch sink.receive(UnsafeRawBufferPointer(start: data, count: size * count)) {
            case .accepted: return size * count
            case .stop: return 0
            case .pause: return ccurl_write_pause()
            }
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
            let run = {
                guard let multiplexer else { return curl_easy_perform(raw) }
                // A multi handle that ended before taking the exchange hands it on to the next one.
                while true {
                    guard let current = multiplexer() else { return CURLE_FAILED_INIT }
                    if let result = current.run(raw, sink, consumer: consumer) { return result }
                }
            }
            guard let body = request.body else { return run() }
            return body.withUnsafeBytes { bytes in
                ccurl_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                if let start = bytes.baseAddress {
                    ccurl_setopt_pointer(raw, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: start))
                } else {
                    // Without POSTFIELDS libcurl would read the body from stdin.
                    ccurl_setopt_string(raw, CURLOPT_COPYPOSTFIELDS, "")
                }
                return run()
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

/// DNS answers and TLS sessions shared by the easy handles of one client (libcurl's share
/// interface, with a mutex per kind of data), so that a thread's new handle resumes a TLS session
/// instead of a full handshake.
final class CurlShare: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer?
    private let locks: UnsafeMutablePointer<pthread_mutex_t>
    private let lockCount = Int(CURL_LOCK_DATA_LAST.rawValue)

    init() {
        raw = curl_share_init()
        locks = .allocate(capacity: lockCount)
        for index in 0..<lockCount { pthread_mutex_init(locks + index, nil) }
        guard let raw else { return }
        ccurl_share_setopt_pointer(raw, CURLSHOPT_USERDATA, locks)
        ccurl_share_setopt_lock(raw) { _, data, _, locks in
            pthread_mutex_lock(locks!.assumingMemoryBound(to: pthread_mutex_t.self) + Int(data.rawValue))
        }
        ccurl_share_setopt_unlock(raw) { _, data, locks in
            pthread_mutex_unlock(locks!.assumingMemoryBound(to: pthread_mutex_t.self) + Int(data.rawValue))
        }
        ccurl_share_setopt_long(raw, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue))
        ccurl_share_setopt_long(raw, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
    }

    deinit {
        curl_share_cleanup(raw)
        for index in 0..<lockCount { pthread_mutex_destroy(locks + index) }
        locks.deallocate()
    }
}

/// A libcurl multi handle driven by a thread of its own: exchanges handed to it share its
/// connections, concurrent HTTP/2 ones as streams of one connection. The calling thread waits for
/// its exchange and runs the consumer on the bytes the multi handle's thread hands over.
final class Multiplexer: @unchecked Sendable {
    private enum Operation {
        case add(UnsafeMutableRawPointer, ExchangeSink)
        case cancel(UnsafeMutableRawPointer)
        case resume(UnsafeMutableRawPointer)
    }

    private let multi: UnsafeMutableRawPointer
    /// Kept alive while the multi handle's connections may use its TLS sessions.
    private let share: CurlShare
    /// `stopping`: end once the exchanges in progress are done; `ended`: done, takes no more.
    private let requests = Locked<(operations: [Operation], stopping: Bool, ended: Bool)>(([], false, false))
    /// The exchanges in progress; touched by the multi handle's thread only.
    private var active: [UnsafeMutableRawPointer: ExchangeSink] = [:]
    private var thread = pthread_t()

    init?(share: CurlShare) {
        guard let multi = curl_multi_init() else { return nil }
        self.multi = multi
        self.share = share
        ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX)
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            let multiplexer = Unmanaged<Multiplexer>.fromOpaque(context!).takeRetainedValue()
            multiplexer.loop()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<Multiplexer>.fromOpaque(context).release()
            curl_multi_cleanup(multi)
            return nil
        }
    }

    /// Ends the thread, and the multi handle with its connections, once the exchanges in progress
    /// are done; waits for that.
    func stop() {
        notify { $0.stopping = true }
        pthread_join(thread, nil)
    }

    /// Like stop, without waiting: the thread ends by itself once its exchanges are done.
    func retire() {
        notify { $0.stopping = true }
        pthread_detach(thread)
    }

    /// Runs the exchange configured on `easy` and returns its result; meanwhile hands the streamed
    /// bytes to `consumer` on this thread. nil when this multi handle has ended (retired) and
    /// took nothing.
    fileprivate func run(_ easy: UnsafeMutableRawPointer, _ sink: ExchangeSink, consumer: Consumer?) -> CURLcode? {
        guard let handOff = sink.handOff else { return CURLE_FAILED_INIT }
        guard submit(.add(easy, sink)) else { return nil }
        guard let consumer else { return handOff.withLock(waitingUntil: { $0.result != nil }) { $0.result! } }
        while true {
            let (chunk, head, resumes, result) = handOff.withLock(waitingUntil: { !$0.pending.isEmpty || $0.result != nil }) { state in
                defer {
                    state.pending = []
                    state.paused = false
                }
                return (state.pending, state.head, state.paused, state.result)
            }
            if !chunk.isEmpty, !sink.consumerStopped {
                sink.consumerStopped = !chunk.withUnsafeBytes { consumer($0, head) }
                if sink.consumerStopped { submit(.cancel(easy)) } else if resumes { submit(.resume(easy)) }
            }
            if let result { return sink.consumerStopped ? CURLE_WRITE_ERROR : result }
        }
    }

    /// Hands an operation to the multi handle's thread; false when it has ended.
    @discardableResult
    private func submit(_ operation: Operation) -> Bool {
        notify { $0.operations.append(operation) }
    }

    /// Changes the requests and wakes the multi handle's thread, unless it has ended (then false).
    /// Under the lock: the thread ends, and frees the multi handle, only after taking it.
    @discardableResult
    private func notify(_ change: (inout (operations: [Operation], stopping: Bool, ended: Bool)) -> Void) -> Bool {
        requests.withLock { state in
            guard !state.ended else { return false }
            change(&state)
            curl_multi_wakeup(multi)
            return true
        }
    }

    private func loop() {
        defer { curl_multi_cleanup(multi) }
        while true {
            let stopping = !applyRequests()
            if stopping && active.isEmpty && hasEnded() { return }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            finishCompleted()
            // An ending multi handle whose last exchange just finished ends now, not after a poll.
            if stopping && active.isEmpty { continue }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    /// Carries out the operations the calling threads asked for; false once stopping.
    private func applyRequests() -> Bool {
        let (operations, stopping) = requests.withLock { state in
            defer { state.operations = [] }
            return (state.operations, state.stopping)
        }
        for operation in operations {
            switch operation {
            case .add(let easy, let sink):
                active[easy] = sink
                if curl_multi_add_handle(multi, easy) != CURLM_OK {
                    active[easy] = nil
                    sink.finish(CURLE_FAILED_INIT)
                }
            case .cancel(let easy):
                guard let sink = active.removeValue(forKey: easy) else { continue }
                curl_multi_remove_handle(multi, easy)
                sink.finish(CURLE_WRITE_ERROR)
            case .resume(let easy):
                if active[easy] != nil { ccurl_easy_unpause(easy) }
            }
        }
        return !stopping
    }

    /// Ends when no operation came in since the last look (under the lock that submit takes).
    private func hasEnded() -> Bool {
        requests.withLock { state in
            state.ended = state.operations.isEmpty
            return state.ended
        }
    }

    private func finishCompleted() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                  let sink = active.removeValue(forKey: easy) else { continue }
            let result = message.pointee.data.result  // the message is gone once the handle is removed
            curl_multi_remove_handle(multi, easy)
            sink.finish(result)
        }
    }
}

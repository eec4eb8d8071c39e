import CCurl
import Glibc

/// One libcurl easy handle. Used by one thread at a time (the pool hands it out).
final class CurlHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer?
    /// libcurl's words for the last failure (CURLOPT_ERRORBUFFER), set again after each reset.
    private let errorText = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// Below this rate, a transfer counts as idle (see HTTPRequest.idleTimeoutMilliseconds).
    static let idleBytesPerSecond = 16

    /// What the last exchange set up, kept for the next one when it is the same: libcurl keeps its
    /// options, and only the URL, the body and the sink are set again (a reset and twenty options
    /// per call cost more than the rest of libcurl's own setup). nil: reset before the next one.
    private var setup: Setup?
    /// Whether `setup` describes the handle: false while an exchange's own options are set (one
    /// that fails meanwhile leaves the handle to be reset).
    private var setupHolds = false
    /// The header lines of `setup`, which libcurl reads during exchanges: freed when replaced or
    /// with the handle.
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// The last exchange's URL, parsed once for the exchanges that repeat it (CURLOPT_CURLU):
    /// given as text, libcurl parses it for every exchange (and before 8.12 writes it back out),
    /// over a tenth of a REST call's instructions. nil before the first exchange, or for a URL
    /// that libcurl's parser refuses (given as text then, for libcurl to refuse as it always has).
    /// (Before 8.12 libcurl's own copy of the URL text keeps the first one given until a reset,
    /// curl #15984: requests go where the parsed URL says, but CURLINFO_EFFECTIVE_URL and
    /// redirects, which the library does not use, would read the stale text.)
    private var parsedURL: (text: String, handle: OpaquePointer)?

    init() { raw = curl_easy_init() }

    deinit {
        curl_easy_cleanup(raw)
        curl_slist_free_all(headerList)
        if let parsedURL { curl_url_cleanup(parsedURL.handle) }
        errorText.deallocate()
    }

    /// Runs the exchange on this thread, or on a multi handle from `multiplexer` (the calling
    /// thread waits for it and runs the consumer).
    func perform(_ request: HTTPRequest, userAgent: String, share: CurlShare, consumer: Consumer?,
                 multiplexer: (() -> Multiplexer?)?) throws -> HTTPResponse {
        // libcurl reads the body from where it is, for the whole exchange.
        guard let body = request.body else {
            return try perform(request, body: .bytes(nil), userAgent: userAgent, share: share, consumer: consumer, multiplexer: multiplexer)
        }
        return try body.withUnsafeBytes { body in
            guard !request.bodyPrefix.isEmpty else {
                return try perform(request, body: .bytes(body), userAgent: userAgent, share: share, consumer: consumer, multiplexer: multiplexer)
            }
            return try request.bodyPrefix.withUnsafeBytes { prefix in
                try perform(request, body: .prefixed(prefix, body), userAgent: userAgent, share: share, consumer: consumer,
                            multiplexer: multiplexer)
            }
        }
    }

    private func perform(_ request: HTTPRequest, body: Body, userAgent: String, share: CurlShare,
                         consumer: Consumer?, multiplexer: (() -> Multiplexer?)?) throws -> HTTPResponse {
        guard let raw else { throw ClarifaiError(.internal, "libcurl could not create a handle") }
        let newSink = {
            ExchangeSink(consumer: consumer, handsOff: multiplexer != nil, maximumBodyBytes: request.maximumBodyBytes,
                         idleLimit: request.idleTimeoutMilliseconds,
                         probesConnectionEnd: request.version != .automatic && HTTPClient.losesTrailersOnClose)
        }
        var sink = newSink()
        try prepare(request, body: body, userAgent: userAgent, share: share, sink: sink, multiplexes: multiplexer != nil)
        let run = {
            guard let multiplexer else {
                let result = curl_easy_perform(raw)
                sink.noteConnectionEnd(raw)
                return result
            }
            // A multi handle that ended before taking the exchange hands it on to the next one.
            while true {
                guard let current = multiplexer() else { return CURLE_FAILED_INIT }
                if let result = current.run(raw, sink, consumer: consumer) { return result }
            }
        }
        // A reused HTTP/2 connection that the server closed as the request went out fails the
        // exchange before any answer: sent again once on a new connection, as libcurl does
        // itself for HTTP/1.1 (the server cannot have answered, and closed instead of reading).
        var code = run()
        if multiplexer != nil, CurlHandle.failedOnReusedConnection(code, raw, sink) {
            Log.debug("\(request.method) \(request.displayURL): a reused connection failed before any answer; sending again")
            sink = newSink()
            try prepare(request, body: body, userAgent: userAgent, share: share, sink: sink, multiplexes: true)
            requireFreshConnection(sink)
            code = run()
        }
        return try outcome(code, of: request, sink)
    }

    /// Where a request's body comes from: bytes that stay in place for the whole exchange (nil:
    /// none), the same after a prefix of their own (see HTTPRequest.bodyPrefix), or a feed the
    /// caller fills as it goes (a stream).
    enum Body {
        case bytes(UnsafeRawBufferPointer?)
        case prefixed(UnsafeRawBufferPointer, UnsafeRawBufferPointer)
        case feed(RequestFeed)
    }

    /// The prefixed body being sent, read by libcurl through the read callback (which starts over
    /// when libcurl rewinds to send it again).
    private var prefixedBody = PrefixedBody()

    private struct PrefixedBody {
        var parts: (prefix: UnsafeRawBufferPointer, bytes: UnsafeRawBufferPointer) = (UnsafeRawBufferPointer(start: nil, count: 0),
                                                                                    UnsafeRawBufferPointer(start: nil, count: 0))
        var sent = 0

        /// Copies the next bytes into `buffer`; the count copied (0 at the end).
        mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
            let fromPrefix = take(parts.prefix, at: 0, into: buffer)
            return fromPrefix + take(parts.bytes, at: parts.prefix.count, into: UnsafeMutableRawBufferPointer(rebasing: buffer[fromPrefix...]))
        }

        /// Copies what is left unsent of `part`, which starts at `start` in the body, into `buffer`,
        /// as much as fits.
        private mutating func take(_ part: UnsafeRawBufferPointer, at start: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
            let offset = sent - start
            guard offset >= 0, offset < part.count, let source = part.baseAddress, let target = buffer.baseAddress else { return 0 }
            let count = min(part.count - offset, buffer.count)
            target.copyMemory(from: source + offset, byteCount: count)
            sent += count
            return count
        }
    }

    /// The options of an exchange that the next one can keep (see `setup`): all but its URL, body
    /// and sink. nil for a body fed as it goes (its callbacks are the feed's).
    private struct Setup {
        let method: String
        let headers: [String]
        let hasBody: Bool
        let userAgent: String
        let share: ObjectIdentifier
        let multiplexes: Bool
        let version: HTTPRequest.Version
        let timeoutMilliseconds: Int
        let idleTimeoutMilliseconds: Int
        let keepaliveMilliseconds: Int
        let caFile: String?

        init?(_ request: HTTPRequest, body: Body, userAgent: String, share: CurlShare, multiplexes: Bool) {
            guard case .bytes(let bytes) = body else { return nil }
            method = request.method
            headers = request.headers
            hasBody = bytes != nil
            self.userAgent = userAgent
            self.share = ObjectIdentifier(share)
            self.multiplexes = multiplexes
            version = request.version
            timeoutMilliseconds = request.timeoutMilliseconds
            idleTimeoutMilliseconds = request.idleTimeoutMilliseconds
            keepaliveMilliseconds = request.keepaliveMilliseconds
            caFile = request.caFile
        }

        /// Whether an exchange of `request` would set the same options (compared in place, not by
        /// making its Setup: most exchanges keep the last one's).
        func matches(_ request: HTTPRequest, body: Body, userAgent: String, share: CurlShare, multiplexes: Bool) -> Bool {
            guard case .bytes(let bytes) = body else { return false }
            return method == request.method && headers == request.headers && hasBody == (bytes != nil)
                && self.userAgent == userAgent && self.share == ObjectIdentifier(share) && self.multiplexes == multiplexes
                && version == request.version && timeoutMilliseconds == request.timeoutMilliseconds
                && idleTimeoutMilliseconds == request.idleTimeoutMilliseconds
                && keepaliveMilliseconds == request.keepaliveMilliseconds && caFile == request.caFile
        }
    }

    /// Sets the handle up for `request`, its callbacks writing to `sink`: the options of the last
    /// exchange kept when they are the same, else all of them set again after a reset.
    func prepare(_ request: HTTPRequest, body: Body, userAgent: String, share: CurlShare, sink: ExchangeSink,
                 multiplexes: Bool) throws {
        guard let raw else { throw ClarifaiError(.internal, "libcurl could not create a handle") }
        if !setupHolds || setup?.matches(request, body: body, userAgent: userAgent, share: share, multiplexes: multiplexes) != true {
            configure(raw, request, userAgent: userAgent, share: share, multiplexes: multiplexes)
            setup = Setup(request, body: body, userAgent: userAgent, share: share, multiplexes: multiplexes)
        }
        // Kept again only once the exchange's own options are all set.
        setupHolds = false
        errorText[0] = 0
        // libcurl refuses URLs over 8 MB (as "out of memory"); say what was wrong instead.
        guard setURL(raw, request.url) == CURLE_OK else {
            throw ClarifaiError.invalidArgument("the request's URL (\(request.url.utf8.count) bytes) is refused by libcurl: too long or malformed")
        }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        sink.sharesCleartextConnectionByHand = request.sharesCleartextConnectionByHand
        sink.timeoutMilliseconds = request.timeoutMilliseconds
        ccurl_setopt_pointer(raw, CURLOPT_WRITEDATA, context)
        ccurl_setopt_pointer(raw, CURLOPT_HEADERDATA, context)
        ccurl_setopt_pointer(raw, CURLOPT_XFERINFODATA, context)
        switch body {
        case .feed(let feed):
            // The body goes out as the caller sends it: its size is not known in advance.
            ccurl_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, -1)
            ccurl_setopt_pointer(raw, CURLOPT_READDATA, Unmanaged.passUnretained(feed).toOpaque())
            ccurl_setopt_read_callback(raw) { buffer, size, count, context in
                guard let buffer, let context else { return ccurl_read_abort() }
                let feed = Unmanaged<RequestFeed>.fromOpaque(context).takeUnretainedValue()
                return feed.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count)) ?? ccurl_read_pause()
            }
        case .bytes(let bytes?):
            ccurl_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
            if let start = bytes.baseAddress {
                ccurl_setopt_pointer(raw, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: start))
            } else {
                // Without POSTFIELDS libcurl would read the body from stdin.
                ccurl_setopt_string(raw, CURLOPT_COPYPOSTFIELDS, "")
            }
        case .bytes(nil):
            break
        case .prefixed(let prefix, let bytes):
            prefixedBody = PrefixedBody(parts: (prefix, bytes), sent: 0)
            ccurl_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(prefix.count + bytes.count))
            let context = Unmanaged.passUnretained(self).toOpaque()
            ccurl_setopt_pointer(raw, CURLOPT_READDATA, context)
            ccurl_setopt_read_callback(raw) { buffer, size, count, context in
                guard let buffer, let context else { return ccurl_read_abort() }
                let handle = Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue()
                return handle.prefixedBody.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
            }
            // Every attempt starts from the body's start: libcurl 8 rewinds a body it sends again (a
            // refused HTTP/2 stream, a reused connection that died) through the seek callback;
            // 7.88 retries on a new connection without rewinding when no byte was counted as
            // sent, though its upload buffer read some: the prerequest callback, called before
            // each attempt's request, starts it over there.
            ccurl_setopt_pointer(raw, CURLOPT_SEEKDATA, context)
            ccurl_setopt_seek_callback(raw) { context, offset, origin in
                guard let context, origin == SEEK_SET, offset == 0 else { return CURL_SEEKFUNC_CANTSEEK }
                Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue().prefixedBody.sent = 0
                return CURL_SEEKFUNC_OK
            }
            ccurl_setopt_pointer(raw, CURLOPT_PREREQDATA, context)
            ccurl_setopt_prereq_callback(raw) { context, _, _, _, _ in
                if let context { Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue().prefixedBody.sent = 0 }
                return CURL_PREREQFUNC_OK
            }
        }
        setupHolds = setup != nil
    }

    /// Gives libcurl `url` parsed (see parsedURL), or as text when its parser refuses it.
    private func setURL(_ raw: UnsafeMutableRawPointer, _ url: String) -> CURLcode {
        if parsedURL?.text.hasSameBytes(as: url) != true {
            // The handle holds the old parse until the option is set again, below.
            if let parsedURL { curl_url_cleanup(parsedURL.handle) }
            parsedURL = CurlHandle.parse(url).map { (url, $0) }
        }
        if let parsedURL { return ccurl_setopt_pointer(raw, CURLOPT_CURLU, UnsafeMutableRawPointer(parsedURL.handle)) }
        ccurl_setopt_pointer(raw, CURLOPT_CURLU, nil)
        return setString(raw, CURLOPT_URL, url)
    }

    /// `url` parsed as libcurl parses CURLOPT_URL (CURLOPT_PATH_AS_IS set: see configure); nil
    /// when it refuses it.
    private static func parse(_ url: String) -> OpaquePointer? {
        guard let handle = curl_url() else { return nil }
        let flags = UInt32(CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS)
        guard url.withCString({ curl_url_set(handle, CURLUPART_URL, $0, flags) }) == CURLUE_OK else {
            curl_url_cleanup(handle)
            return nil
        }
        return handle
    }

    /// The exchange prepared last, writing to `sink`, goes out on a new connection (the next one is
    /// set up afresh).
    func requireFreshConnection(_ sink: ExchangeSink) {
        ccurl_setopt_long(raw, CURLOPT_FRESH_CONNECT, 1)
        sink.requiresNewConnection = true
        setupHolds = false
    }

    /// Every option of an exchange but its URL, body and sink, after a reset.
    private func configure(_ raw: UnsafeMutableRawPointer, _ request: HTTPRequest, userAgent: String, share: CurlShare,
                           multiplexes: Bool) {
        curl_easy_reset(raw)
        ccurl_setopt_pointer(raw, CURLOPT_ERRORBUFFER, errorText)
        curl_slist_free_all(headerList)
        headerList = nil
        for header in request.headers { headerList = header.withCString { curl_slist_append(headerList, $0) } }
        ccurl_setopt_long(raw, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(raw, CURLOPT_PATH_AS_IS, 1)
        // TCP keepalive probes after a minute of silence, so that a NAT or load balancer keeps a
        // quiet stream's connection (libcurl before 8.10 sends no HTTP/2 PING on its own).
        ccurl_setopt_long(raw, CURLOPT_TCP_KEEPALIVE, 1)
        // (Linux takes at most 32,767 s: a longer interval would leave the probes at their default.)
        let keepaliveSeconds = request.keepaliveMilliseconds > 0 ? min(max(1, request.keepaliveMilliseconds / 1000), 32_767) : 0
        ccurl_setopt_long(raw, CURLOPT_TCP_KEEPIDLE, keepaliveSeconds > 0 ? keepaliveSeconds : 60)
        ccurl_setopt_long(raw, CURLOPT_TCP_KEEPINTVL, keepaliveSeconds > 0 ? keepaliveSeconds : 30)
        // An HTTP/2 PING this often, sent by the multi handle's loop (Multiplexer.keepAlive).
        if request.keepaliveMilliseconds > 0 { ccurl_setopt_long(raw, CURLOPT_UPKEEP_INTERVAL_MS, request.keepaliveMilliseconds) }
        ccurl_setopt_opensocket(raw, ForkSafety.openSocket)
        ccurl_setopt_closesocket(raw, ForkSafety.closeSocket)
        ccurl_setopt_share(raw, share.raw)
        // A second stream waits for the connection being set up rather than opening another.
        if multiplexes && !(request.version == .http2PriorKnowledge && HTTPClient.waitsOnUnansweredCleartextConnections) {
            ccurl_setopt_long(raw, CURLOPT_PIPEWAIT, 1)
        }
        setString(raw, CURLOPT_USERAGENT, userAgent)
        ccurl_setopt_slist(raw, CURLOPT_HTTPHEADER, headerList)
        ccurl_setopt_long(raw, CURLOPT_TIMEOUT_MS, request.timeoutMilliseconds)
        ccurl_setopt_long(raw, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeoutMilliseconds)
        if request.idleTimeoutMilliseconds > 0 {
            // Not CURLOPT_LOW_SPEED_*: libcurl's speed is an average over 5 s that includes the upload.
            ccurl_setopt_long(raw, CURLOPT_NOPROGRESS, 0)
            ccurl_setopt_xferinfo(raw) { context, downloaded, _, uploaded, _ in
                guard let context else { return 0 }
                return ExchangeSink.of(context) { $0.progress(total: downloaded + uploaded) } ? 0 : 1
            }
        }
        if let caFile = request.caFile { setString(raw, CURLOPT_CAINFO, caFile) }
        switch request.version {
        case .automatic:
            // The one encoding the API uses: each one offered is one more decoder a server can aim a bomb at.
            ccurl_setopt_string(raw, CURLOPT_ACCEPT_ENCODING, "gzip")
        case .http2OverTLS:
            ccurl_setopt_long(raw, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        case .http2PriorKnowledge:
            ccurl_setopt_long(raw, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
            // Through an HTTP proxy, h2c needs a tunnel: a proxy would take prior knowledge for HTTP/0.9.
            ccurl_setopt_long(raw, CURLOPT_HTTPPROXYTUNNEL, 1)
        }
        if request.version != .automatic { ccurl_setopt_long(raw, CURLOPT_BUFFERSIZE, HTTPClient.http2ReceiveBufferSize) }
        if request.closesConnection {
            ccurl_setopt_long(raw, CURLOPT_FRESH_CONNECT, 1)
            ccurl_setopt_long(raw, CURLOPT_FORBID_REUSE, 1)
        }
        ccurl_setopt_write_callback(raw, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            switch ExchangeSink.of(context, { $0.receive(UnsafeRawBufferPointer(start: data, count: size * count)) }) {
            case .accepted: return size * count
            case .stop: return 0
            case .pause: return ccurl_write_pause()
            }
        }
        ccurl_setopt_write_callback(raw, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            ExchangeSink.of(context) { $0.receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count)) }
            return size * count
        }
        switch request.method {
        case "GET": ccurl_setopt_long(raw, CURLOPT_HTTPGET, 1)
        case "POST": ccurl_setopt_long(raw, CURLOPT_POST, 1)
        default: setString(raw, CURLOPT_CUSTOMREQUEST, request.method)
        }
    }

    /// A string option, passed as the string's own NUL-terminated bytes (libcurl copies them):
    /// a String given where C wants a pointer is copied into a new array first.
    @discardableResult
    private func setString(_ raw: UnsafeMutableRawPointer, _ option: CURLoption, _ value: String) -> CURLcode {
        value.withCString { ccurl_setopt_string(raw, option, $0) }
    }

    /// The answer of a finished exchange, or the error that `code` (libcurl's result) and the
    /// sink tell.
    func outcome(_ code: CURLcode, of request: HTTPRequest, _ sink: ExchangeSink) throws -> HTTPResponse {
        guard let raw else { throw ClarifaiError(.internal, "libcurl could not create a handle") }
        // "VERB URL", the start of a failure's message.
        var exchange: String { "\(request.method) \(request.displayURL)" }
        // (libcurl 7.88 then ends the exchange with CURLE_GOT_NOTHING, as if nothing had come.)
        if sink.lostAnswerHead {
            throw ClarifaiError(.transport, "\(exchange): the answer was lost: only its trailers arrived. The server ended the "
                                + "stream while the request was still open (HTTP/2 RST_STREAM), and libcurl "
                                + "\(LibraryVersion.libcurl) drops what arrives with that end (libcurl 8.1 and later keep it)")
        }
        // A server may end its complete answer with RST_STREAM(NO_ERROR) while the request still
        // goes out (RFC 9113, 8.1): the answer stands; libcurl 8.x calls that a reset.
        let completed = code == CURLE_OK || (code == CURLE_HTTP2_STREAM && sink.receivedTrailers)
        guard completed else {
            if sink.consumerStopped { throw ClarifaiError(.cancelled, "\(exchange): cancelled by the caller") }
            if sink.overflowed {
                throw ClarifaiError(.protocol, "\(exchange): "
                                    + (request.messageLimit.map { "the answer's message is over the \($0)-byte limit (the channel's receive limit)" }
                                        ?? "the answer is larger than the receive limit of \(request.maximumBodyBytes) bytes"))
            }
            let detail = String(cString: errorText)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            var status = 0
            ccurl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &status)
            // libcurl 7.88 says only this when a GOAWAY refused the stream: the server never saw
            // the request, so sending it again is safe whatever the method.
            if code == CURLE_HTTP2 && detail.isEmpty && status == 0 {
                throw ClarifaiError(.transport, "\(exchange): the server refused the request before processing it "
                                    + "(HTTP/2 GOAWAY: \(reason))", transient: true)
            }
            if sink.idled {
                throw ClarifaiError(.timeout, "\(exchange): idle for \(request.idleTimeoutMilliseconds) ms (the server sent nothing, "
                                    + "or almost nothing: under \(CurlHandle.idleBytesPerSecond) bytes/s)")
            }
            if code == CURLE_OPERATION_TIMEDOUT {
                // The connect timeout, when shorter than the deadline, ends the wait for a
                // connection, free or new, before the deadline does.
                var elapsedMicroseconds: curl_off_t = 0
                ccurl_getinfo_off(raw, CURLINFO_TOTAL_TIME_T, &elapsedMicroseconds)
                let deadline = request.timeoutMilliseconds
                let waitedForConnection = deadline == 0
                    || (request.connectTimeoutMilliseconds < deadline && Int(elapsedMicroseconds / 1000) < deadline)
                let limit = waitedForConnection ? "no connection within \(request.connectTimeoutMilliseconds) ms"
                    : "deadline of \(deadline) ms passed"
                throw ClarifaiError(.timeout, "\(exchange): \(limit) (\(reason))")
            }
            // Nothing was sent when the connection could not be made: safe to try again.
            let explained = CurlHandle.likelyCause(of: reason, request.version).map { "\($0) (\(reason))" } ?? reason
            throw ClarifaiError(.transport, "\(exchange): \(explained)", transient: code == CURLE_COULDNT_CONNECT)
        }
        var status = 0
        ccurl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &status)
        var version = 0
        ccurl_getinfo_long(raw, CURLINFO_HTTP_VERSION, &version)
        return HTTPResponse(status: status, contentType: sink.head.contentType, messageEncoding: sink.head.messageEncoding, body: sink.body,
                            answerFields: AnswerFields(lines: sink.headerLines), majorVersion: version == CURL_HTTP_VERSION_2_0 ? 2 : 1,
                            connectionClosed: request.closesConnection || sink.connectionClosed)
    }

    /// What libcurl's words for a server speaking another protocol probably mean, for a channel
    /// pointed at the wrong port: nil when they are not such words.
    static func likelyCause(of reason: String, _ version: HTTPRequest.Version) -> String? {
        if reason.contains("wrong version number") {
            return version == .automatic ? "the server did not answer in TLS: is this a cleartext (http://) port?"
                : "the server did not answer in TLS: is this a cleartext port (clarifai_channel_new_grpc_insecure)?"
        }
        if reason.contains("Received HTTP/0.9") {
            return version == .automatic ? "the server did not answer in HTTP/1.1: is this a gRPC port (clarifai_channel_new_grpc)?"
                : "the server did not answer in HTTP/2: is this a REST port (clarifai_channel_new_json)?"
        }
        // (A server that closes on the first bytes it cannot parse may do so while the request still goes out.)
        if reason.contains("Empty reply from server") || reason.contains("Send failure: Broken pipe") {
            return "the server closed the connection without answering: the wrong port or protocol"
                + (version == .automatic ? " (a gRPC or a TLS port?)" : " (a REST or a TLS port?)") + ", or the server went away"
        }
        return nil
    }

    /// Whether an exchange failed before any answer on a connection made before it: the server
    /// closed the connection as the request went out, and cannot have carried it out.
    static func failedOnReusedConnection(_ code: CURLcode, _ easy: UnsafeMutableRawPointer, _ sink: ExchangeSink) -> Bool {
        code != CURLE_OK && code != CURLE_OPERATION_TIMEDOUT && !sink.consumerStopped && sink.headerLines.isEmpty
            && reusedConnection(easy)
    }

    /// Whether the last exchange ran on a connection made before it (libcurl opened none).
    static func reusedConnection(_ easy: UnsafeMutableRawPointer) -> Bool {
        var connects = 0
        return ccurl_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects == 0
    }

    /// Whether the connection of a finished exchange is gone: libcurl no longer holds its
    /// socket, or the server has closed it (orderly, as a read of 0 bytes tells).
    static func connectionClosed(_ easy: UnsafeMutableRawPointer) -> Bool {
        var socket: curl_socket_t = -1
        guard ccurl_getinfo_socket(easy, CURLINFO_ACTIVESOCKET, &socket) == CURLE_OK else { return false }
        var byte: UInt8 = 0
        return socket == -1 || recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }
}

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
    /// Sent before `body` (a gRPC frame's header), which then goes out from where it is instead of
    /// being copied behind it first.
    var bodyPrefix: [UInt8] = []
    /// The whole exchange's deadline; 0 means none.
    var timeoutMilliseconds: Int
    /// The exchange fails when for this long almost nothing moves (a silent or trickling server);
    /// 0 means no such limit.
    var idleTimeoutMilliseconds = 0
    /// How often a stream's connection is kept alive while the stream is open (HTTP/2 PING where
    /// libcurl sends them, TCP keepalive probes); 0: the defaults (TCP probes after a minute).
    var keepaliveMilliseconds = 0
    /// The largest answer body accepted (after content decoding).
    var maximumBodyBytes = HTTPClient.defaultMaximumBodyBytes
    /// gRPC: the receive limit of one message (maximumBodyBytes adds its frame's prefix), which the
    /// error of an answer over it names; nil: the error names maximumBodyBytes.
    var messageLimit: Int?
    var caFile: String?
    var version: Version = .automatic
    /// A stream: its consumer may be slow, and may take any time.
    var isStream = false
    /// How many multi handles, each with its own HTTP/2 connection, multiplexed exchanges are
    /// spread over; HTTPClient.automaticConnections: as many as calls at once need (see
    /// HTTPClient.multiplexer(spreadOver:forCaller:)).
    var connections = HTTPClient.automaticConnections

    /// How long the exchange may wait for a connection, free or new.
    var connectTimeoutMilliseconds: Int { HTTPRequest.connectTimeout(within: timeoutMilliseconds) }

    /// How long connecting may take within a deadline of `timeoutMilliseconds` (0: none).
    static func connectTimeout(within timeoutMilliseconds: Int) -> Int {
        timeoutMilliseconds > 0 ? min(timeoutMilliseconds, HTTPClient.connectTimeoutMilliseconds) : HTTPClient.connectTimeoutMilliseconds
    }

    /// The URL as messages show it: without the user and password it may carry.
    var displayURL: String { HTTPRequest.displayed(url) }

    /// `url` as messages show it (see displayURL).
    static func displayed(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://")?.upperBound else { return url }
        let authorityEnd = url[schemeEnd...].firstIndex(of: "/") ?? url.endIndex
        guard let at = url[schemeEnd..<authorityEnd].lastIndex(of: "@") else { return url }
        return url[..<schemeEnd] + Redaction.replacement + url[at...]
    }

    /// HTTP/2 exchanges that keep their connection run on the client's multi handle, which
    /// multiplexes concurrent ones as streams of one connection; not streams where libcurl cannot
    /// pause one stream alone (a slow consumer's bytes would pile up): those run on the calling
    /// thread, whose consumer then holds back the connection itself.
    var multiplexes: Bool {
        version != .automatic && (!isStream || HTTPClient.pausesStreamsAlone)
    }

    /// Cleartext HTTP/2 on a multi handle where libcurl cannot reuse a connection by itself
    /// (before 8.0, see HTTPClient.reusesCleartextHTTP2): the multi handle chooses each exchange's
    /// connection (Multiplexer.chooseCleartextConnection).
    var sharesCleartextConnectionByHand: Bool { multiplexes && cleartextReuseBreaks }

    /// Cleartext HTTP/2 off a multi handle where libcurl cannot reuse a connection by itself: the
    /// exchange opens a connection of its own and closes it after.
    var closesConnection: Bool { !multiplexes && cleartextReuseBreaks }

    private var cleartextReuseBreaks: Bool { version == .http2PriorKnowledge && !HTTPClient.reusesCleartextHTTP2 }
}

struct HTTPResponse {
    let status: Int
    let contentType: String
    /// grpc-encoding: how the messages of a gRPC answer are compressed ("" when not said).
    let messageEncoding: String
    /// The body, unless the request streamed it to a consumer.
    let body: [UInt8]
    /// Header and trailer fields.
    let answerFields: AnswerFields
    /// 2 for HTTP/2, 1 for HTTP/1.x.
    let majorVersion: Int
    /// The connection was closed when the exchange ended (by the server, or by a request that
    /// forbids reuse).
    let connectionClosed: Bool

    func field(_ name: String) -> String? { answerFields.field(name) }

    /// Another attempt may get through: 429 (throttled), 502 and 503 (a gateway could not reach
    /// the server, which never took the request), 504 only when repeating the request is harmless
    /// (the server may have carried it out before the gateway gave up).
    func isTransientFailure(idempotent: Bool) -> Bool {
        status == 429 || status == 502 || status == 503 || (status == 504 && idempotent)
    }
}

/// Runs HTTP exchanges on libcurl easy handles kept in a pool: a handle keeps its connection
/// between calls, so sequential calls reuse connections; DNS answers and TLS sessions are shared
/// by all handles of the client. HTTP/2 exchanges go through a multi handle instead (or a few,
/// taken in turn, as the request asks), so that concurrent calls from many threads become streams
/// of one connection (of each). Thread-safe, and safe across fork(): a child's exchanges start
/// afresh (ForkSafety).
final class HTTPClient: @unchecked Sendable {
    /// The official clients' limit for an answer.
    static let defaultMaximumBodyBytes = 1 << 30
    /// Connecting gets at most this long, whatever the call's deadline.
    static let connectTimeoutMilliseconds = 10_000
    /// libcurl's receive buffer for HTTP/2: with its 16 kB default, libcurl 7.88 stalls answers
    /// larger than that for 200 ms to 1 s each (measured by make bench).
    static let http2ReceiveBufferSize = 512 * 1024

    /// The libcurl state of one process: a forked child replaces its parent's (ForkSafety).
    struct Connections {
        var idleHandles: [CurlHandle] = []
        let share = CurlShare()
        /// The multi handles of multiplexed exchanges (each started by the first exchange given
        /// to it), with how many exchanges each took, and the one whose turn is next.
        var multiplexers: [(multiplexer: Multiplexer, exchanges: Int)?] = []
        var nextMultiplexer = 0
    }

    let connections = Locked(Connections())
    let userAgent: String

    /// Exchanges a multi handle takes before a new one (with new connections, resuming their TLS
    /// sessions) takes over and it ends once its own are done, where libcurl ends every finished
    /// HTTP/2 stream with an RST_STREAM (before 8.0): servers guarding against "rapid reset"
    /// attacks close a connection that sent too many (nghttp2's default: 1,000, then 33 per
    /// second), failing the calls in flight on it. Later libcurl keeps its connection until the
    /// server sends GOAWAY.
    static let exchangesPerMultiplexer = ccurl_version_info().pointee.version_num < 0x08_00_00 ? 500 : Int.max

    init(userAgent: String) {
        _ = CurlGlobal.initialized
        self.userAgent = userAgent
        ForkSafety.register(self)
    }

    deinit {
        ForkSafety.unregister(self)
        let multiplexers = connections.withLock { state in
            defer { state.multiplexers = [] }
            return state.multiplexers
        }
        multiplexers.forEach { $0?.multiplexer.stop() }
        // The handles go before the share they use.
        connections.withLock { $0.idleHandles.removeAll() }
    }

    /// Runs one exchange. With `consumer`, body bytes go to it as they arrive, with the response's
    /// status and content type, instead of being buffered; the consumer returns false to abort the
    /// exchange (which then throws .cancelled). The consumer runs on the calling thread.
    func perform(_ request: HTTPRequest, consumer: Consumer? = nil) throws -> HTTPResponse {
        let handle = takeHandle()
        let share = connections.withLock { $0.share }
        let multiplexer = request.multiplexes ? { self.multiplexer(spreadOver: request.connections, forCaller: true) } : nil
        let response = try handle.perform(request, userAgent: userAgent, share: share, consumer: consumer, multiplexer: multiplexer)
        // A handle goes back to the pool only after a clean exchange.
        returnHandle(handle)
        return response
    }

    /// An easy handle from the pool, or a new one.
    func takeHandle() -> CurlHandle { connections.withLock { $0.idleHandles.popLast() } ?? CurlHandle() }

    /// Puts a handle back in the pool, which keeps a few (each holds a receive buffer).
    func returnHandle(_ handle: CurlHandle) {
        connections.withLock { state in
            if state.idleHandles.count < HTTPClient.idleHandleLimit { state.idleHandles.append(handle) }
        }
    }

    /// Idle handles kept at most: as many as threads usually call at once, not as many as
    /// asynchronous calls were in flight.
    static let idleHandleLimit = 64

    /// HTTPRequest.connections for connections opened as calls need them: a blocking call that
    /// finds every connection busy opens another, up to `mostAutomaticConnections`.
    static let automaticConnections = 0
    /// One connection is driven by one thread at a time: beyond the number of cores, more let
    /// threads calling at once drive their own instead of waiting for another's turn to end
    /// (8 threads on 2 cores: 7.0-7.2k calls/s with up to 8, 6.2-6.5k with up to 4, 5.2-5.5k
    /// over one; make bench's thread scaling in RESULTS.md).
    static let mostAutomaticConnections = 8

    /// The multi handle for the next exchange (a stream's, for as long as it lasts), each with its
    /// connection. One connection is driven by one thread at a time (its TLS and HTTP/2 work):
    /// several let as many threads work at once. `count` of them taken in turn; or, for
    /// `automaticConnections`, the first without exchanges in progress, else (for a blocking call
    /// of a thread, `forCaller`) a new one while fewer than `mostAutomaticConnections` are open,
    /// else the one with the fewest. A multi handle past `exchangesPerMultiplexer` is replaced.
    /// nil when libcurl cannot start one.
    func multiplexer(spreadOver count: Int, forCaller: Bool) -> Multiplexer? {
        connections.withLock { state in
            let most = count == HTTPClient.automaticConnections ? HTTPClient.mostAutomaticConnections : count
            if state.multiplexers.count > most || (count != HTTPClient.automaticConnections && state.multiplexers.count != count) {
                // A changed setting: the multi handles past the new count end once their exchanges are done.
                state.multiplexers.dropFirst(most).forEach { $0?.multiplexer.retire() }
                state.multiplexers = Array(state.multiplexers.prefix(most))
                    + Array(repeating: nil, count: max(0, count - state.multiplexers.count))
            }
            let slot: Int
            if count == HTTPClient.automaticConnections {
                slot = HTTPClient.leastBusy(state.multiplexers, opensAnother: forCaller && state.multiplexers.count < most)
                if slot == state.multiplexers.count { state.multiplexers.append(nil) }
            } else {
                slot = state.nextMultiplexer % count
                state.nextMultiplexer = (slot + 1) % count
            }
            if let (current, exchanges) = state.multiplexers[slot], exchanges < HTTPClient.exchangesPerMultiplexer {
                state.multiplexers[slot] = (current, exchanges + 1)
                return current
            }
            guard let started = Multiplexer(share: state.share) else { return nil }
            state.multiplexers[slot]?.multiplexer.retire()
            state.multiplexers[slot] = (started, 1)
            return started
        }
    }

    /// The slot of the first multi handle without exchanges in progress (one to be started or
    /// replaced counts as such), else a new slot past the end when `opensAnother`, else the slot
    /// of the one with the fewest.
    private static func leastBusy(_ multiplexers: [(multiplexer: Multiplexer, exchanges: Int)?], opensAnother: Bool) -> Int {
        var fewest: (slot: Int, load: Int)?
        for (slot, entry) in multiplexers.enumerated() {
            guard let entry, entry.exchanges < exchangesPerMultiplexer else { return slot }
            let load = entry.multiplexer.exchangesInProgress
            if load == 0 { return slot }
            if load < fewest?.load ?? .max { fewest = (slot, load) }
        }
        guard let fewest, !opensAnother else { return multiplexers.count }
        return fewest.slot
    }

    /// libcurl before 8.0 breaks a cleartext HTTP/2 (h2c) connection that an exchange with prior
    /// knowledge reuses (curl issue #10634).
    static let reusesCleartextHTTP2: Bool = ccurl_version_info().pointee.version_num >= 0x08_00_00

    /// libcurl 8.13 to 8.16 make an exchange that waits for a multiplexed connection
    /// (CURLOPT_PIPEWAIT) wait for any cleartext HTTP/2 connection that has yet to carry an
    /// answer, which one whose first exchange got none (deadline passed, cancelled) never does:
    /// every later exchange then waits out its connect timeout (curl #18177, fixed in 8.17).
    /// There, concurrent first exchanges open connections of their own instead.
    static let waitsOnUnansweredCleartextConnections: Bool =
        (0x08_0D_00..<0x08_11_00).contains(ccurl_version_info().pointee.version_num)

    /// libcurl before 8.1 drops the trailers of an HTTP/2 stream when the server closes the
    /// connection right after them, or sends GOAWAY, and still reports success (curl PRs #10715,
    /// #10771).
    static let losesTrailersOnClose: Bool = ccurl_version_info().pointee.version_num < 0x08_01_00

    /// libcurl before 8.1 holds the RST_STREAM of a cancelled HTTP/2 stream until its connection
    /// next sends something (Multiplexer.flushConnections).
    static let sendsResetsOfCancelledStreams: Bool = ccurl_version_info().pointee.version_num >= 0x08_01_00

    /// libcurl before 8.10 queues the PING of curl_easy_upkeep and never sends it (and does
    /// nothing for a handle in a multi handle).
    static let sendsKeepalivePings: Bool = ccurl_version_info().pointee.version_num >= 0x08_0A_00

    /// libcurl before 8.1 can leave an HTTP/2 connection, with all its streams, stuck after a
    /// stream was paused and resumed (curl #10988), and buffers a paused stream's bytes without
    /// limit (curl #4939).
    static let pausesStreamsAlone: Bool = ccurl_version_info().pointee.version_num >= 0x08_01_00
}

/// curl_global_init must run once before any other libcurl call.
enum CurlGlobal {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}

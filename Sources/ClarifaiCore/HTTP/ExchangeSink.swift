import CCurl
import Glibc

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
final class ExchangeSink: @unchecked Sendable {
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
        /// The caller cancelled a stream: a write callback waiting for room stops waiting.
        var cancelled = false
    }

    var body: [UInt8] = []
    /// The header and trailer lines as they came (AnswerFields reads them when asked).
    private(set) var headerLines: [UInt8] = []
    var head = ResponseHead()
    var overflowed = false
    var consumerStopped = false
    /// Whether the connection was gone when an exchange without trailers ended (read on the multi
    /// handle's thread before it lets go of the easy handle).
    var connectionClosed = false
    /// Header lines arrived after body bytes: HTTP trailers.
    private(set) var receivedTrailers = false
    /// Trailers arrived without the answer's head before them. libcurl before 8.1 drops the head
    /// and body bytes of an HTTP/2 stream that it reads in the same pass as the server's
    /// RST_STREAM, and delivers only the trailers. A server that ends a stream while the request
    /// is still open sends RST_STREAM (NO_ERROR) right after its trailers (RFC 9113, 8.1; gRPC
    /// servers do), so a stream's last messages, or all of its answer, are lost when they arrive
    /// with them (a slow client, or a server that writes them at once). Only the loss of all of it
    /// can be told: the exchange then fails rather than end as if nothing had come.
    private(set) var lostAnswerHead = false
    private var receivedBody = false
    /// The idle limit (HTTPRequest.idleTimeoutMilliseconds): when the transfer last moved
    /// `CurlHandle.idleBytesPerSecond` bytes, and its total then; nil until libcurl first reports
    /// progress (an exchange may wait in the multi handle for a connection before that).
    private let idleLimit: Double
    private var lastMove: (time: Double, total: Int)?
    private(set) var idled = false
    /// Whether an end without trailers is worth a look at the connection (see noteConnectionEnd).
    private let probesConnectionEnd: Bool
    /// The consumer, when the callbacks run on the calling thread.
    private let consumer: Consumer?
    /// Set when the callbacks run on the multi handle's thread: the calling thread waits here for
    /// the end, and takes streamed bytes from here to run the consumer itself (the sink may
    /// outlive the exchange on that thread for a moment, so it holds no consumer).
    let handOff: Locked<HandOff>?
    /// Whether body bytes go through `handOff` (rather than into `body`).
    private let handsBytesOver: Bool
    /// The most body bytes held at once (`overflowed` past it).
    private let maximumBodyBytes: Int
    /// For a stream the caller pulls (HTTPStream) on a multi handle of its own: where a pause
    /// would hold back more than this stream (libcurl before 8.1), the write callback waits for
    /// room instead, until `roomDeadline` (nil: none).
    private let waitsForRoom: Bool
    private let roomDeadline: Double?
    /// The request body of a stream, ended with the exchange.
    let feed: RequestFeed?
    /// The exchange's connection gets HTTP/2 PINGs while it lasts (Multiplexer.keepAlive).
    let keepsAlive: Bool
    /// Its place in the multi handle's list of exchanges in progress (-1: none); the driver's.
    var activeSlot = -1
    /// The multi handle chooses the exchange's connection (Multiplexer.chooseCleartextConnection).
    var sharesCleartextConnectionByHand = false
    /// The exchange may only take a connection already open (or being opened); the driver's.
    var mayOnlyReuse = false
    /// The exchange goes out on a new connection (a resend after a reused one failed, or after a
    /// refused socket).
    var requiresNewConnection = false
    /// libcurl found no connection to take and was refused a new one: nothing was sent.
    var refusedNewConnection = false
    /// The request's deadline (milliseconds, 0: none), and its end (monotonicMilliseconds()) once
    /// the multi handle took the exchange: one added again after a refused socket gets what is
    /// left of it, not a new one.
    var timeoutMilliseconds = 0
    var deadline: Double?
    /// Told the result when the exchange ends, on the multi handle's thread (AsyncExchange); set
    /// before the exchange starts, dropped once it ran.
    var onFinish: ((CURLcode) -> Void)?

    init(consumer: Consumer?, handsOff: Bool, maximumBodyBytes: Int, idleLimit: Int, probesConnectionEnd: Bool) {
        self.probesConnectionEnd = probesConnectionEnd
        self.maximumBodyBytes = maximumBodyBytes
        self.idleLimit = Double(idleLimit)
        self.consumer = handsOff ? nil : consumer
        handOff = handsOff ? Locked(HandOff()) : nil
        handsBytesOver = handsOff && consumer != nil
        waitsForRoom = false
        roomDeadline = nil
        feed = nil
        keepsAlive = false
    }

    /// The sink of a stream whose answer the caller pulls from `handOff`, and whose request body
    /// comes from `feed`.
    init(pulledUntil deadline: Double?, feed: RequestFeed, maximumBodyBytes: Int, probesConnectionEnd: Bool, keepsAlive: Bool) {
        self.keepsAlive = keepsAlive
        self.probesConnectionEnd = probesConnectionEnd
        self.maximumBodyBytes = maximumBodyBytes
        idleLimit = 0
        consumer = nil
        handOff = Locked(HandOff())
        handsBytesOver = true
        waitsForRoom = !HTTPClient.pausesStreamsAlone
        roomDeadline = deadline
        self.feed = feed
    }

    /// `body` run on the sink a libcurl callback's context points to, without retaining it (a
    /// retain and a release per callback, a dozen callbacks per call): the exchange holds the sink
    /// for as long as libcurl may call.
    @inline(__always)
    static func of<T>(_ context: UnsafeMutableRawPointer, _ body: (ExchangeSink) -> T) -> T {
        Unmanaged<ExchangeSink>.fromOpaque(context)._withUnsafeGuaranteedRef(body)
    }

    /// Body bytes.
    func receive(_ data: UnsafeRawBufferPointer) -> Verdict {
        receivedBody = true
        if let consumer {
            consumerStopped = !consumer(data, head)
            return consumerStopped ? .stop : .accepted
        }
        if handsBytesOver, let handOff {
            let head = head
            if waitsForRoom {
                // This thread drives only this stream: waiting here holds back its connection alone.
                let hasRoom = handOff.withLock(waitingUntil: { $0.pending.count < ExchangeSink.maximumPendingBytes || $0.cancelled },
                                               deadline: roomDeadline) { $0.pending.count < ExchangeSink.maximumPendingBytes && !$0.cancelled }
                guard hasRoom else { return .stop }
            }
            return handOff.update { state in
                if state.pending.count >= ExchangeSink.maximumPendingBytes && HTTPClient.pausesStreamsAlone {
                    state.paused = true
                    return .pause
                }
                // Generous, so that the consumer's decoder sees a too large message and names it.
                guard state.pending.count + data.count <= max(maximumBodyBytes, ExchangeSink.maximumPendingBytes) else {
                    overflowed = true
                    return .stop
                }
                state.pending.append(contentsOf: data)
                state.head = head
                return .accepted
            }
        }
        guard body.count + data.count <= maximumBodyBytes else {
            overflowed = true
            return .stop
        }
        body.append(contentsOf: data)
        return .accepted
    }

    /// Records whether the connection closed with the end of an exchange that had no trailers (on
    /// the thread that ran it, before the easy handle goes): HTTPClient.losesTrailersOnClose.
    func noteConnectionEnd(_ easy: UnsafeMutableRawPointer) {
        if probesConnectionEnd && !receivedTrailers { connectionClosed = CurlHandle.connectionClosed(easy) }
    }

    /// Progress: `total` bytes moved so far, both ways. False when the transfer has been idle for
    /// longer than the limit: it moved less than `CurlHandle.idleBytesPerSecond` bytes a second.
    func progress(total: Int) -> Bool {
        let now = monotonicMilliseconds()
        guard let lastMove else {
            self.lastMove = (now, total)
            return true
        }
        let elapsed = now - lastMove.time
        if Double(total - lastMove.total) >= Double(CurlHandle.idleBytesPerSecond) * max(elapsed, 1000) / 1000 {
            self.lastMove = (now, total)
        } else if elapsed > idleLimit {
            idled = true
            return false
        }
        return true
    }

    /// The exchange ended with `code` (multi handle's thread).
    func finish(_ code: CURLcode) {
        // Sends fail from here on, before a receiver learns of the end.
        feed?.end()
        handOff?.update { $0.result = code }
        let finished = onFinish
        onFinish = nil
        finished?(code)
    }

    /// One header or trailer line ("name: value\r\n") or a status line ("HTTP/2 200"): kept as
    /// it came; only what the body's consumer needs is read now.
    func receiveHeader(_ line: UnsafeRawBufferPointer) {
        let isStatusLine = line.count >= 5 && memcmp(line.baseAddress!, "HTTP/", 5) == 0
        if receivedBody {
            receivedTrailers = true
        } else if headerLines.isEmpty && !isStatusLine {
            // An answer always starts with its status line: these are the trailers of one whose
            // head never came. They end the exchange as trailers do (an upload paused then ends).
            lostAnswerHead = true
            receivedTrailers = true
        }
        if headerLines.isEmpty { headerLines.reserveCapacity(512) }  // an answer's header lines, at once
        headerLines.append(contentsOf: line)
        if line.last != UInt8(ascii: "\n") { headerLines.append(UInt8(ascii: "\n")) }
        if isStatusLine {
            // "HTTP/1.1 200 OK": the digits after the first space, at most four (no status has more).
            var index = 5
            while index < line.count, line[index] != 0x20 { index += 1 }
            index += 1
            var status = 0
            while index < line.count, status < 1000, case let digit = line[index] &- UInt8(ascii: "0"), digit < 10 {
                status = status * 10 + Int(digit)
                index += 1
            }
            head = ResponseHead(status: status)
        } else if let value = ExchangeSink.value(of: "content-type", in: line) {
            head.contentType = value
        } else if let value = ExchangeSink.value(of: "grpc-encoding", in: line) {
            head.messageEncoding = value
        }
    }

    /// The value of a header line if it is field `name` (lower case), in any case.
    private static func value(of name: StaticString, in line: UnsafeRawBufferPointer) -> String? {
        let count = name.utf8CodeUnitCount
        guard line.count > count, line[count] == UInt8(ascii: ":") else { return nil }
        for index in 0..<count where AnswerFields.lowercased(line[index]) != name.utf8Start[index] { return nil }
        let value = UnsafeRawBufferPointer(rebasing: AnswerFields.trimmed(line[(count + 1)...]))
        // The usual values as the constants they are: no String made per answer.
        switch value.count {
        case 16 where memcmp(value.baseAddress!, "application/json", 16) == 0: return "application/json"
        case 16 where memcmp(value.baseAddress!, "application/grpc", 16) == 0: return "application/grpc"
        case 4 where memcmp(value.baseAddress!, "gzip", 4) == 0: return "gzip"
        default: return String(decoding: value, as: UTF8.self)
        }
    }
}

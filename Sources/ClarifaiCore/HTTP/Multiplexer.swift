import CCurl
import Glibc

/// A libcurl multi handle: exchanges handed to it share its connections, concurrent HTTP/2 ones as
/// streams of one connection. One thread at a time drives it (leader/follower): a blocking call
/// that finds no one driving drives it itself until its own exchange is done (no hand-off to
/// another thread and back); otherwise the thread of the multi handle's own drives it, whenever
/// exchanges are in progress that no caller drives (other callers', streams, asynchronous calls,
/// timers). A caller that does not drive waits for its exchange and runs the consumer on the
/// bytes handed over.
final class Multiplexer: @unchecked Sendable {
    private enum Operation {
        case add(UnsafeMutableRawPointer, ExchangeSink)
        case cancel(UnsafeMutableRawPointer, ExchangeSink)
        case resume(UnsafeMutableRawPointer, ExchangeSink)
        case schedule(due: Double, action: () -> Void)
    }

    private let multi: UnsafeMutableRawPointer
    /// Kept alive while the multi handle's connections may use its TLS sessions.
    private let share: CurlShare
    private struct Requests {
        var operations: [Operation] = []
        /// End once the exchanges in progress are done.
        var stopping = false
        /// Done: takes no more.
        var ended = false
        /// A fork() is coming: the driver waits, at a point where it holds no lock (see parkAll).
        var parkRequested = false
        var parked = false
        /// A thread drives the multi handle (only the driver touches it, `active` and `timers`).
        var driving = false
        /// The calling thread that drives it, if one does (rather than the multi handle's own).
        var leader: pthread_t?
        /// Exchanges or timers were left when the last driver let go: the multi handle's thread
        /// takes over.
        var busy = false
        /// Exchanges taken and not yet finished (HTTPClient spreads calls by it).
        var exchanges = 0
    }

    private let requests = Locked(Requests())
    /// The multi handles whose threads run, for fork() (see parkAll).
    private static let running = Locked<[ObjectIdentifier: Unmanaged<Multiplexer>]>([:])
    /// The exchanges in progress, each sink knowing its place (ExchangeSink.activeSlot), its easy
    /// handle knowing its sink (CURLOPT_PRIVATE): found without hashing; touched by the driver only.
    private var active: [(easy: UnsafeMutableRawPointer, sink: ExchangeSink)] = []
    /// Actions due at a time (monotonicMilliseconds()), soonest last; touched by the driver only.
    private var timers: [(due: Double, action: () -> Void)] = []
    /// The operations being carried out, swapped with the requested ones (the two arrays keep
    /// their memory: no allocation per exchange); touched by the driver only.
    private var takenOperations: [Operation] = []
    /// Whether the next exchange whose connection is chosen by hand opens one (see
    /// chooseCleartextConnection); the driver's.
    private var nextOpensCleartextConnection = true
    private var thread = pthread_t()

    init?(share: CurlShare) {
        guard let multi = curl_multi_init() else { return nil }
        self.multi = multi
        self.share = share
        ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX)
        // Exchanges past what these connections carry at once wait in libcurl for a free one.
        ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, Multiplexer.connectionsPerHost)
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

    /// Before fork(): every multi handle's driver waits, for up to 3 seconds each, at the top of
    /// its loop, where it holds no lock of its own, of libcurl or of the Swift runtime (a child
    /// would inherit such a lock held, by a thread it does not have, and block on it forever); no
    /// thread starts driving meanwhile. Holds the list of multi handles until `unparkAll`.
    static func parkAll() {
        for multiplexer in running.lock().values.map({ $0.takeUnretainedValue() }) {
            guard multiplexer.notify({ $0.parkRequested = true }) else { continue }
            multiplexer.requests.withLock(waitingUntil: { $0.parked || $0.ended || !$0.driving },
                                          deadline: monotonicMilliseconds() + 3000) { _ in }
        }
    }

    /// After fork(): the parent's threads go on; a child, which has none of them, forgets them.
    static func unparkAll(inChild: Bool) {
        running.unlock { running in
            for multiplexer in running.values.map({ $0.takeUnretainedValue() }) {
                multiplexer.requests.update { $0.parkRequested = false }
            }
            if inChild { running.removeAll() }
        }
    }

    /// Connections a multi handle opens to one server at most: HTTP/1.1 exchanges take one each,
    /// HTTP/2 ones share one until the server's limit of concurrent streams, then open another.
    static let connectionsPerHost = 16

    /// Ends the thread, and the multi handle with its connections, once the exchanges in progress
    /// are done; waits for that (unless called while driving it, by an exchange's completion).
    func stop() {
        let drives = requests.withLock { state in state.leader.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        guard pthread_equal(pthread_self(), thread) == 0, !drives else { return retire() }
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
    func run(_ easy: UnsafeMutableRawPointer, _ sink: ExchangeSink, consumer: Consumer?) -> CURLcode? {
        guard let handOff = sink.handOff else { return CURLE_FAILED_INIT }
        // Handed over, and driven from here when no one drives.
        let leads: Bool? = requests.withLock { state in
            guard !state.ended else { return nil }
            state.operations.append(.add(easy, sink))
            state.exchanges += 1
            guard !state.driving, !state.parkRequested else {
                curl_multi_wakeup(multi)
                return false
            }
            state.driving = true
            state.leader = pthread_self()
            return true
        }
        guard let leads else { return nil }
        if leads { lead(until: { handOff.withLock { $0.result != nil || !$0.pending.isEmpty } }) }
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
                if sink.consumerStopped { submit(.cancel(easy, sink)) } else if resumes { submit(.resume(easy, sink)) }
            }
            if let result { return sink.consumerStopped ? CURLE_WRITE_ERROR : result }
            if tryToLead() { lead(until: { handOff.withLock { $0.result != nil || !$0.pending.isEmpty } }) }
        }
    }

    /// Takes the multi handle to drive from this thread, when no one drives it.
    private func tryToLead() -> Bool {
        requests.withLock { state in
            guard !state.ended, !state.driving, !state.parkRequested else { return false }
            state.driving = true
            state.leader = pthread_self()
            return true
        }
    }

    /// Drives the multi handle from the calling thread until `done` (its exchange ended, or has
    /// bytes for the consumer), then lets go: the multi handle's thread takes over what is left.
    private func lead(until done: () -> Bool) {
        while true {
            _ = applyRequests()
            step()
            if done() { break }
            poll()
        }
        letGo()
    }

    /// Ends a turn of driving; whatever is left in progress wakes the multi handle's thread (and
    /// only then: a wakeup for nothing would cost a context switch per call).
    private func letGo() {
        let busy = !active.isEmpty || !timers.isEmpty
        let wakes = requests.withLock { state in
            state.driving = false
            state.leader = nil
            state.busy = busy
            return busy || !state.operations.isEmpty || state.stopping || state.parkRequested
        }
        if wakes { requests.update { _ in } }
    }

    /// Starts the exchange configured on `easy`, whose caller pulls its answer from the sink
    /// (HTTPStream); false when this multi handle has ended and took nothing.
    func start(_ easy: UnsafeMutableRawPointer, _ sink: ExchangeSink) -> Bool {
        notify { state in
            state.operations.append(.add(easy, sink))
            state.exchanges += 1
        }
    }

    /// Exchanges taken and not yet finished: 0 when a call taken now would have the multi handle
    /// to itself (driven by the calling thread).
    var exchangesInProgress: Int { requests.withLock { $0.exchanges } }

    /// Resumes a paused exchange (on the multi handle's thread: libcurl allows no other).
    func resume(_ easy: UnsafeMutableRawPointer, _ sink: ExchangeSink) { submit(.resume(easy, sink)) }

    /// Ends an exchange at once (an HTTP/2 stream is reset); its sink finishes as cancelled.
    func cancel(_ easy: UnsafeMutableRawPointer, _ sink: ExchangeSink) { submit(.cancel(easy, sink)) }

    /// Runs `action` on the multi handle's thread once `milliseconds` passed; the multi handle
    /// ends only after it ran. False when it has ended and took nothing.
    func schedule(after milliseconds: Double, _ action: @escaping () -> Void) -> Bool {
        submit(.schedule(due: monotonicMilliseconds() + milliseconds, action: action))
    }

    /// Hands an operation to the multi handle's thread; false when it has ended.
    @discardableResult
    private func submit(_ operation: Operation) -> Bool {
        notify { $0.operations.append(operation) }
    }

    /// Changes the requests and wakes the driver, or the multi handle's thread when no one drives,
    /// unless it has ended (then false). Under the lock: the thread ends, and frees the multi
    /// handle, only after taking it.
    @discardableResult
    private func notify(_ change: (inout Requests) -> Void) -> Bool {
        requests.update { state in
            guard !state.ended else { return false }
            change(&state)
            curl_multi_wakeup(multi)
            return true
        }
    }

    private func loop() {
        // Registered by the thread itself: a thread starting a multi handle may hold a client's
        // lock, which the fork handlers take after this list's.
        Multiplexer.running.withLock { $0[ObjectIdentifier(self)] = .passUnretained(self) }
        defer {
            Multiplexer.running.withLock { $0[ObjectIdentifier(self)] = nil }
            curl_multi_cleanup(multi)
        }
        while true {
            // Drives when there is something to do and no caller drives; waits otherwise.
            requests.withLock(waitingUntil: { state in
                !state.driving && !state.parkRequested && (!state.operations.isEmpty || state.busy || state.stopping)
            }) { $0.driving = true }
            let stopping = !applyRequests()
            if stopping && active.isEmpty && timers.isEmpty && hasEnded() { return }
            step()
            // An ending multi handle whose last exchange just finished ends now, not after a poll.
            if !(active.isEmpty && timers.isEmpty) { poll() }
            letGo()
        }
    }

    /// One round of the multi handle's work.
    private func step() {
        var running: Int32 = 0
        curl_multi_perform(multi, &running)
        keepAlive()
        endUploadsOfEndedAnswers()
        finishCompleted()
        runDueTimers()
    }

    /// Waits for the connections' sockets, the next timer (at most a second), or a wakeup.
    private func poll() {
        let untilTimer = timers.last.map { max(0, $0.due - monotonicMilliseconds()) } ?? 1000
        curl_multi_poll(multi, nil, 0, Int32(min(1000, untilTimer.rounded(.up))), nil)
    }

    /// Carries out the operations the calling threads asked for; false once stopping.
    private func applyRequests() -> Bool {
        let (stopping, parks) = requests.withLock { state in
            swap(&state.operations, &takenOperations)
            return (state.stopping, state.parkRequested)
        }
        defer { takenOperations.removeAll(keepingCapacity: true) }
        if parks {
            requests.update { $0.parked = true }
            requests.withLock(waitingUntil: { !$0.parkRequested }) { $0.parked = false }
        }
        for operation in takenOperations {
            switch operation {
            case .add(let easy, let sink):
                sink.activeSlot = active.count
                active.append((easy, sink))
                ccurl_setopt_pointer(easy, CURLOPT_PRIVATE, Unmanaged.passUnretained(sink).toOpaque())
                if sink.sharesCleartextConnectionByHand { chooseCleartextConnection(easy, sink) }
                if curl_multi_add_handle(multi, easy) != CURLM_OK {
                    removeActive(sink)
                    sink.finish(CURLE_FAILED_INIT)
                }
            case .cancel(let easy, let sink):
                guard isActive(sink) else { continue }  // ended already
                removeActive(sink)
                // (A cancelled exchange's handle is not used again: the option dies with it.)
                if !HTTPClient.sendsResetsOfCancelledStreams { ccurl_setopt_long(easy, CURLOPT_FORBID_REUSE, 1) }
                curl_multi_remove_handle(multi, easy)
                if !HTTPClient.sendsResetsOfCancelledStreams { flushConnections() }
                sink.finish(CURLE_WRITE_ERROR)
            case .resume(let easy, let sink):
                if isActive(sink) { ccurl_easy_unpause(easy) }
            case .schedule(let due, let action):
                let position = timers.firstIndex { $0.due < due } ?? timers.endIndex
                timers.insert((due, action), at: position)
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

    /// Sends the HTTP/2 PING of streams whose connection is due one (CURLOPT_UPKEEP_INTERVAL_MS),
    /// so that a NAT or load balancer does not drop a quiet stream's connection.
    private func keepAlive() {
        for (easy, sink) in active where sink.keepsAlive { curl_easy_upkeep(easy) }
    }

    /// A server may end a stream's answer while the request still goes out (RFC 9113, 8.1), and
    /// libcurl does not finish a transfer whose upload is paused: once the trailers arrived, the
    /// request body ends too (the server takes nothing more), and libcurl resumes to send its end.
    private func endUploadsOfEndedAnswers() {
        for (easy, sink) in active where sink.receivedTrailers {
            if sink.feed?.endBecauseAnswered() == true { ccurl_easy_unpause(easy) }
        }
    }

    /// libcurl before 8.0 breaks a cleartext HTTP/2 connection that an exchange asking for HTTP/2
    /// with prior knowledge reuses (it sets HTTP/2 up on it a second time: curl #10634, "Error in
    /// the HTTP2 framing layer"). An exchange that asks for HTTP/2 without prior knowledge reuses
    /// it fine, but would start a connection of its own with an HTTP/1.1 Upgrade, which gRPC
    /// servers do not take. So one exchange with prior knowledge opens a connection, a new one
    /// (CURLOPT_FRESH_CONNECT), and the next ones ask for HTTP/2 and may not open any (the socket
    /// callback refuses it): they take the connection, waiting while it is being made
    /// (CURLOPT_PIPEWAIT). One that finds none (the server closed it, or it is full) fails before
    /// anything is sent, and is added again to open one (finishCompleted), with what is left of its
    /// deadline. (At a server's limit of streams per connection, libcurl 7.88 lets an exchange wait
    /// only for a connection not yet known to multiplex: the exchanges past the limit open one each.)
    private func chooseCleartextConnection(_ easy: UnsafeMutableRawPointer, _ sink: ExchangeSink) {
        let opens = nextOpensCleartextConnection || sink.requiresNewConnection
        nextOpensCleartextConnection = false
        sink.mayOnlyReuse = !opens
        ccurl_setopt_long(easy, CURLOPT_HTTP_VERSION, opens ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : CURL_HTTP_VERSION_2_0)
        ccurl_setopt_long(easy, CURLOPT_FRESH_CONNECT, opens ? 1 : 0)
        // libcurl starts an exchange's clock when it is added: one added again keeps its deadline.
        if sink.timeoutMilliseconds > 0 {
            let now = monotonicMilliseconds()
            let deadline = sink.deadline ?? now + Double(sink.timeoutMilliseconds)
            sink.deadline = deadline
            let left = max(1, min(sink.timeoutMilliseconds, Int((deadline - now).rounded(.up))))
            ccurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, left)
            ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, HTTPRequest.connectTimeout(within: left))
        }
        ccurl_setopt_pointer(easy, CURLOPT_OPENSOCKETDATA, Unmanaged.passUnretained(sink).toOpaque())
        ccurl_setopt_opensocket(easy, Multiplexer.openSocketOfChosenConnection)
    }

    /// CURLOPT_OPENSOCKETFUNCTION of an exchange whose connection is chosen by hand.
    private static let openSocketOfChosenConnection: curl_opensocket_callback = { context, purpose, address in
        let sink = Unmanaged<ExchangeSink>.fromOpaque(context!).takeUnretainedValue()
        guard sink.mayOnlyReuse else { return ForkSafety.openSocket(nil, purpose, address) }
        sink.refusedNewConnection = true
        return -1  // CURL_SOCKET_BAD
    }

    /// libcurl before 8.1 writes the RST_STREAM of a cancelled HTTP/2 stream into its
    /// connection's output buffer and leaves it there until the connection next sends something,
    /// so the server goes on with the call. The connection is closed instead when no other stream
    /// uses it (CURLOPT_FORBID_REUSE on the cancelled exchange); otherwise each exchange in
    /// progress has its sending paused and resumed at once, which makes libcurl send what its
    /// connection holds (its receiving untouched; one whose receiving is paused is left alone, as
    /// resuming would resume that too).
    private func flushConnections() {
        for (easy, sink) in active where sink.handOff?.withLock({ $0.paused }) != true {
            ccurl_easy_pause_sending(easy)
            ccurl_easy_unpause(easy)
        }
    }

    private func runDueTimers() {
        let now = monotonicMilliseconds()
        while let soonest = timers.last, soonest.due <= now {
            timers.removeLast()
            soonest.action()
        }
    }

    private func isActive(_ sink: ExchangeSink) -> Bool {
        sink.activeSlot >= 0 && sink.activeSlot < active.count && active[sink.activeSlot].sink === sink
    }

    /// Takes an active exchange's sink out of `active` (the last one moves to its place).
    private func removeActive(_ sink: ExchangeSink) {
        let slot = sink.activeSlot
        active.swapAt(slot, active.count - 1)
        active[slot].sink.activeSlot = slot
        active.removeLast()
        sink.activeSlot = -1
        requests.withLock { $0.exchanges -= 1 }
    }

    private func finishCompleted() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            var context: UnsafeMutableRawPointer?
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                  ccurl_getinfo_pointer(easy, CURLINFO_PRIVATE, &context) == CURLE_OK, let context else { continue }
            // Active while in the multi handle: `active` holds it.
            let sink = Unmanaged<ExchangeSink>.fromOpaque(context).takeUnretainedValue()
            guard isActive(sink) else { continue }
            let result = message.pointee.data.result  // the message is gone once the handle is removed
            if sink.refusedNewConnection {
                // Sent again, to open the connection it did not find.
                sink.refusedNewConnection = false
                sink.requiresNewConnection = true
                curl_multi_remove_handle(multi, easy)
                chooseCleartextConnection(easy, sink)
                if curl_multi_add_handle(multi, easy) == CURLM_OK { continue }
            }
            removeActive(sink)
            sink.noteConnectionEnd(easy)
            curl_multi_remove_handle(multi, easy)
            sink.finish(result)
        }
    }
}

import Glibc

/// The request body of a stream: bytes the caller queues as it sends, which libcurl reads on the
/// thread that drives the transfer (CURLOPT_READFUNCTION). The queue is bounded: a sender that
/// outruns the network waits for room (until its deadline), as a gRPC sender waits for the
/// server's flow-control window.
final class RequestFeed: @unchecked Sendable {
    /// Queued bytes past which `append` waits.
    static let maximumQueuedBytes = 4 << 20

    private struct State {
        var queued: [UInt8] = []
        /// How much of `queued` libcurl has read.
        var taken = 0
        /// No more bytes will come: libcurl ends the body (END_STREAM) once it read the queue.
        var closed = false
        /// libcurl found the queue empty and paused the upload: the next bytes must wake it.
        var paused = false
        /// The exchange is over: nothing more is read.
        var ended = false
        /// The server ended its answer: the body was closed for it.
        var answered = false
    }

    private let state = Locked(State())

    /// libcurl's read: copies what is queued into `buffer`; 0 when the body is complete; nil when
    /// nothing is queued yet (libcurl then pauses the upload until `append` or `close`).
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        state.update { state in
            let available = state.queued.count - state.taken
            guard available > 0 else {
                if state.closed { return 0 }
                state.paused = true
                return nil
            }
            let count = min(available, buffer.count)
            state.queued.withUnsafeBytes { queued in
                buffer.baseAddress!.copyMemory(from: queued.baseAddress! + state.taken, byteCount: count)
            }
            state.taken += count
            if state.taken == state.queued.count {
                state.queued.removeAll(keepingCapacity: true)
                state.taken = 0
            }
            return count
        }
    }

    /// Queues `bytes`, waiting for room until `deadline`. Returns whether the upload was paused
    /// (the driving thread must then resume it). Throws when the body was closed, the exchange
    /// ended, or the deadline passed while waiting.
    func append(_ bytes: [UInt8], deadline: Double?) throws -> Bool {
        try state.withLock(waitingUntil: { $0.queued.count - $0.taken < RequestFeed.maximumQueuedBytes || $0.ended },
                           deadline: deadline) { state in
            guard !state.ended, !state.answered else { throw ClarifaiError(.cancelled, "the stream has ended") }
            guard !state.closed else { throw ClarifaiError.invalidArgument("the stream's sending side is closed") }
            guard state.queued.count - state.taken < RequestFeed.maximumQueuedBytes else {
                throw ClarifaiError(.timeout, "the deadline passed while the server took no more of the stream")
            }
            state.queued += bytes
            defer { state.paused = false }
            return state.paused
        }
    }

    /// No more bytes: the body ends once libcurl read what is queued. Returns whether the upload
    /// was paused. Throws when it was closed already.
    func close() throws -> Bool {
        try state.update { state in
            guard !state.answered else { return false }  // the server ended the stream: nothing to close
            guard !state.closed else { throw ClarifaiError.invalidArgument("the stream's sending side is closed already") }
            state.closed = true
            defer { state.paused = false }
            return state.paused
        }
    }

    /// The server ended its answer: the body ends too (what is queued is dropped: the server takes
    /// nothing more). Returns whether the upload was paused (the driving thread must resume it),
    /// once; later calls return false.
    func endBecauseAnswered() -> Bool {
        state.update { state in
            guard !state.answered else { return false }
            state.answered = true
            state.closed = true
            state.queued = []
            state.taken = 0
            defer { state.paused = false }
            return state.paused
        }
    }

    /// Everything queued, once the body is closed (for a body sent whole); nil before.
    func takeAllIfClosed() -> [UInt8]? {
        state.withLock { state in
            guard state.closed else { return nil }
            defer { state.queued = [] }
            return Array(state.queued[state.taken...])
        }
    }

    /// The exchange is over: senders waiting for room stop waiting.
    func end() { state.update { $0.ended = true } }
}

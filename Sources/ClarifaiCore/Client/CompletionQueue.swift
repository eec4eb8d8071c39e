import CLinux
import Glibc

/// Work a completion queue holds while it runs: an asynchronous call, or the calls of one batch.
protocol AsyncWork: AnyObject, Sendable {
    var tag: UnsafeMutableRawPointer? { get }
    /// Ends the work at once; its completion (CANCELLED unless it already had another) still comes.
    func cancel()
}

/// Where asynchronous calls put their outcomes, in the order they complete, with an eventfd that
/// is readable while a completion waits (for poll, epoll or asyncio's add_reader). Thread-safe.
public final class CompletionQueue: HandleObject, @unchecked Sendable {
    public struct Completion {
        public let tag: UnsafeMutableRawPointer?
        public let outcome: Result<Response, ClarifaiError>
    }

    private struct State {
        /// Completions not taken yet: those from `head` on.
        var completions: [Completion] = []
        var head = 0
        var running: [ObjectIdentifier: any AsyncWork] = [:]
        /// Being freed: takes no more work.
        var closed = false
    }

    /// The eventfd: its counter is non-zero exactly while a completion waits.
    public let descriptor: Int32
    private let state = Locked(State())
    /// The process that made the queue. Its work runs there: a forked child's copy is refused
    /// (a wait for the parent's calls would never end) and never touched (its lock may have been
    /// held by a thread the child does not have).
    private let owner = getpid()

    public init() throws {
        descriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard descriptor >= 0 else {
            throw ClarifaiError(.internal, "eventfd failed: \(String(cString: strerror(errno)))")
        }
        super.init(tag: HandleTag.queue)
    }

    deinit { close(descriptor) }

    public var isInherited: Bool { getpid() != owner }

    private func checkOwner() throws {
        guard !isInherited else {
            throw ClarifaiError.invalidArgument("the queue was made before fork(), by the parent process, whose calls it holds: "
                                                + "a child makes queues of its own")
        }
    }

    /// Runs `work` (`start` throws what stops it before anything was sent: nothing is queued then).
    func run(_ work: any AsyncWork, start: () throws -> Void) throws {
        try checkOwner()
        try state.withLock { state in
            guard !state.closed else { throw ClarifaiError.invalidArgument("the queue is being freed") }
            state.running[ObjectIdentifier(work)] = work
        }
        do {
            try start()
        } catch {
            _ = state.withLock { $0.running.removeValue(forKey: ObjectIdentifier(work)) }
            throw error
        }
    }

    /// The outcome of `work`, which is over.
    func post(_ work: any AsyncWork, _ outcome: Result<Response, ClarifaiError>) {
        // Returned, so that it goes after the lock is released: it may be the last to hold its client.
        _ = state.update { state in
            if state.head == state.completions.count {
                var one: UInt64 = 1
                _ = write(descriptor, &one, 8)
            }
            state.completions.append(Completion(tag: work.tag, outcome: outcome))
            return state.running.removeValue(forKey: ObjectIdentifier(work))
        }
    }

    /// The next completion, waiting up to `timeoutMilliseconds` (negative: as long as work runs);
    /// nil when none came in time.
    public func next(timeoutMilliseconds: Int) throws -> Completion? {
        try checkOwner()
        let deadline = timeoutMilliseconds < 0 ? nil : monotonicMilliseconds() + Double(timeoutMilliseconds)
        let ready: (State) -> Bool = { state in
            state.head < state.completions.count || (deadline == nil && state.running.isEmpty)
        }
        return state.withLock(waitingUntil: ready, deadline: deadline) { state in
            guard state.head < state.completions.count else { return nil }
            let completion = state.completions[state.head]
            state.head += 1
            if state.head == state.completions.count {
                state.completions.removeAll(keepingCapacity: state.completions.count <= 1024)
                state.head = 0
                var count: UInt64 = 0
                _ = read(descriptor, &count, 8)
            }
            return completion
        }
    }

    /// Cancels the work started with `tag` that is still running; the number of such.
    @discardableResult
    public func cancel(tag: UnsafeMutableRawPointer?) -> Int {
        guard !isInherited else { return 0 }
        let matching = state.withLock { $0.running.values.filter { $0.tag == tag } }
        for work in matching { work.cancel() }
        return matching.count
    }

    /// Takes no more work, cancels what runs and waits until it ended: nothing touches the queue
    /// after this returns but its owner.
    public func shutDown() {
        let running = state.withLock { state in
            state.closed = true
            return Array(state.running.values)
        }
        for work in running { work.cancel() }
        state.withLock(waitingUntil: { $0.running.isEmpty }) { _ in }
    }
}

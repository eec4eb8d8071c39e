import Glibc

/// Runs `transform` on every element on up to `width` threads and returns the results in order.
/// The calling thread takes part, so width 1 runs everything inline.
func parallelMap<T: Sendable, R: Sendable>(_ items: [T], width: Int, _ transform: @escaping @Sendable (T) -> R) -> [R] {
    let work = ParallelWork(items: items, transform: transform)
    var threads: [pthread_t] = []
    for _ in 1..<min(max(width, 1), items.count) {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(ThreadBody { work.drain() }).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        if created == 0 {
            threads.append(thread)
        } else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
        }
    }
    work.drain()
    for thread in threads { pthread_join(thread, nil) }
    return work.results()
}

/// A thread's entry point (C function pointers cannot capture generic context).
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private final class ParallelWork<T: Sendable, R: Sendable>: Sendable {
    private let items: [T]
    private let transform: @Sendable (T) -> R
    private let state: Locked<(next: Int, results: [R?])>

    init(items: [T], transform: @escaping @Sendable (T) -> R) {
        self.items = items
        self.transform = transform
        state = Locked((0, Array(repeating: nil, count: items.count)))
    }

    /// Takes items one by one until none is left.
    func drain() {
        while true {
            let index: Int = state.withLock { state in
                defer { state.next += 1 }
                return state.next
            }
            guard index < items.count else { return }
            let result = transform(items[index])
            state.withLock { $0.results[index] = result }
        }
    }

    func results() -> [R] { state.withLock { $0.results.map { $0! } } }
}

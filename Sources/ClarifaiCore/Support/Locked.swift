import Glibc

/// A value guarded by a pthread mutex. (Not Synchronization.Mutex: its futexes are invisible to
/// ThreadSanitizer, which then reports every guarded access as a race.)
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
        // Timed waits count monotonic time, as the library's deadlines do.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(changed, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(changed)
        changed.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// `body` under the lock when no one holds it; nil, without waiting, when someone does.
    func withLockIfFree<R>(_ body: (inout Value) throws -> R) rethrows -> R? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// For fork handlers, which take the lock in one function and release it in another: locks
    /// and returns the value.
    @discardableResult
    func lock() -> Value {
        pthread_mutex_lock(mutex)
        return value
    }

    /// Releases the lock taken by `lock()`, after `change` (run under it).
    func unlock(changing change: (inout Value) -> Void = { _ in }) {
        change(&value)
        pthread_mutex_unlock(mutex)
    }

    /// Waits, the lock released meanwhile, until `ready` holds for the value, then runs `body`
    /// under the lock. Whoever makes `ready` true calls `broadcast`.
    func withLock<R>(waitingUntil ready: (Value) -> Bool, _ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(value) { pthread_cond_wait(changed, mutex) }
        return try body(&value)
    }

    /// Like withLock(waitingUntil:), giving up at `deadline` (monotonicMilliseconds(); nil: never):
    /// then `body` runs all the same, and finds `ready` false.
    func withLock<R>(waitingUntil ready: (Value) -> Bool, deadline: Double?, _ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(value) {
            guard let deadline else {
                pthread_cond_wait(changed, mutex)
                continue
            }
            let left = deadline - monotonicMilliseconds()
            guard left > 0 else { break }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let nanoseconds = Int(now.tv_nsec) + Int((left.truncatingRemainder(dividingBy: 1000)) * 1_000_000)
            var until = timespec(tv_sec: now.tv_sec + Int(left / 1000) + nanoseconds / 1_000_000_000,
                                 tv_nsec: nanoseconds % 1_000_000_000)
            pthread_cond_timedwait(changed, mutex, &until)
        }
        return try body(&value)
    }

    /// Changes the value under the lock and wakes the threads waiting on it.
    func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        return try body(&value)
    }
}

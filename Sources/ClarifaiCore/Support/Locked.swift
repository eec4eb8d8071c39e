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
        pthread_cond_init(changed, nil)
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

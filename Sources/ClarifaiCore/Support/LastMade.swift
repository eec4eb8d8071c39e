/// The value made for the last key, kept for the next request with an equal key: most calls of a
/// channel repeat the last one's headers, which are then made once, not per call. Thread-safe.
final class LastMade<Key: Equatable, Value>: @unchecked Sendable {
    private let last = Locked<(key: Key, value: Value)?>(nil)

    func value(for key: Key, _ make: () -> Value) -> Value {
        if let last = last.withLock({ $0 }), last.key == key { return last.value }
        let value = make()
        last.withLock { $0 = (key, value) }
        return value
    }
}

import Glibc

/// The value made for the last key, kept for the next request with the same key: most calls of a
/// channel repeat the last one's headers, which are then made once, not per call. Thread-safe.
/// A call that finds the lock taken makes its value without the cache rather than wait: nothing
/// waits on another thread here, and a forked child that inherited the lock held (by a thread it
/// does not have) makes its values every time instead of hanging.
final class LastMade<Key: SameBytes, Value>: @unchecked Sendable {
    private let last = Locked<(key: Key, value: Value)?>(nil)

    func value(for key: Key, _ make: () -> Value) -> Value {
        if let last = last.withLockIfFree({ $0 }) ?? nil, last.key.hasSameBytes(as: key) { return last.value }
        let value = make()
        _ = last.withLockIfFree { $0 = (key, value) }
        return value
    }
}

/// A key compared byte for byte: String's == also holds for canonically equivalent text ("é" and
/// "e\u{301}"), which goes out as different bytes, so the keys of what is sent are compared so.
protocol SameBytes {
    func hasSameBytes(as other: Self) -> Bool
}

extension String: SameBytes {
    func hasSameBytes(as other: String) -> Bool {
        let count = utf8.count
        guard count == other.utf8.count else { return false }
        guard count > 0 else { return true }
        // Native strings have their bytes in one place; others are walked.
        let compared = utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs in memcmp(mine.baseAddress!, theirs.baseAddress!, count) == 0 }
        }
        return (compared ?? nil) ?? utf8.elementsEqual(other.utf8)
    }
}

extension Optional: SameBytes where Wrapped: SameBytes {
    func hasSameBytes(as other: Self) -> Bool {
        switch (self, other) {
        case (nil, nil): true
        case let (mine?, theirs?): mine.hasSameBytes(as: theirs)
        default: false
        }
    }
}

extension Array: SameBytes where Element: SameBytes {
    func hasSameBytes(as other: Self) -> Bool {
        guard count == other.count else { return false }
        // One storage (an array handed along, as a client's metadata is to every call) holds the
        // same elements (values, compared by their bytes: no element changes in place).
        let shared = withUnsafeBufferPointer { mine in other.withUnsafeBufferPointer { $0.baseAddress == mine.baseAddress } }
        return shared || indices.allSatisfy { self[$0].hasSameBytes(as: other[$0]) }
    }
}

import ClarifaiCore
import Glibc

/// The calling thread's last error message (clarifai_last_error), in thread-local storage that
/// the thread's exit frees.
enum LastError {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { free($0) }
        return key
    }()

    nonisolated(unsafe) private static let empty: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

    static var current: UnsafePointer<CChar> {
        pthread_getspecific(key).map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) } ?? empty
    }

    static func set(_ message: String) {
        free(pthread_getspecific(key))
        pthread_setspecific(key, strdup(Redaction.publicText(message)))
    }

    static func clear() {
        guard let previous = pthread_getspecific(key) else { return }
        free(previous)
        pthread_setspecific(key, nil)
    }
}

/// Runs an entry point's body: success clears the thread's last error; a failure records its
/// message and becomes the error's code.
func entryPoint(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        LastError.clear()
        return 0
    } catch let error as ClarifaiError {
        LastError.set(error.message)
        return error.code.rawValue
    } catch {
        LastError.set("internal error: \(error)")
        return ErrorCode.internal.rawValue
    }
}

/// For constructors: the created handle, or nil with the error recorded.
func constructor(_ body: () throws -> OpaquePointer) -> OpaquePointer? {
    var handle: OpaquePointer?
    _ = entryPoint { handle = try body() }
    return handle
}

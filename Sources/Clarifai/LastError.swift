import ClarifaiCore
import Glibc

/// The calling thread's last failure (clarifai_last_error and friends), in thread-local storage
/// that the thread's exit frees.
enum LastError {
    /// One per thread, allocated on its first failure.
    private struct Record {
        var message: UnsafeMutablePointer<CChar>?
        var code: Int32
        var httpStatus: Int32
        var grpcStatus: Int32
        var transient: Bool
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { record in
            guard let record = record?.assumingMemoryBound(to: Record.self) else { return }
            free(record.pointee.message)
            record.deallocate()
        }
        return key
    }()

    nonisolated(unsafe) private static let empty: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

    private static var record: UnsafeMutablePointer<Record>? {
        pthread_getspecific(key)?.assumingMemoryBound(to: Record.self)
    }

    static var message: UnsafePointer<CChar> { record?.pointee.message.map { UnsafePointer($0) } ?? empty }
    static var code: Int32 { record?.pointee.code ?? 0 }
    static var httpStatus: Int32 { record?.pointee.httpStatus ?? 0 }
    static var grpcStatus: Int32 { record?.pointee.grpcStatus ?? -1 }
    static var isTransient: Bool { record?.pointee.transient ?? false }

    static func set(_ error: ClarifaiError) {
        set(code: error.code.rawValue, message: error.message, httpStatus: error.httpStatus, grpcStatus: error.grpcStatus,
            transient: error.isRetried)
    }

    /// A failure without an answer behind it (e.g. a response that has no JSON form).
    static func set(code: Int32, message: String, httpStatus: Int = 0, grpcStatus: Int = -1, transient: Bool = false) {
        let record = self.record ?? {
            let created = UnsafeMutablePointer<Record>.allocate(capacity: 1)
            created.initialize(to: Record(message: nil, code: 0, httpStatus: 0, grpcStatus: -1, transient: false))
            pthread_setspecific(key, created)
            return created
        }()
        free(record.pointee.message)
        record.pointee = Record(message: strdup(Redaction.publicText(message)), code: code,
                                httpStatus: Int32(clamping: httpStatus), grpcStatus: Int32(clamping: grpcStatus), transient: transient)
    }

    static func clear() {
        guard let record else { return }
        free(record.pointee.message)
        record.pointee = Record(message: nil, code: 0, httpStatus: 0, grpcStatus: -1, transient: false)
    }
}

/// Runs an entry point's body: success clears the thread's last error; a failure records it and
/// becomes the error's code.
func entryPoint(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        LastError.clear()
        return 0
    } catch let error as ClarifaiError {
        LastError.set(error)
        return error.code.rawValue
    } catch {
        LastError.set(code: ErrorCode.internal.rawValue, message: "internal error: \(error)")
        return ErrorCode.internal.rawValue
    }
}

/// For constructors: the created handle, or nil with the error recorded.
func constructor(_ body: () throws -> OpaquePointer) -> OpaquePointer? {
    var handle: OpaquePointer?
    _ = entryPoint { handle = try body() }
    return handle
}

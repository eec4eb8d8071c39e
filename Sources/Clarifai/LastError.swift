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
        /// The server's metadata of the failed call, as malloc'd C strings.
        var metadata: [(name: UnsafeMutablePointer<CChar>, value: UnsafeMutablePointer<CChar>, trailing: Bool)] = []

        /// Frees the C strings.
        mutating func release() {
            free(message)
            message = nil
            for field in metadata {
                free(field.name)
                free(field.value)
            }
            metadata = []
        }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { record in
            guard let record = record?.assumingMemoryBound(to: Record.self) else { return }
            record.pointee.release()
            record.deinitialize(count: 1)
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

    /// Field `index` of the last failure's metadata; nil past the end.
    static func metadataField(_ index: Int) -> (name: UnsafePointer<CChar>, value: UnsafePointer<CChar>, trailing: Bool)? {
        guard let fields = record?.pointee.metadata, index >= 0, index < fields.count else { return nil }
        return (UnsafePointer(fields[index].name), UnsafePointer(fields[index].value), fields[index].trailing)
    }

    static var metadataCount: Int { record?.pointee.metadata.count ?? 0 }

    static func set(_ error: ClarifaiError) {
        set(code: error.code.rawValue, message: error.message, httpStatus: error.httpStatus, grpcStatus: error.grpcStatus,
            transient: error.isRetried, metadata: error.metadata)
    }

    /// Any failure: a ClarifaiError as it is, anything else as INTERNAL. Returns its code.
    @discardableResult
    static func set(anyError error: any Error) -> Int32 {
        guard let error = error as? ClarifaiError else {
            set(code: ErrorCode.internal.rawValue, message: "internal error: \(error)")
            return ErrorCode.internal.rawValue
        }
        set(error)
        return error.code.rawValue
    }

    /// A failure without an answer behind it (e.g. a response that has no JSON form).
    static func set(code: Int32, message: String, httpStatus: Int = 0, grpcStatus: Int = -1, transient: Bool = false,
                    metadata: [MetadataField] = []) {
        let record = self.record ?? {
            let created = UnsafeMutablePointer<Record>.allocate(capacity: 1)
            created.initialize(to: Record(message: nil, code: 0, httpStatus: 0, grpcStatus: -1, transient: false))
            pthread_setspecific(key, created)
            return created
        }()
        record.pointee.release()
        record.pointee = Record(message: strdup(Redaction.publicText(message)), code: code,
                                httpStatus: Int32(clamping: httpStatus), grpcStatus: Int32(clamping: grpcStatus), transient: transient,
                                metadata: metadata.map { (strdup($0.name)!, strdup($0.value)!, $0.trailing) })
    }

    static func clear() {
        guard let record else { return }
        record.pointee.release()
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
    } catch {
        return LastError.set(anyError: error)
    }
}

/// For constructors: the created handle, or nil with the error recorded.
func constructor(_ body: () throws -> OpaquePointer) -> OpaquePointer? {
    var handle: OpaquePointer?
    _ = entryPoint { handle = try body() }
    return handle
}

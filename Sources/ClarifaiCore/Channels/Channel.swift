import Glibc

/// A request on its way: the method, its request message serialized (protobuf binary), and the
/// time this attempt has (0: no deadline).
public struct CallRequest {
    let method: Method
    let message: [UInt8]
    let timeoutMilliseconds: Int
}

/// How requests travel to Clarifai: REST or gRPC. Thread-safe.
public protocol Channel: AnyObject, Sendable {
    var options: ChannelOptions { get }
    func unary(_ request: CallRequest, token: String) throws -> Response
    /// Calls a server-streaming method; `onMessage` gets each message in order, on the calling
    /// thread, and returns false to cancel the call.
    func serverStream(_ request: CallRequest, token: String, onMessage: (Response) throws -> Bool) throws
}

/// Settings shared by every channel kind; changed at any time, read at each call's start.
public final class ChannelOptions: Sendable {
    struct Values {
        var timeoutMilliseconds = 0
        var maxRetries = 4
        var caFile: String?
    }

    private let values = Locked(Values())

    var current: Values { values.withLock { $0 } }

    public func setTimeout(milliseconds: Int) throws {
        guard milliseconds >= 0 else {
            throw ClarifaiError.invalidArgument("timeout_ms must be 0 (no deadline) or positive, got \(milliseconds)")
        }
        values.withLock { $0.timeoutMilliseconds = milliseconds }
    }

    /// How many times a transient failure is retried (0: never).
    public func setMaxRetries(_ retries: Int) throws {
        guard (0...100).contains(retries) else {
            throw ClarifaiError.invalidArgument("max_retries must be between 0 and 100, got \(retries)")
        }
        values.withLock { $0.maxRetries = retries }
    }

    public func setCAFile(_ path: String) throws {
        guard !path.isEmpty else { throw ClarifaiError.invalidArgument("the CA file path is empty") }
        guard access(path, R_OK) == 0 else {
            throw ClarifaiError.invalidArgument("CA file '\(path)' cannot be read: \(systemErrorText())")
        }
        values.withLock { $0.caFile = path }
    }
}

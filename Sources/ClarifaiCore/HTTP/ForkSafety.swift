import CCurl
import Glibc

/// What makes the library safe to use in a child of fork() (Python's multiprocessing, gunicorn
/// --preload, Celery's prefork pool): the child must not touch its parent's connections (both
/// processes would read and write one socket, and get each other's answers) nor wait on the
/// parent's multi handle thread (which the child does not have).
///
/// pthread_atfork handlers hold the registered clients' locks across fork(), so the child never
/// inherits one held by a thread it does not have. In the child, every client drops its parent's
/// libcurl state without cleaning it up (that would send TLS close_notify alerts on the parent's
/// connections) and starts anew; the sockets libcurl opened for the parent are closed, without
/// shutdown(), which leaves the parent's connections as they are.
enum ForkSafety {
    private static let clients = Locked<[ObjectIdentifier: Unmanaged<HTTPClient>]>([:])
    /// Sockets libcurl opened in this process (through `openSocket`), closed in a forked child.
    private static let sockets = Locked<Set<Int32>>([])
    /// A parent's libcurl state, kept by a forked child and never cleaned up (see above).
    nonisolated(unsafe) private static var abandoned: [HTTPClient.Connections] = []

    private static let handlersInstalled: Bool = pthread_atfork(prepare, parent, child) == 0

    static func register(_ client: HTTPClient) {
        _ = handlersInstalled
        clients.withLock { $0[ObjectIdentifier(client)] = .passUnretained(client) }
    }

    static func unregister(_ client: HTTPClient) {
        clients.withLock { $0[ObjectIdentifier(client)] = nil }
    }

    /// CURLOPT_OPENSOCKETFUNCTION: the socket libcurl asked for, close-on-exec, recorded.
    static let openSocket: curl_opensocket_callback = { _, _, address in
        guard let address else { return -1 }
        let socketType = address.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue)
        let descriptor = socket(address.pointee.family, socketType, address.pointee.protocol)
        if descriptor >= 0 { sockets.withLock { _ = $0.insert(descriptor) } }
        return descriptor
    }

    /// CURLOPT_CLOSESOCKETFUNCTION.
    static let closeSocket: curl_closesocket_callback = { _, descriptor in
        sockets.withLock { _ = $0.remove(descriptor) }
        return close(descriptor)
    }

    // The handlers take the locks in one order: the client list, each client's, the sockets; the
    // multi handle threads wait first (they may take a client's lock).
    private static let prepare: @convention(c) () -> Void = {
        Multiplexer.parkAll()
        for client in clients.lock().values { client.takeUnretainedValue().connections.lock() }
        sockets.lock()
    }

    private static let parent: @convention(c) () -> Void = {
        sockets.unlock()
        clients.unlock { registered in
            for client in registered.values { client.takeUnretainedValue().connections.unlock() }
        }
        Multiplexer.unparkAll(inChild: false)
    }

    private static let child: @convention(c) () -> Void = {
        sockets.unlock { inherited in
            for descriptor in inherited { close(descriptor) }
            inherited.removeAll()
        }
        clients.unlock { registered in
            for client in registered.values {
                client.takeUnretainedValue().connections.unlock { state in
                    abandoned.append(state)
                    state = HTTPClient.Connections()
                }
            }
        }
        Multiplexer.unparkAll(inChild: true)
    }
}

import CCurl
import Glibc

/// DNS answers and TLS sessions shared by the easy handles of one client (libcurl's share
/// interface, with a mutex per kind of data), so that a thread's new handle resumes a TLS session
/// instead of a full handshake.
final class CurlShare: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer?
    private let locks: UnsafeMutablePointer<pthread_mutex_t>
    private let lockCount = Int(CURL_LOCK_DATA_LAST.rawValue)

    init() {
        raw = curl_share_init()
        locks = .allocate(capacity: lockCount)
        for index in 0..<lockCount { pthread_mutex_init(locks + index, nil) }
        guard let raw else { return }
        ccurl_share_setopt_pointer(raw, CURLSHOPT_USERDATA, locks)
        ccurl_share_setopt_lock(raw) { _, data, _, locks in
            pthread_mutex_lock(locks!.assumingMemoryBound(to: pthread_mutex_t.self) + Int(data.rawValue))
        }
        ccurl_share_setopt_unlock(raw) { _, data, locks in
            pthread_mutex_unlock(locks!.assumingMemoryBound(to: pthread_mutex_t.self) + Int(data.rawValue))
        }
        ccurl_share_setopt_long(raw, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue))
        ccurl_share_setopt_long(raw, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
    }

    deinit {
        curl_share_cleanup(raw)
        for index in 0..<lockCount { pthread_mutex_destroy(locks + index) }
        locks.deallocate()
    }
}


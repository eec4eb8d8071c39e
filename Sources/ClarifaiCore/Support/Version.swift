import CClarifaiHeader
import CCurl

/// Versions, taken from the public header so that there is one source of truth.
public enum LibraryVersion {
    public static let string: String = CLARIFAI_VERSION_STRING
    public static let number = UInt32(CLARIFAI_VERSION_NUMBER)
    /// The libcurl the process runs with (not the one built against).
    static let libcurl: String = ccurl_version_info().pointee.version.map { String(cString: $0) } ?? "unknown"
    /// Sent as the User-Agent of every request.
    static let userAgent = "libclarifai/\(string) (libcurl/\(libcurl))"
    /// Sent as X-Clarifai-Request-ID-Prefix, so that Clarifai can tell which client made a request.
    static let requestIDPrefix = "libclarifai-c-\(string)"
}

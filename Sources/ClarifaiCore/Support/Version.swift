import CClarifaiHeader
import CCurl

/// Versions, taken from the public header so that there is one source of truth.
public enum LibraryVersion {
    public static let string: String = CLARIFAI_VERSION_STRING
    public static let number = UInt32(CLARIFAI_VERSION_NUMBER)
    /// Sent as the User-Agent of every request.
    static let userAgent: String = {
        let curl = ccurl_version_info().pointee.version.map { String(cString: $0) } ?? "unknown"
        return "libclarifai/\(string) (libcurl/\(curl))"
    }()
    /// Sent as X-Clarifai-Request-ID-Prefix, so that Clarifai can tell which client made a request.
    static let requestIDPrefix = "libclarifai-c-\(string)"
}

/// What the library may show of a text in an error message or a log line: never a secret (a
/// client's token, the credentials of a base URL), whatever brought it there (a proxy echoing
/// the request's headers, libcurl quoting a URL); no NUL, which would cut a C string short; and
/// not more than `maximumBytes` (a 9 MB URL is not quoted whole).
public enum Redaction {
    /// Each secret in use, with how many holders registered it.
    private static let secrets = Locked<[String: Int]>([:])
    /// Shorter secrets are not looked for: they would blank out ordinary words.
    static let shortestSecret = 6
    public static let maximumBytes = 2000
    static let replacement = "***"

    static func register(_ secret: String) {
        guard secret.utf8.count >= shortestSecret else { return }
        secrets.withLock { $0[secret, default: 0] += 1 }
    }

    static func unregister(_ secret: String) {
        guard secret.utf8.count >= shortestSecret else { return }
        secrets.withLock { known in
            known[secret, default: 1] -= 1
            if known[secret] == 0 { known[secret] = nil }
        }
    }

    public static func publicText(_ text: String) -> String {
        // Longest first: a secret that contains another is replaced whole.
        var shown = secrets.withLock { $0.keys.sorted { $0.utf8.count > $1.utf8.count } }
            .reduce(text) { text, secret in text.contains(secret) ? text.replacing(secret, with: replacement) : text }
        if shown.utf8.contains(0) { shown = shown.replacing("\0", with: "\\0") }
        let bytes = Array(shown.utf8)
        guard bytes.count > maximumBytes else { return shown }
        var end = maximumBytes
        while bytes[end] & 0xC0 == 0x80 { end -= 1 }  // not inside a character
        return String(decoding: bytes[..<end], as: UTF8.self) + "... (\(bytes.count - end) more bytes)"
    }
}

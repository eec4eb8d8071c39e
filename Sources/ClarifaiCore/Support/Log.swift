import Glibc

/// The library's only output: debug lines on stderr when CLARIFAI_LOG=debug. They name methods,
/// URLs, statuses, timings and retries; never a secret (Redaction), headers or bodies.
enum Log {
    static let isDebug: Bool = environmentValue("CLARIFAI_LOG")?.lowercased() == "debug"

    static func debug(_ message: @autoclosure () -> String) {
        guard isDebug else { return }
        // One write(2) per line, so lines of concurrent calls do not interleave.
        let line = Array("libclarifai: \(Redaction.publicText(message()))\n".utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// Monotonic time in milliseconds, for deadlines and timings.
func monotonicMilliseconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) * 1000 + Double(now.tv_nsec) / 1_000_000
}

import Glibc

/// Reads an environment variable; nil when unset or empty.
func environmentValue(_ name: String) -> String? {
    guard let value = getenv(name), value.pointee != 0 else { return nil }
    return String(cString: value)
}

/// strerror(errno) as a String.
func systemErrorText() -> String { String(cString: strerror(errno)) }

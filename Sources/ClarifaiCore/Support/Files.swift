import Glibc

/// The content of the regular file at `path`, read with read(2): never memory-mapped, since a
/// mapped file that another process truncates kills the reader with SIGBUS. Anything but a
/// regular file (a directory, a FIFO that would block, a device) is refused, and so is a file
/// larger than `limit` or one that changes size while it is read. `purpose` names the file in
/// messages.
func readRegularFile(_ path: String, purpose: String, limit: Int) throws -> [UInt8] {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (reading a regular file ignores it).
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else {
        throw ClarifaiError.invalidArgument("\(purpose) '\(path)' cannot be opened: \(systemErrorText())")
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
        throw ClarifaiError.invalidArgument("\(purpose) '\(path)' cannot be read: \(systemErrorText())")
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
        throw ClarifaiError.invalidArgument("\(purpose) '\(path)' is not a regular file (a directory, FIFO, device or socket)")
    }
    let size = Int(info.st_size)
    guard size <= limit else {
        throw ClarifaiError.invalidArgument("\(purpose) '\(path)' is \(size) bytes, over the limit of \(limit)")
    }
    var failure: Int32 = 0
    let content = [UInt8](unsafeUninitializedCapacity: size + 1) { buffer, count in
        // One byte more than expected: reading it means the file grew.
        while count <= size {
            let got = read(descriptor, buffer.baseAddress! + count, size + 1 - count)
            if got > 0 {
                count += got
            } else if got == 0 {
                return
            } else if errno != EINTR {
                failure = errno
                return
            }
        }
    }
    guard failure == 0 else {
        throw ClarifaiError.invalidArgument("\(purpose) '\(path)' cannot be read: \(String(cString: strerror(failure)))")
    }
    guard content.count == size else {
        throw ClarifaiError.invalidArgument("\(purpose) '\(path)' changed size while being read (\(size) bytes, then \(content.count))")
    }
    return content
}

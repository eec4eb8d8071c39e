/// gRPC's message framing on HTTP/2: a 1-byte compressed flag, a 4-byte big-endian length, the
/// message. Decoding is incremental, for bodies that arrive in pieces.
struct GRPCFrameDecoder {
    struct FrameError: Error { let message: String }

    private var pending: [UInt8] = []
    private var start = 0
    /// The largest message accepted, after decompression.
    let maximumMessageBytes: Int

    init(maximumMessageBytes: Int) { self.maximumMessageBytes = maximumMessageBytes }

    /// Adds received bytes and hands each complete message, decompressed, to `deliver` (false
    /// stops). `encoding` is the answer's grpc-encoding. Returns false when `deliver` asked to stop.
    mutating func feed(_ data: UnsafeRawBufferPointer, encoding: String,
                       _ deliver: (UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        guard pending.count == start else {
            pending.append(contentsOf: data)
            defer { compact() }
            return try pending.withUnsafeBytes { try GRPCFrameDecoder.deliverFrames($0, from: &start, maximumMessageBytes, encoding, deliver) }
        }
        // Nothing held (a whole unary answer, most pieces of a stream): the messages are read
        // where they are, and only an unfinished one's bytes kept.
        var offset = 0
        let keepGoing = try GRPCFrameDecoder.deliverFrames(data, from: &offset, maximumMessageBytes, encoding, deliver)
        pending.removeAll(keepingCapacity: true)
        start = 0
        if offset < data.count { pending.append(contentsOf: data[offset...]) }
        return keepGoing
    }

    /// Hands each complete message of `bytes` from `offset` on to `deliver`, moving `offset` past it.
    private static func deliverFrames(_ bytes: UnsafeRawBufferPointer, from offset: inout Int, _ maximumMessageBytes: Int,
                                      _ encoding: String, _ deliver: (UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        while bytes.count - offset >= 5 {
            let flag = bytes[offset]
            let length = Int(bytes[offset + 1]) << 24 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard flag <= 1 else { throw FrameError(message: "invalid gRPC frame flag \(flag)") }
            guard flag == 0 || encoding == "gzip" else {
                throw FrameError(message: encoding.isEmpty || encoding == "identity"
                    ? "the server sent a compressed message without saying how (no grpc-encoding)"
                    : "the server compressed a message with \(encoding), which was not offered")
            }
            guard length <= maximumMessageBytes else { throw FrameError(message: "message of \(length) bytes is over the \(maximumMessageBytes)-byte limit (the channel's receive limit)") }
            guard bytes.count - offset - 5 >= length else { break }
            let message = UnsafeRawBufferPointer(rebasing: bytes[(offset + 5)..<(offset + 5 + length)])
            let keepGoing: Bool
            if flag == 1 {
                let inflated: [UInt8]
                do {
                    inflated = try Gzip.decompress(message, limit: maximumMessageBytes)
                } catch {
                    throw FrameError(message: "a compressed message does not decompress: \(error)")
                }
                keepGoing = try inflated.withUnsafeBytes { try deliver($0) }
            } else {
                keepGoing = try deliver(message)
            }
            offset += 5 + length
            if !keepGoing { return false }
        }
        return true
    }

    /// Bytes of an unfinished message left at the end of the body (a truncated frame).
    var leftover: Int { pending.count - start }

    private mutating func compact() {
        if start > 0 && start == pending.count {
            pending.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 20 {
            pending.removeFirst(start)
            start = 0
        }
    }

    /// The 5-byte prefix of a message of `length` bytes.
    static func header(length: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 5) { header, count in
            writeHeader(length: length, to: header.baseAddress!)
            count = 5
        }
    }

    /// A message with its 5-byte prefix, as sent.
    static func frame(_ message: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: message.count + 5) { framed, count in
            writeHeader(length: message.count, to: framed.baseAddress!)
            message.withUnsafeBufferPointer { bytes in
                if let source = bytes.baseAddress { (framed.baseAddress! + 5).initialize(from: source, count: bytes.count) }
            }
            count = message.count + 5
        }
    }

    /// Writes a message's prefix at `target`: not compressed, then its length (big-endian).
    private static func writeHeader(length: Int, to target: UnsafeMutablePointer<UInt8>) {
        target[0] = 0
        UnsafeMutableRawPointer(target + 1).storeBytes(of: UInt32(length).bigEndian, as: UInt32.self)
    }
}

/// gRPC status codes, as carried by the grpc-status trailer.
enum GRPCStatus {
    static let names = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]

    static func name(_ code: Int) -> String { names.indices.contains(code) ? names[code] : "code \(code)" }

    /// UNAVAILABLE and RESOURCE_EXHAUSTED: the server could not take the call now, and did not run it.
    static func isTransient(_ code: Int) -> Bool { code == 14 || code == 8 }

    /// grpc-message is percent-encoded UTF-8.
    static func decodeMessage(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// grpc-timeout: at most 8 digits and a unit.
    static func timeoutHeader(milliseconds: Int) -> String {
        milliseconds < 100_000_000 ? "grpc-timeout: \(milliseconds)m" : "grpc-timeout: \(milliseconds / 1000)S"
    }
}

import COpenSSL

/// Standard base64 (with padding, no line breaks) through libcrypto.
enum Base64 {
    /// Encodes `bytes` and passes the encoded text, without terminator, to `body`.
    static func withEncoded<R>(_ bytes: UnsafeRawBufferPointer,
                               _ body: (UnsafeBufferPointer<CChar>) throws -> R) rethrows -> R {
        let encodedLength = (bytes.count + 2) / 3 * 4
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: encodedLength + 1)
        defer { output.deallocate() }
        // EVP_EncodeBlock takes an int length: encode in chunks that are multiples of 3 bytes.
        let chunk = 3 << 28
        var written = 0
        var offset = 0
        while let base = bytes.baseAddress, offset < bytes.count {
            let length = min(chunk, bytes.count - offset)
            let source = (base + offset).assumingMemoryBound(to: UInt8.self)
            written += Int(EVP_EncodeBlock(output + written, source, Int32(length)))
            offset += length
        }
        return try output.withMemoryRebound(to: CChar.self, capacity: encodedLength + 1) { text in
            try body(UnsafeBufferPointer(start: text, count: written))
        }
    }
}

import CZlib

/// gzip decoding (gRPC messages sent with `grpc-encoding: gzip`) by zlib, which every process
/// using libcurl has loaded already.
enum Gzip {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = "gzip: " + description }
    }

    /// The bytes zlib writes at a time: a bomb is caught within one such step past the limit.
    private static let step = 64 * 1024

    /// Decompresses one or more gzip members (as `gzip -d` reads concatenated ones), their CRC-32
    /// and length checked. Output past `limit` bytes (a decompression bomb) is refused as it
    /// grows, with a Failure naming the limit.
    static func decompress(_ data: UnsafeRawBufferPointer, limit: Int) throws(Failure) -> [UInt8] {
        guard data.count <= Int(UInt32.max) else { throw Failure("a compressed message over 4 GiB") }
        var stream = z_stream()
        guard czlib_inflate_init_gzip(&stream) == Z_OK else { throw Failure("zlib could not start") }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: data.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(data.count)
        var output: [UInt8] = []
        while true {
            // Room for one byte past the limit, which tells that it was passed.
            let room = limit - output.count < step ? limit - output.count + 1 : step
            let before = output.count
            var status: Int32 = Z_OK
            output.append(contentsOf: repeatElement(0, count: room))
            output.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress! + before
                stream.avail_out = uInt(room)
                status = inflate(&stream, Z_NO_FLUSH)
            }
            output.removeLast(Int(stream.avail_out))
            guard output.count <= limit else { throw Failure("decompressed message exceeds the receive limit of \(limit) bytes") }
            switch status {
            case Z_STREAM_END:
                guard stream.avail_in > 0 else { return output }
                // Another member follows.
                guard inflateReset(&stream) == Z_OK else { throw Failure("zlib could not go on") }
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw Failure("the data ends inside a member")
            default:
                throw Failure(stream.msg.map { String(cString: $0) } ?? "invalid data (zlib status \(status))")
            }
        }
    }
}

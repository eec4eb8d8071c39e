/// A field of the server's metadata about a call: gRPC initial metadata (`trailing` false) or
/// trailing metadata, or a header of a REST answer.
public struct MetadataField: Sendable, Equatable {
    /// In lower case.
    public let name: String
    public let value: String
    public let trailing: Bool

    /// Fields of HTTP itself, which are no metadata of the server's (grpcio does not show them
    /// either); so are gRPC's own (grpc-status, grpc-message, grpc-encoding, ...), but for
    /// grpc-status-details-bin, which carries the server's error details.
    static let transportNames: Set<String> = ["content-type", "content-length", "content-encoding", "te", "transfer-encoding",
                                              "connection", "keep-alive"]
}

/// An answer's header and trailer fields, kept as the lines that came and read into fields only
/// when asked (a REST call's never are unless its metadata is): no work on the call path. Used
/// by one thread at a time, as the answer it belongs to.
final class AnswerFields: @unchecked Sendable {
    /// The header and trailer lines as libcurl handed them over, each ending in a line feed.
    private let lines: [UInt8]
    private var read: (fields: [(name: String, value: String)], trailersStart: Int)?

    init(lines: [UInt8]) { self.lines = lines }

    /// In arrival order, names lower-cased.
    var fields: [(name: String, value: String)] { parsed().fields }

    /// Where the trailers (the fields after the header block) begin in `fields`.
    var trailersStart: Int { parsed().trailersStart }

    /// The server's own metadata: the fields but those of HTTP and gRPC themselves. A gRPC answer
    /// of trailers only (grpc-status in its one block of fields) has trailing metadata only.
    var metadata: [MetadataField] {
        let (fields, trailersStart) = parsed()
        let trailersOnly = trailersStart == fields.count && fields.contains { $0.name == "grpc-status" }
        return fields.indices.compactMap { index in
            let (name, value) = fields[index]
            guard !MetadataField.transportNames.contains(name), !name.hasPrefix("grpc-") || name == "grpc-status-details-bin" else {
                return nil
            }
            return MetadataField(name: name, value: value, trailing: trailersOnly || index >= trailersStart)
        }
    }

    /// The last value of field `name` (lower case). Found in the lines as they came, unless
    /// they were read already: a call asks for two or three fields (the gRPC status, the
    /// encoding), which need not turn every header into strings.
    func field(_ name: String) -> String? {
        if let read { return read.fields.last { $0.name == name }?.value }
        guard !name.isEmpty else { return nil }  // a field has a name
        var name = name
        let value: Range<Int>? = name.withUTF8 { key in
            lines.withUnsafeBufferPointer { text in
                var found: Range<Int>?
                var start = 0
                while let end = text[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    if end - start > key.count, text[start + key.count] == UInt8(ascii: ":"),
                       key.indices.allSatisfy({ AnswerFields.lowercased(text[start + $0]) == key[$0] }) {
                        found = start + key.count + 1..<end
                    }
                    start = end + 1
                }
                return found
            }
        }
        return value.map { String(decoding: AnswerFields.trimmed(lines[$0]), as: UTF8.self) }
    }

    private func parsed() -> (fields: [(name: String, value: String)], trailersStart: Int) {
        if let read { return read }
        var fields: [(name: String, value: String)] = []
        var trailersStart: Int?
        var headerBlockEnded = false
        for line in lines.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            if line.starts(with: "HTTP/".utf8) {
                headerBlockEnded = false  // (after an interim 1xx answer)
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                headerBlockEnded = headerBlockEnded || line.allSatisfy { $0 == 0x0D }
                continue
            }
            // Fields after the header block's blank line are trailers (a gRPC answer's may follow
            // its headers without a body between).
            if headerBlockEnded && trailersStart == nil { trailersStart = fields.count }
            fields.append((String(decoding: line[..<colon].map(AnswerFields.lowercased), as: UTF8.self),
                           String(decoding: AnswerFields.trimmed(line[(colon + 1)...]), as: UTF8.self)))
        }
        let made = (fields, trailersStart ?? fields.count)
        read = made
        return made
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// Without leading and trailing spaces, tabs, CRs and LFs.
    static func trimmed<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Bytes.SubSequence {
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return bytes[bytes.endIndex...]
        }
        return bytes[first...last]
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
}

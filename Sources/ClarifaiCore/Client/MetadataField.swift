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

/// An answer's header and trailer fields as they came, read as metadata only when asked (most
/// calls never are: no work on the call path).
struct AnswerFields: Sendable {
    /// In arrival order, names lower-cased.
    let fields: [(name: String, value: String)]
    /// Where the trailers (the fields after the header block) begin in `fields`.
    let trailersStart: Int

    /// The server's own metadata: the fields but those of HTTP and gRPC themselves. A gRPC answer
    /// of trailers only (grpc-status in its one block of fields) has trailing metadata only.
    var metadata: [MetadataField] {
        let trailersOnly = trailersStart == fields.count && fields.contains { $0.name == "grpc-status" }
        return fields.indices.compactMap { index in
            let (name, value) = fields[index]
            guard !MetadataField.transportNames.contains(name), !name.hasPrefix("grpc-") || name == "grpc-status-details-bin" else {
                return nil
            }
            return MetadataField(name: name, value: value, trailing: trailersOnly || index >= trailersStart)
        }
    }
}

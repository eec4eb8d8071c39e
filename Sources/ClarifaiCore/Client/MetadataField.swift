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

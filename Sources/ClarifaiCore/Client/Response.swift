import CClarifaiHeader
import Glibc

/// A completed call's answer: the response message as a JSON tree (REST form), its status, and
/// C struct views of its outputs built on first use. Strings and buffers handed out point into
/// memory the response owns until it is deinitialized. One thread at a time (see clarifai.h).
public final class Response: @unchecked Sendable {
    public static let successCode: Int32 = 10000

    private let tree: JSONTree
    /// The message as NUL-terminated JSON text.
    public let json: UnsafeMutablePointer<CChar>
    /// Full name of the response message type, e.g. clarifai.api.MultiOutputResponse.
    let messageType: String
    private var binary: UnsafeMutableRawBufferPointer?
    public let statusCode: Int32
    private let status: JSONNode?
    private var conceptBuffers: [Int: UnsafeMutableBufferPointer<clarifai_concept>] = [:]
    private var regionBuffers: [Int: UnsafeMutableBufferPointer<clarifai_region>] = [:]
    private var regionConceptBuffers: [UnsafeMutableBufferPointer<clarifai_concept>] = []
    private var embeddingBuffers: [Int: UnsafeMutableBufferPointer<Float>] = [:]

    /// Parses a REST answer; throws .protocol when it is not a JSON object with a Clarifai status.
    /// The text is kept as it came, so the JSON the caller reads is the server's own.
    init(restBody body: [UInt8], origin: String, messageType: String) throws {
        let tree: JSONTree
        do {
            tree = try body.withUnsafeBytes { try JSONTree.parse($0, what: "\(origin): answer") }
        } catch let error as ClarifaiError {
            throw ClarifaiError(.protocol, error.message)
        }
        guard let code = Response.statusCode(of: tree.root) else {
            throw ClarifaiError(.protocol, "\(origin): answer is JSON without a Clarifai status: \(Response.excerpt(body))")
        }
        self.tree = tree
        self.messageType = messageType
        statusCode = code
        status = tree.root["status"]
        json = body.withUnsafeBytes { Response.cString(copying: $0) }
    }

    /// A message received as protobuf binary (gRPC); its JSON is made at once, in the REST form.
    init(protoMessage bytes: UnsafeRawBufferPointer, messageType: String) throws {
        let json: [UInt8]
        do {
            json = try Codec.protoToJSON(typeName: messageType, bytes: bytes)
        } catch let error as ClarifaiError {
            throw ClarifaiError(.protocol, "the answer does not decode as \(error.message)")
        }
        tree = try json.withUnsafeBytes { try JSONTree.parse($0, what: messageType) }
        self.messageType = messageType
        statusCode = Response.statusCode(of: tree.root) ?? 0
        status = tree.root["status"]
        self.json = json.withUnsafeBytes { Response.cString(copying: $0) }
        binary = Response.ownedCopy(of: bytes)
    }

    /// Wraps a message built in the library (e.g. merged batch outputs).
    init(tree: JSONTree, messageType: String) {
        self.tree = tree
        self.messageType = messageType
        statusCode = Response.statusCode(of: tree.root) ?? 0
        status = tree.root["status"]
        json = strdup(tree.root.serialized())
    }

    deinit {
        free(json)
        binary?.deallocate()
        conceptBuffers.values.forEach { $0.deallocate() }
        regionBuffers.values.forEach { $0.deallocate() }
        regionConceptBuffers.forEach { $0.deallocate() }
        embeddingBuffers.values.forEach { $0.deallocate() }
    }

    var root: JSONNode { tree.root }

    public var isSuccess: Bool { statusCode == Response.successCode }
    public var statusDescriptionPointer: UnsafePointer<CChar> { Response.text(status?["description"]) }
    public var statusDetailsPointer: UnsafePointer<CChar> { Response.text(status?["details"]) }
    public var requestIDPointer: UnsafePointer<CChar> { Response.text(status?["req_id"] ?? status?["reqId"]) }
    public var statusDescription: String { String(cString: statusDescriptionPointer) }
    public var statusDetails: String { String(cString: statusDetailsPointer) }
    public var requestID: String { String(cString: requestIDPointer) }

    /// The message as protobuf binary, converted from the JSON on first use. Fields the built-in
    /// schema does not know (a newer server's) are left out.
    public func proto() throws -> UnsafeRawBufferPointer {
        if let binary { return UnsafeRawBufferPointer(binary) }
        let bytes: [UInt8]
        do {
            bytes = try Codec.jsonToProto(typeName: messageType, json: UnsafeRawBufferPointer(start: json, count: strlen(json)),
                                          ignoresUnknownFields: true)
        } catch let error as ClarifaiError {
            throw ClarifaiError(.protocol, "the answer does not convert to \(messageType): \(error.message)")
        }
        let stored = bytes.withUnsafeBytes { Response.ownedCopy(of: $0) }
        binary = stored
        return UnsafeRawBufferPointer(stored)
    }

    public var outputCount: Int { tree.root["outputs"]?.count ?? 0 }

    /// outputs[index].data.concepts as C structs; empty for an output without concepts.
    public func concepts(output index: Int) throws -> UnsafeBufferPointer<clarifai_concept> {
        if let cached = conceptBuffers[index] { return UnsafeBufferPointer(cached) }
        let buffer = Response.conceptBuffer(try data(of: index)?["concepts"])
        conceptBuffers[index] = buffer
        return UnsafeBufferPointer(buffer)
    }

    /// outputs[index].data.regions as C structs, with their bounding boxes and concepts.
    public func regions(output index: Int) throws -> UnsafeBufferPointer<clarifai_region> {
        if let cached = regionBuffers[index] { return UnsafeBufferPointer(cached) }
        let regions = try data(of: index)?["regions"]?.elements ?? []
        let buffer = UnsafeMutableBufferPointer<clarifai_region>.allocate(capacity: regions.count)
        for (position, region) in regions.enumerated() {
            let box = region.at(["region_info", "bounding_box"])
            let concepts = Response.conceptBuffer(region.at(["data", "concepts"]))
            regionConceptBuffers.append(concepts)
            buffer[position] = clarifai_region(
                id: Response.text(region["id"]),
                top_row: Response.float(box?["top_row"]), left_col: Response.float(box?["left_col"]),
                bottom_row: Response.float(box?["bottom_row"]), right_col: Response.float(box?["right_col"]),
                value: Response.float(region["value"]),
                concepts: UnsafePointer(concepts.baseAddress), concept_count: concepts.count)
        }
        regionBuffers[index] = buffer
        return UnsafeBufferPointer(buffer)
    }

    /// outputs[index].data.text.raw, or nil.
    public func text(output index: Int) -> UnsafePointer<CChar>? {
        guard index < outputCount else { return nil }
        return tree.root["outputs"]?[index]?.at(["data", "text", "raw"])?.cString
    }

    /// outputs[index].data.embeddings[0].vector; empty for an output without an embedding.
    public func embedding(output index: Int) throws -> UnsafeBufferPointer<Float> {
        if let cached = embeddingBuffers[index] { return UnsafeBufferPointer(cached) }
        let values = try data(of: index)?["embeddings"]?[0]?["vector"]?.elements ?? []
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
        for (position, value) in values.enumerated() { buffer[position] = Float(value.number ?? .nan) }
        embeddingBuffers[index] = buffer
        return UnsafeBufferPointer(buffer)
    }

    private func data(of index: Int) throws -> JSONNode? {
        guard index < outputCount else {
            throw ClarifaiError.invalidArgument("output \(index) is out of range: the response has \(outputCount) output(s)")
        }
        return tree.root["outputs"]?[index]?["data"]
    }

    private static func conceptBuffer(_ concepts: JSONNode?) -> UnsafeMutableBufferPointer<clarifai_concept> {
        let elements = concepts?.elements ?? []
        let buffer = UnsafeMutableBufferPointer<clarifai_concept>.allocate(capacity: elements.count)
        for (position, concept) in elements.enumerated() {
            buffer[position] = clarifai_concept(id: text(concept["id"]), name: text(concept["name"]),
                                                value: float(concept["value"]), app_id: text(concept["app_id"]))
        }
        return buffer
    }

    /// The Clarifai status code of a message; the REST API may write it as a number or an enum name.
    static func statusCode(of message: JSONNode) -> Int32? {
        guard let code = message["status"]?["code"] else { return nil }
        if let number = code.integer { return Int32(truncatingIfNeeded: number) }
        guard let name = code.string else { return nil }
        return Schema.official.enums["clarifai.api.status.StatusCode"]?.number(named: name)
    }

    nonisolated(unsafe) private static let emptyText: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

    private static func text(_ node: JSONNode?) -> UnsafePointer<CChar> { node?.cString ?? emptyText }

    private static func float(_ node: JSONNode?) -> Float { Float(node?.number ?? 0) }

    /// A malloc'd NUL-terminated copy (freed with free, like strdup's).
    private static func cString(copying bytes: UnsafeRawBufferPointer) -> UnsafeMutablePointer<CChar> {
        let text = malloc(bytes.count + 1)!.assumingMemoryBound(to: CChar.self)
        if let base = bytes.baseAddress { UnsafeMutableRawPointer(text).copyMemory(from: base, byteCount: bytes.count) }
        text[bytes.count] = 0
        return text
    }

    /// A copy the response owns (never a null base address, even when empty).
    private static func ownedCopy(of bytes: UnsafeRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        if let base = bytes.baseAddress { buffer.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count])
    }

    /// The start of a body for an error message: printable ASCII only, at most 200 characters.
    static func excerpt(_ body: [UInt8]) -> String {
        let printable = body.prefix(200).map { (32...126).contains($0) ? Character(UnicodeScalar($0)) : " " }
        return String(printable) + (body.count > 200 ? "..." : "")
    }
}

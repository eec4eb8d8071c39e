import CClarifaiHeader
import Glibc

/// A completed call's answer, held as protobuf binary: its status read at once, the C struct
/// views of its outputs read straight from the binary on first use, the JSON text made on first
/// request (or kept as the REST server sent it). Strings and buffers handed out point into memory
/// the response owns until it is deinitialized. One thread at a time (see clarifai.h).
public final class Response: HandleObject, @unchecked Sendable {
    public static let successCode: Int32 = 10000

    /// Full name of the response message type, e.g. clarifai.api.MultiOutputResponse.
    let messageType: String
    /// The message as protobuf binary; `outputs` point into it.
    private let binary: UnsafeMutableRawBufferPointer
    public let statusCode: Int32
    public let statusDescriptionPointer: UnsafePointer<CChar>
    public let statusDetailsPointer: UnsafePointer<CChar>
    public let requestIDPointer: UnsafePointer<CChar>
    /// The statuses of the answer as it travelled: HTTP (0: none) and gRPC (-1: none, REST).
    var httpStatus = 0
    var grpcStatus = -1
    /// The fields of a unary call's answer (none for a stream's messages).
    var answerFields: AnswerFields?
    /// The server's metadata and its C strings (in `strings`), made on first request.
    private var metadataRead: (fields: [MetadataField], strings: [(name: UnsafePointer<CChar>, value: UnsafePointer<CChar>)])?
    /// The payload of each entry of `outputs` (when the message type has Output entries).
    private let outputs: [UnsafeRawBufferPointer]
    /// Whether the message carries a `status` (a REST answer without one is not a Clarifai reply).
    private let hasStatus: Bool
    private var jsonText: UnsafeMutablePointer<CChar>?
    /// NUL-terminated copies of the strings in struct views and the status.
    let strings: StringArena
    /// The strings handed out by path (ResponsePath), so that asking again adds nothing.
    var stringsByPath: [String: UnsafePointer<CChar>] = [:]
    private var conceptBuffers: [Int: UnsafeMutableBufferPointer<clarifai_concept>] = [:]
    private var conceptTexts: [Int: (text: UnsafeRawBufferPointer, count: Int)] = [:]
    private var regionBuffers: [Int: UnsafeMutableBufferPointer<clarifai_region>] = [:]
    private var regionConceptBuffers: [UnsafeMutableBufferPointer<clarifai_concept>] = []
    private var embeddingBuffers: [Int: UnsafeMutableBufferPointer<Float>] = [:]
    private var texts: [Int: UnsafePointer<CChar>?] = [:]

    /// Reads a REST answer into the response type (fields a newer server added are skipped);
    /// throws .protocol when it is not JSON of that type with a Clarifai status.
    convenience init(restBody body: [UInt8], origin: @autoclosure () -> String, messageType: String) throws {
        let binary: [UInt8]
        do {
            binary = try body.withUnsafeBytes { try Codec.jsonToProto(typeName: messageType, json: $0, ignoresUnknownFields: true) }
        } catch let error as ClarifaiError {
            throw ClarifaiError(.protocol, "\(origin()): answer: \(error.message)")
        }
        try self.init(owning: binary.withUnsafeBytes { Response.ownedCopy(of: $0) }, messageType: messageType)
        guard hasStatus else {
            throw ClarifaiError(.protocol, "\(origin()): answer is JSON without a Clarifai status: \(Response.excerpt(body))")
        }
    }

    /// A message received as protobuf binary (gRPC), checked as the official runtime checks it.
    convenience init(protoMessage bytes: UnsafeRawBufferPointer, messageType: String) throws {
        guard let type = Schema.official.message(messageType) else { throw ClarifaiError(.internal, "unknown type \(messageType)") }
        do {
            try WireFields.validate(bytes, type: type, schema: .official)
        } catch {
            throw ClarifaiError(.protocol, "the answer does not decode as \(messageType): \(error.message)")
        }
        try self.init(binary: bytes, messageType: messageType)
    }

    /// A message already checked, or built by the library (e.g. merged batch outputs).
    convenience init(binary bytes: UnsafeRawBufferPointer, messageType: String) throws {
        try self.init(owning: Response.ownedCopy(of: bytes), messageType: messageType)
    }

    /// Takes over `binary` (freed with the response, or at once when this throws), reads its
    /// status and finds its outputs.
    private init(owning binary: UnsafeMutableRawBufferPointer, messageType: String) throws {
        self.messageType = messageType
        self.binary = binary
        guard let fields = try? ResponseFields.official.get() else {
            binary.deallocate()
            throw ClarifaiError(.internal, "the schema lacks the fields of responses")
        }
        let message = UnsafeRawBufferPointer(binary)
        let type = Schema.official.message(messageType)
        let statusField = type?.field(named: "status").flatMap { $0.typeName == ResponseFields.statusType ? $0 : nil }
        let outputsField = type?.field(named: "outputs").flatMap { $0.typeName == ResponseFields.outputType ? $0 : nil }
        var statusParts: [UnsafeRawBufferPointer] = []
        var outputs: [UnsafeRawBufferPointer] = []
        do {
            try WireFields.forEach(message) { number, value in
                guard let payload = value.payload else { return }
                if number == statusField?.number { statusParts.append(payload) }
                if number == outputsField?.number { outputs.append(payload) }
            }
        } catch {
            binary.deallocate()
            throw ClarifaiError(.protocol, "the answer does not decode as \(messageType): \(error)")
        }
        self.outputs = outputs
        hasStatus = !statusParts.isEmpty
        var code: Int32 = 0
        var description: UnsafeRawBufferPointer?, details: UnsafeRawBufferPointer?, requestID: UnsafeRawBufferPointer?
        // A message seen in parts is their merge: later values win.
        for part in statusParts {
            try? WireFields.forEach(part) { number, value in
                switch number {
                case fields.statusCode: code = value.varint.map { Int32(truncatingIfNeeded: $0) } ?? code
                case fields.statusDescription: description = value.payload ?? description
                case fields.statusDetails: details = value.payload ?? details
                case fields.statusRequestID: requestID = value.payload ?? requestID
                default: break
                }
            }
        }
        statusCode = code
        let strings = StringArena()
        statusDescriptionPointer = strings.add(description)
        statusDetailsPointer = strings.add(details)
        requestIDPointer = strings.add(requestID)
        self.strings = strings
        super.init(tag: HandleTag.response)
    }

    deinit {
        binary.deallocate()
        free(jsonText)
        conceptBuffers.values.forEach { $0.deallocate() }
        regionBuffers.values.forEach { $0.deallocate() }
        regionConceptBuffers.forEach { $0.deallocate() }
        embeddingBuffers.values.forEach { $0.deallocate() }
    }

    public var isSuccess: Bool { statusCode == Response.successCode }
    public var statusDescription: String { String(cString: statusDescriptionPointer) }
    public var statusDetails: String { String(cString: statusDetailsPointer) }
    public var requestID: String { String(cString: requestIDPointer) }

    /// The message as protobuf binary.
    public var proto: UnsafeRawBufferPointer { UnsafeRawBufferPointer(binary) }

    /// The message as NUL-terminated JSON text in the REST form, written from the binary on first
    /// use: the same text whichever channel carried it (not the REST server's own, whose spacing
    /// and empty fields vary). Throws .protocol when the binary has no JSON form (e.g. a timestamp
    /// out of range).
    public func json() throws -> UnsafePointer<CChar> {
        if let jsonText { return UnsafePointer(jsonText) }
        let text: [UInt8]
        do {
            text = try Codec.protoToJSON(typeName: messageType, bytes: UnsafeRawBufferPointer(binary))
        } catch let error as ClarifaiError {
            throw ClarifaiError(.protocol, "the answer has no JSON form: \(error.message)")
        }
        let made = text.withUnsafeBytes { Response.cString(copying: $0) }
        jsonText = made
        return UnsafePointer(made)
    }

    public var outputCount: Int { outputs.count }

    /// The payload of outputs[index], with its status and input parts (for merging batches).
    func output(_ index: Int) -> UnsafeRawBufferPointer { outputs[index] }

    /// A response of the same type holding outputs[index] alone, whose status is the output's
    /// (with this response's request id); with index nil, this response's status alone.
    func singleOutput(_ index: Int?) throws -> Response {
        guard let type = Schema.official.message(messageType), let statusField = type.field(named: "status"),
              let outputsField = type.field(named: "outputs"), let fields = try? ResponseFields.official.get() else {
            throw ClarifaiError(.internal, "\(messageType) has no outputs and status in the schema")
        }
        var writer = WireWriter()
        if let index {
            try WireFields.forEach(outputs[index]) { number, value in
                if number == fields.outputStatus { writer.field(statusField.number, value) }
            }
            // A second part of the status, which protobuf merges into the first.
            let status = writer.beginLengthDelimited(statusField.number)
            writer.string(fields.statusRequestID, requestID)
            writer.endLengthDelimited(status)
            writer.field(outputsField.number, .payload(outputs[index]))
        } else {
            try WireFields.forEach(proto) { number, value in
                if number == statusField.number { writer.field(number, value) }
            }
        }
        return try writer.bytes.withUnsafeBytes { try Response(binary: $0, messageType: messageType) }
    }

    // MARK: Struct views

    /// outputs[index].data.concepts as C structs; empty for an output without concepts.
    public func concepts(output index: Int) throws -> UnsafeBufferPointer<clarifai_concept> {
        if let cached = conceptBuffers[index] { return UnsafeBufferPointer(cached) }
        let fields = try ResponseFields.official.get()
        let concepts = try data(of: index, fields).map { data in
            try decoding("outputs[\(index)].data") { try WireFields.payloads(data, fields.dataConcepts) }
        } ?? []
        let buffer = try conceptBuffer(concepts, fields)
        conceptBuffers[index] = buffer
        return UnsafeBufferPointer(buffer)
    }

    /// outputs[index].data.concepts as one block of text, for bindings that build their own
    /// objects from it in one step: per concept its id, name, value (the shortest decimal that
    /// reads back as the same Float; nan, inf, -inf) and app_id, each ended by a NUL byte; the
    /// strings as the struct views have them.
    public func conceptsText(output index: Int) throws -> (text: UnsafeRawBufferPointer, count: Int) {
        if let cached = conceptTexts[index] { return cached }
        let concepts = try self.concepts(output: index)
        var text: [UInt8] = []
        text.reserveCapacity(concepts.count * 64)
        func append(_ string: UnsafePointer<CChar>) {
            text.append(contentsOf: UnsafeRawBufferPointer(start: string, count: strlen(string)))
            text.append(0)
        }
        for concept in concepts {
            append(concept.id)
            append(concept.name)
            let value = concept.value
            text.append(contentsOf: (value.isNaN ? "nan" : value.isInfinite ? (value < 0 ? "-inf" : "inf") : value.description).utf8)
            text.append(0)
            append(concept.app_id)
        }
        let made = (text: strings.keep(text), count: concepts.count)
        conceptTexts[index] = made
        return made
    }

    /// outputs[index].data.regions as C structs, with their bounding boxes and concepts.
    public func regions(output index: Int) throws -> UnsafeBufferPointer<clarifai_region> {
        if let cached = regionBuffers[index] { return UnsafeBufferPointer(cached) }
        let fields = try ResponseFields.official.get()
        let regions = try data(of: index, fields).map { data in
            try decoding("outputs[\(index)].data") { try WireFields.payloads(data, fields.dataRegions) }
        } ?? []
        let buffer = UnsafeMutableBufferPointer<clarifai_region>.allocate(capacity: regions.count)
        var conceptBuffers: [UnsafeMutableBufferPointer<clarifai_concept>] = []
        do {
            for (position, region) in regions.enumerated() {
                let (read, concepts) = try self.region(region, fields, place: "outputs[\(index)].data.regions[\(position)]")
                conceptBuffers.append(concepts)
                buffer[position] = read
            }
        } catch {
            buffer.deallocate()
            conceptBuffers.forEach { $0.deallocate() }
            throw error
        }
        regionConceptBuffers += conceptBuffers
        regionBuffers[index] = buffer
        return UnsafeBufferPointer(buffer)
    }

    /// One Region message as a C struct, with its concepts' buffer (the caller keeps it).
    private func region(_ region: UnsafeRawBufferPointer, _ fields: ResponseFields,
                        place: String) throws -> (clarifai_region, UnsafeMutableBufferPointer<clarifai_concept>) {
        var id: UnsafeRawBufferPointer?, value: Float = 0
        var box = (top: Float(0), left: Float(0), bottom: Float(0), right: Float(0))
        var concepts: [UnsafeRawBufferPointer] = []
        try decoding(place) {
            var infoParts: [UnsafeRawBufferPointer] = [], dataParts: [UnsafeRawBufferPointer] = []
            try WireFields.forEach(region) { number, field in
                switch number {
                case fields.regionID: id = field.payload ?? id
                case fields.regionValue: value = field.float ?? value
                case fields.regionInfo: if let part = field.payload { infoParts.append(part) }
                case fields.regionData: if let part = field.payload { dataParts.append(part) }
                default: break
                }
            }
            for boxPart in try infoParts.flatMap({ try WireFields.payloads($0, fields.infoBoundingBox) }) {
                try WireFields.forEach(boxPart) { number, field in
                    switch number {
                    case fields.boxTop: box.top = field.float ?? box.top
                    case fields.boxLeft: box.left = field.float ?? box.left
                    case fields.boxBottom: box.bottom = field.float ?? box.bottom
                    case fields.boxRight: box.right = field.float ?? box.right
                    default: break
                    }
                }
            }
            concepts = try dataParts.flatMap { try WireFields.payloads($0, fields.dataConcepts) }
        }
        let conceptBuffer = try self.conceptBuffer(concepts, fields)
        return (clarifai_region(id: strings.add(id), top_row: box.top, left_col: box.left, bottom_row: box.bottom,
                                right_col: box.right, value: value, concepts: UnsafePointer(conceptBuffer.baseAddress),
                                concept_count: conceptBuffer.count),
                conceptBuffer)
    }

    /// outputs[index].data.text.raw, or nil when absent.
    public func text(output index: Int) -> UnsafePointer<CChar>? {
        if let cached = texts[index] { return cached }
        guard index >= 0, index < outputCount, let fields = try? ResponseFields.official.get(),
              let data = try? data(of: index, fields) else { return nil }
        var raw: UnsafeRawBufferPointer?
        for text in (try? WireFields.payloads(data, fields.dataText)) ?? [] {
            raw = (try? WireFields.payloads(text, fields.textRaw))?.last ?? raw
        }
        let text = raw.map { strings.add($0) }
        texts[index] = text
        return text
    }

    /// outputs[index].data.embeddings[0].vector; empty for an output without an embedding.
    public func embedding(output index: Int) throws -> UnsafeBufferPointer<Float> {
        if let cached = embeddingBuffers[index] { return UnsafeBufferPointer(cached) }
        let fields = try ResponseFields.official.get()
        var values: [Float] = []
        let embeddings = try data(of: index, fields).map { data in
            try decoding("outputs[\(index)].data") { try WireFields.payloads(data, fields.dataEmbeddings) }
        } ?? []
        if let first = embeddings.first {
            try decoding("outputs[\(index)].data.embeddings[0].vector") {
                try WireFields.forEach(first) { number, field in
                    guard number == fields.embeddingVector else { return }
                    switch field {
                    case .bits(let bits, .fixed32): values.append(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
                    case .payload(let packed):
                        guard packed.count % 4 == 0 else { throw WireReader.WireError(description: "packed floats of \(packed.count) bytes") }
                        for offset in stride(from: 0, to: packed.count, by: 4) {
                            values.append(Float(bitPattern: UInt32(littleEndian: packed.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
                        }
                    default: break
                    }
                }
            }
        }
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
        _ = buffer.initialize(from: values)
        embeddingBuffers[index] = buffer
        return UnsafeBufferPointer(buffer)
    }

    /// outputs[index].data (its parts merged), or nil when the output has none.
    private func data(of index: Int, _ fields: ResponseFields) throws -> UnsafeRawBufferPointer? {
        guard index >= 0, index < outputCount else {
            throw ClarifaiError.invalidArgument("output \(index) is out of range: the response has \(outputCount) output(s)")
        }
        let parts = try decoding("outputs[\(index)]") { try WireFields.payloads(outputs[index], fields.outputData) }
        guard parts.count > 1 else { return parts.first }
        // Rare: a message sent in parts reads as their concatenation.
        return strings.keep(parts.flatMap { Array($0) })
    }

    private func conceptBuffer(_ concepts: [UnsafeRawBufferPointer], _ fields: ResponseFields) throws -> UnsafeMutableBufferPointer<clarifai_concept> {
        let buffer = UnsafeMutableBufferPointer<clarifai_concept>.allocate(capacity: concepts.count)
        for (position, concept) in concepts.enumerated() {
            var id: UnsafeRawBufferPointer?, name: UnsafeRawBufferPointer?, appID: UnsafeRawBufferPointer?, value: Float = 0
            do {
                try WireFields.forEach(concept) { number, field in
                    switch number {
                    case fields.conceptID: id = field.payload ?? id
                    case fields.conceptName: name = field.payload ?? name
                    case fields.conceptValue: value = field.float ?? value
                    case fields.conceptAppID: appID = field.payload ?? appID
                    default: break
                    }
                }
            } catch {
                buffer.deallocate()
                throw ClarifaiError(.protocol, "concept \(position) does not decode: \(error)")
            }
            buffer[position] = clarifai_concept(id: strings.add(id), name: strings.add(name), value: value, app_id: strings.add(appID))
        }
        return buffer
    }

    /// Runs `body`, reporting a malformed part of the binary as .protocol naming `place`.
    private func decoding<T>(_ place: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as WireReader.WireError {
            throw ClarifaiError(.protocol, "\(place()) does not decode: \(error.description)")
        }
    }

    /// The server's metadata on the answer (a unary call's; none for a stream's messages).
    public var metadata: [MetadataField] { readMetadata().fields }

    /// Field `index` of the metadata as C strings the response owns; nil past the end.
    public func metadataField(_ index: Int) -> (name: UnsafePointer<CChar>, value: UnsafePointer<CChar>, trailing: Bool)? {
        let (fields, texts) = readMetadata()
        guard index >= 0, index < fields.count else { return nil }
        return (texts[index].name, texts[index].value, fields[index].trailing)
    }

    private func readMetadata() -> (fields: [MetadataField], strings: [(name: UnsafePointer<CChar>, value: UnsafePointer<CChar>)]) {
        if let metadataRead { return metadataRead }
        let fields = answerFields?.metadata ?? []
        let read = (fields, fields.map { field in
            (name: Array(field.name.utf8).withUnsafeBytes { strings.add($0) },
             value: Array(field.value.utf8).withUnsafeBytes { strings.add($0) })
        })
        metadataRead = read
        return read
    }

    // MARK: Memory

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

/// NUL-terminated strings and byte copies that live as long as their arena: carved from large
/// blocks, so a response with hundreds of concept names makes a few allocations, not hundreds.
final class StringArena {
    private static let blockSize = 16 * 1024
    private var blocks: [UnsafeMutableRawPointer] = []
    private var free = 0
    private var next: UnsafeMutableRawPointer?

    nonisolated(unsafe) private static let emptyText: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

    deinit { blocks.forEach { Glibc.free($0) } }

    /// A NUL-terminated copy of `bytes`; "" (shared) for nil or empty.
    func add(_ bytes: UnsafeRawBufferPointer?) -> UnsafePointer<CChar> {
        guard let bytes, !bytes.isEmpty else { return StringArena.emptyText }
        let copy = reserve(bytes.count + 1)
        copy.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        copy.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
        return UnsafePointer(copy.assumingMemoryBound(to: CChar.self))
    }

    /// A copy of `bytes` that lives as long as the arena.
    func keep(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let copy = reserve(max(bytes.count, 1))
        bytes.withUnsafeBytes { if let base = $0.baseAddress { copy.copyMemory(from: base, byteCount: $0.count) } }
        return UnsafeRawBufferPointer(start: copy, count: bytes.count)
    }

    private func reserve(_ count: Int) -> UnsafeMutableRawPointer {
        if count > free || next == nil {
            let size = max(count, StringArena.blockSize)
            let block = malloc(size)!
            blocks.append(block)
            next = block
            free = size
        }
        let start = next!
        next = start + count
        free -= count
        return start
    }
}

/// Field numbers of the messages the struct views read, looked up by name in the schema once.
struct ResponseFields: Sendable {
    static let statusType = "clarifai.api.status.Status"
    static let outputType = "clarifai.api.Output"
    static let official = Result { try ResponseFields(Schema.official) }

    let statusCode, statusDescription, statusDetails, statusRequestID: Int
    let outputStatus, outputInput, outputData, inputID: Int
    let dataConcepts, dataRegions, dataText, dataEmbeddings: Int
    let conceptID, conceptName, conceptValue, conceptAppID: Int
    let regionID, regionInfo, regionValue, regionData: Int
    let infoBoundingBox, boxTop, boxLeft, boxBottom, boxRight: Int
    let textRaw, embeddingVector: Int

    init(_ schema: Schema) throws {
        func number(_ type: String, _ name: String) throws -> Int {
            guard let field = schema.message(type)?.field(named: name) else {
                throw ClarifaiError(.internal, "\(type).\(name) is missing from the schema")
            }
            return field.number
        }
        statusCode = try number(ResponseFields.statusType, "code")
        statusDescription = try number(ResponseFields.statusType, "description")
        statusDetails = try number(ResponseFields.statusType, "details")
        statusRequestID = try number(ResponseFields.statusType, "req_id")
        outputStatus = try number(ResponseFields.outputType, "status")
        outputInput = try number(ResponseFields.outputType, "input")
        outputData = try number(ResponseFields.outputType, "data")
        inputID = try number("clarifai.api.Input", "id")
        dataConcepts = try number("clarifai.api.Data", "concepts")
        dataRegions = try number("clarifai.api.Data", "regions")
        dataText = try number("clarifai.api.Data", "text")
        dataEmbeddings = try number("clarifai.api.Data", "embeddings")
        conceptID = try number("clarifai.api.Concept", "id")
        conceptName = try number("clarifai.api.Concept", "name")
        conceptValue = try number("clarifai.api.Concept", "value")
        conceptAppID = try number("clarifai.api.Concept", "app_id")
        regionID = try number("clarifai.api.Region", "id")
        regionInfo = try number("clarifai.api.Region", "region_info")
        regionValue = try number("clarifai.api.Region", "value")
        regionData = try number("clarifai.api.Region", "data")
        infoBoundingBox = try number("clarifai.api.RegionInfo", "bounding_box")
        boxTop = try number("clarifai.api.BoundingBox", "top_row")
        boxLeft = try number("clarifai.api.BoundingBox", "left_col")
        boxBottom = try number("clarifai.api.BoundingBox", "bottom_row")
        boxRight = try number("clarifai.api.BoundingBox", "right_col")
        textRaw = try number("clarifai.api.Text", "raw")
        embeddingVector = try number("clarifai.api.Embedding", "vector")
    }
}

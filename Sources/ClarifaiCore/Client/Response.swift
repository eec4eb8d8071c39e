import CClarifaiHeader
import Glibc

/// "Method: VERB URL", the start of a REST call's messages: kept as its parts, written only when
/// a message is.
struct RESTOrigin {
    let methodName: String
    let verb: String
    let url: String

    var text: String { "\(methodName): \(verb) \(HTTPRequest.displayed(url))" }
}

/// A completed call's answer, held as protobuf binary: its status read at once, the C struct
/// views of its outputs read straight from the binary on first use, the JSON text made on first
/// request. A REST answer is held as its JSON text, read as far as asked (RESTAnswer), until
/// something needs the binary. Strings and buffers handed out point into memory the response
/// owns until it is deinitialized. One thread at a time (see clarifai.h).
public final class Response: HandleObject, @unchecked Sendable {
    public static let successCode: Int32 = 10000

    /// The response message type, e.g. clarifai.api.MultiOutputResponse.
    let type: MessageType
    /// The message as protobuf binary and its outputs; for a REST answer read lazily, made from
    /// its JSON on first need (wholeMessage()).
    private var message: Message?
    /// A REST answer as its JSON text, read as far as asked.
    private var restAnswer: RESTAnswer?
    /// Names the call in the errors of a REST answer converted late.
    private let origin: RESTOrigin?
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
    private var jsonText: UnsafeMutablePointer<CChar>?
    /// NUL-terminated copies of the strings in struct views and the status.
    let strings: StringArena
    /// The strings of the concepts read from the message, made on first use.
    private var conceptStrings: StringsInPlace?
    /// The strings handed out by path (ResponsePath), so that asking again adds nothing.
    var stringsByPath: [String: UnsafePointer<CChar>] = [:]
    private var conceptBuffers = PerOutput<UnsafeMutableBufferPointer<clarifai_concept>>()
    private var conceptTexts = PerOutput<(text: UnsafeRawBufferPointer, count: Int)>()
    private var regionBuffers = PerOutput<UnsafeMutableBufferPointer<clarifai_region>>()
    private var regionConceptBuffers: [UnsafeMutableBufferPointer<clarifai_concept>] = []
    private var embeddingBuffers = PerOutput<UnsafeMutableBufferPointer<Float>>()
    private var texts = PerOutput<UnsafePointer<CChar>?>()
    private var outputsRead: OutputsText?

    /// A REST answer of the response type (fields a newer server added are skipped); throws
    /// .protocol when it is not JSON with a Clarifai status. Read lazily when it has the plain
    /// form (RESTAnswer): its other fields are then checked against the type when first read.
    convenience init(restBody body: [UInt8], origin: RESTOrigin, of method: Method) throws {
        let type = try Response.type(of: method)
        let strings = StringArena()
        if let answer = RESTAnswer(body: body, type: type, fields: try Response.fields(), strings: strings) {
            self.init(lazy: answer, type: type, origin: origin, strings: strings)
            return
        }
        let binary = try Response.converted(body, type: type, origin: origin)
        let (message, status) = try Response.contents(owning: binary, type: type)
        guard let status else {
            binary.deallocate()
            throw ClarifaiError(.protocol, "\(origin.text): answer is JSON without a Clarifai status: \(Response.excerpt(body))")
        }
        self.init(message: message, status: status, type: type)
    }

    /// A message of `method`'s response type received as protobuf binary (gRPC), checked as the
    /// official runtime checks it.
    convenience init(protoMessage bytes: UnsafeRawBufferPointer, of method: Method) throws {
        let type = try Response.type(of: method)
        do {
            try WireFields.validate(bytes, type: type, schema: .official)
        } catch {
            throw ClarifaiError(.protocol, "the answer does not decode as \(method.outputType): \(error.message)")
        }
        try self.init(binary: bytes, type: type)
    }

    /// A message already checked, or built by the library (e.g. merged batch outputs).
    convenience init(binary bytes: UnsafeRawBufferPointer, type: MessageType) throws {
        let (message, status) = try Response.contents(owning: Response.ownedCopy(of: bytes), type: type)
        self.init(message: message, status: status ?? Status(), type: type)
    }

    private static func type(_ messageType: String) throws -> MessageType {
        guard let type = Schema.official.message(messageType) else { throw ClarifaiError(.internal, "unknown type \(messageType)") }
        return type
    }

    /// `method`'s response type, found by position (no hashing of its name) when the method is
    /// the built-in schema's.
    private static func type(of method: Method) throws -> MessageType {
        if let type = Schema.official.messageType(at: method.outputTypeIndex), type.fullName == method.outputType { return type }
        return try type(method.outputType)
    }

    /// The message as protobuf binary, with the payload of each entry of its `outputs` (when its
    /// type has Output entries), which point into it.
    private struct Message {
        let binary: UnsafeMutableRawBufferPointer
        let outputs: [UnsafeRawBufferPointer]
    }

    /// A Status as read from the message, its strings pointing into it.
    private struct Status {
        var code: Int32 = 0
        var description, details, requestID: UnsafeRawBufferPointer?
    }

    private init(message: Message, status: Status, type: MessageType) {
        self.type = type
        self.message = message
        restAnswer = nil
        origin = nil
        statusCode = status.code
        let strings = StringArena()
        statusDescriptionPointer = strings.add(status.description)
        statusDetailsPointer = strings.add(status.details)
        requestIDPointer = strings.add(status.requestID)
        self.strings = strings
        super.init(tag: HandleTag.response)
    }

    private init(lazy answer: RESTAnswer, type: MessageType, origin: RESTOrigin, strings: StringArena) {
        self.type = type
        restAnswer = answer
        self.origin = origin
        (statusCode, statusDescriptionPointer, statusDetailsPointer, requestIDPointer) = answer.status
        self.strings = strings
        super.init(tag: HandleTag.response)
    }

    private static func fields() throws -> ResponseFields {
        guard let fields = try? ResponseFields.official.get() else { throw ClarifaiError(.internal, "the schema lacks the fields of responses") }
        return fields
    }

    /// A REST answer's JSON as protobuf binary (the caller deallocates it).
    private static func converted(_ body: [UInt8], type: MessageType, origin: RESTOrigin) throws -> UnsafeMutableRawBufferPointer {
        do {
            return try body.withUnsafeBytes {
                try JSONToProto.convertTakingMemory($0, type: type, schema: .official, ignoresUnknownFields: true)
            }
        } catch let error as CodecError {
            throw ClarifaiError(.protocol, "\(origin.text): answer: \(error.clarifaiError(messageType: type.fullName).message)")
        }
    }

    /// Takes over `binary` (it is deallocated when this throws): its outputs and its status (nil
    /// when it has none).
    private static func contents(owning binary: UnsafeMutableRawBufferPointer, type: MessageType) throws -> (Message, Status?) {
        let fields: ResponseFields
        do {
            fields = try Response.fields()
        } catch {
            binary.deallocate()
            throw error
        }
        let (statusNumber, outputsNumber) = fields.statusAndOutputs[type.index]
        var outputs: [UnsafeRawBufferPointer] = []
        var status: Status?
        do {
            try WireFields.forEach(UnsafeRawBufferPointer(binary)) { number, value in
                guard let payload = value.payload else { return }
                if number == statusNumber {
                    // A message seen in parts is their merge: later values win.
                    var read = status ?? Status()
                    try? WireFields.forEach(payload) { number, value in
                        switch number {
                        case fields.statusCode: read.code = value.varint.map { Int32(truncatingIfNeeded: $0) } ?? read.code
                        case fields.statusDescription: read.description = value.payload ?? read.description
                        case fields.statusDetails: read.details = value.payload ?? read.details
                        case fields.statusRequestID: read.requestID = value.payload ?? read.requestID
                        default: break
                        }
                    }
                    status = read
                }
                if number == outputsNumber { outputs.append(payload) }
            }
        } catch {
            binary.deallocate()
            throw ClarifaiError(.protocol, "the answer does not decode as \(type.fullName): \(error)")
        }
        return (Message(binary: binary, outputs: outputs), status)
    }

    /// The message, made from a lazily read REST answer on first need: it throws .protocol when the
    /// answer's JSON does not read as the response type.
    private func wholeMessage() throws -> Message {
        if let message { return message }
        guard let restAnswer, let origin else { throw ClarifaiError(.internal, "a response without its message") }
        let (made, _) = try Response.contents(owning: Response.converted(restAnswer.body, type: type, origin: origin), type: type)
        message = made
        return made
    }

    deinit {
        message?.binary.deallocate()
        restAnswer?.deallocate()
        conceptStrings?.deallocate()
        free(jsonText)
        conceptBuffers.forEach { $0.deallocate() }
        regionBuffers.forEach { $0.deallocate() }
        regionConceptBuffers.forEach { $0.deallocate() }
        embeddingBuffers.forEach { $0.deallocate() }
        outputsRead?.deallocate()
    }

    public var isSuccess: Bool { statusCode == Response.successCode }
    public var statusDescription: String { String(cString: statusDescriptionPointer) }
    public var statusDetails: String { String(cString: statusDetailsPointer) }
    public var requestID: String { String(cString: requestIDPointer) }

    /// The message as protobuf binary.
    public func proto() throws -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(try wholeMessage().binary) }

    /// The message as NUL-terminated JSON text in the REST form, written from the binary on first
    /// use: the same text whichever channel carried it (not the REST server's own, whose spacing
    /// and empty fields vary). Throws .protocol when the binary has no JSON form (e.g. a timestamp
    /// out of range).
    public func json() throws -> UnsafePointer<CChar> {
        if let jsonText { return UnsafePointer(jsonText) }
        let binary = try proto()
        let made: UnsafeMutablePointer<CChar>
        do {
            made = try Codec.protoToJSON(typeName: type.fullName, bytes: binary)
        } catch let error as ClarifaiError {
            throw ClarifaiError(.protocol, "the answer has no JSON form: \(error.message)")
        }
        jsonText = made
        return UnsafePointer(made)
    }

    /// The entries of `outputs` (of a lazily read REST answer, found in its JSON without converting
    /// it when they have the plain form); throws .protocol when the answer does not read.
    public func countOutputs() throws -> Int {
        if message == nil, let fields = try? ResponseFields.official.get(), let count = restAnswer?.countOutputs(fields, strings) {
            return count
        }
        return try messageOutputCount()
    }

    /// The entries of `outputs` in the message (a lazily read REST answer converted first): for
    /// readers of the message, which need no reading of the JSON besides.
    func messageOutputCount() throws -> Int { try wholeMessage().outputs.count }

    /// The payload of outputs[index], with its status and input parts (for merging batches).
    func output(_ index: Int) throws -> UnsafeRawBufferPointer { try wholeMessage().outputs[index] }

    /// A response of the same type holding outputs[index] alone, whose status is the output's
    /// (with this response's request id); with index nil, this response's status alone.
    func singleOutput(_ index: Int?) throws -> Response {
        guard let fields = try? ResponseFields.official.get(), case let (statusNumber, outputsNumber) = fields.statusAndOutputs[type.index],
              statusNumber >= 0, outputsNumber >= 0 else {
            throw ClarifaiError(.internal, "\(type.fullName) has no outputs and status in the schema")
        }
        var writer = WireWriter()
        if let index {
            try WireFields.forEach(try output(index)) { number, value in
                if number == fields.outputStatus { writer.field(statusNumber, value) }
            }
            // A second part of the status, which protobuf merges into the first.
            let status = writer.beginLengthDelimited(statusNumber)
            writer.string(fields.statusRequestID, requestID)
            writer.endLengthDelimited(status)
            writer.field(outputsNumber, .payload(try output(index)))
        } else {
            try WireFields.forEach(try proto()) { number, value in
                if number == statusNumber { writer.field(number, value) }
            }
        }
        return try writer.withUnsafeBytes { try Response(binary: $0, type: type) }
    }

    // MARK: Struct views

    /// outputs[index].data.concepts as C structs; empty for an output without concepts.
    public func concepts(output index: Int) throws -> UnsafeBufferPointer<clarifai_concept> {
        if let cached = conceptBuffers[index] { return UnsafeBufferPointer(cached) }
        let fields = try ResponseFields.official.get()
        if let count = restAnswer?.countOutputs(fields, strings), !(0..<count).contains(index) {
            throw ClarifaiError.invalidArgument("output \(index) is out of range: the response has \(count) output(s)")
        }
        if let concepts = restAnswer?.concepts(output: index, fields, strings) { return concepts }
        // One pass, the buffer grown as concepts come (a counting pass cost as much as the reading).
        var buffer = UnsafeMutableBufferPointer<clarifai_concept>(start: nil, count: 0)
        var count = 0
        do {
            try forEachDataField(fields.dataConcepts, output: index, fields) { payload in
                if count == buffer.count { buffer = Response.grown(buffer) }
                buffer[count] = structConcept(try WireConcept(payload, fields))
                count += 1
            }
        } catch {
            buffer.deallocate()
            throw error
        }
        let concepts = UnsafeMutableBufferPointer(start: buffer.baseAddress, count: count)
        conceptBuffers[index] = concepts
        return UnsafeBufferPointer(concepts)
    }

    /// `buffer` moved into one twice as large (at least 32 concepts: most outputs have 20).
    static func grown(_ buffer: UnsafeMutableBufferPointer<clarifai_concept>) -> UnsafeMutableBufferPointer<clarifai_concept> {
        let larger = UnsafeMutableBufferPointer<clarifai_concept>.allocate(capacity: max(32, buffer.count * 2))
        if let base = buffer.baseAddress { larger.baseAddress!.moveInitialize(from: base, count: buffer.count) }
        buffer.deallocate()
        return larger
    }

    /// outputs[index].data.concepts as one block of text, for bindings that build their own
    /// objects from it in one step: per concept its id, name, value (the shortest decimal that
    /// reads back as the same Float; nan, inf, -inf) and app_id, each ended by a NUL byte; the
    /// strings as the struct views have them (up to a NUL byte of their own).
    public func conceptsText(output index: Int) throws -> (text: UnsafeRawBufferPointer, count: Int) {
        if let cached = conceptTexts[index] { return cached }
        let made: (text: UnsafeRawBufferPointer, count: Int)
        if message == nil, restAnswer != nil {  // written from the concepts read from the JSON
            let concepts = try concepts(output: index)
            made = (strings.write(atMost: ConceptText.room(concepts)) { ConceptText.write(concepts, to: $0) }, concepts.count)
        } else {
            let fields = try ResponseFields.official.get()
            let (size, count, _) = try conceptsTextRoom(output: index, fields)
            made = (try strings.write(atMost: size) { start in try writeConceptsText(output: index, fields, to: start) }, count)
        }
        conceptTexts[index] = made
        return made
    }

    /// What every output holds, read in one call by bindings that read a whole answer: the
    /// concepts of all outputs as one block (conceptsText's, output after output), each output's
    /// concept count, and its other contents (OutputContents: whether regions, text or an
    /// embedding are there to be read). A REST answer in the plain form is not converted for it:
    /// the text is written from the concepts read from its JSON.
    public func outputsText() throws -> OutputsText {
        if let outputsRead { return outputsRead }
        let fields = try ResponseFields.official.get()
        let made: OutputsText
        if message == nil, let outputs = restAnswer?.readOutputs(fields, strings) {
            made = try outputsText(count: outputs.count,
                                   room: { (ConceptText.room(outputs[$0].concepts), outputs[$0].concepts.count, outputs[$0].contents) },
                                   write: { ConceptText.write(outputs[$0].concepts, to: $1) })
        } else {
            made = try outputsText(count: try messageOutputCount(), room: { try conceptsTextRoom(output: $0, fields) },
                                   write: { try writeConceptsText(output: $0, fields, to: $1) })
        }
        outputsRead = made
        return made
    }

    /// OutputsText of `count` outputs, each one's text room, concept count and contents bits, and
    /// its text, given by the closures.
    private func outputsText(count outputCount: Int, room: (Int) throws -> (size: Int, count: Int, contents: UInt8),
                             write: (Int, UnsafeMutableRawPointer) throws -> Int) throws -> OutputsText {
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(outputCount, 1))
        let held = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(outputCount, 1))
        do {
            var size = 0
            for index in 0..<outputCount {
                let (outputRoom, count, contents) = try room(index)
                size += outputRoom
                counts[index] = count
                held[index] = contents
            }
            let text = try strings.write(atMost: size) { start in
                var cursor = start
                for index in 0..<outputCount { cursor += try write(index, cursor) }
                return cursor - start
            }
            return OutputsText(text: text, conceptCounts: UnsafeBufferPointer(rebasing: counts[..<outputCount]),
                               contents: UnsafeBufferPointer(rebasing: held[..<outputCount]))
        } catch {
            counts.deallocate()
            held.deallocate()
            throw error
        }
    }

    /// The bytes conceptsText needs at most for outputs[index] (its strings take at most their
    /// messages' size), its concept count, and its OutputContents bits: the struct views that
    /// have something to read; in one walk over its data.
    private func conceptsTextRoom(output index: Int, _ fields: ResponseFields) throws -> (size: Int, count: Int, contents: UInt8) {
        var size = 0, count = 0, contents: UInt8 = 0
        try forEachDataField(output: index, fields) { number, payload in
            switch number {
            case fields.dataConcepts:
                size += payload.count + ConceptText.valueRoom
                count += 1
            case fields.dataRegions: contents |= OutputContents.regions
            case fields.dataText: contents |= OutputContents.text
            case fields.dataEmbeddings: contents |= OutputContents.embedding
            default: break
            }
        }
        return (size, count, contents)
    }

    /// Writes the concepts of outputs[index] as conceptsText has them at `start`; returns the
    /// bytes written.
    private func writeConceptsText(output index: Int, _ fields: ResponseFields, to start: UnsafeMutableRawPointer) throws -> Int {
        var cursor = start
        try forEachDataField(fields.dataConcepts, output: index, fields) { payload in
            let concept = try WireConcept(payload, fields)
            cursor += ConceptText.write(id: concept.id, name: concept.name, value: concept.value, appID: concept.appID, to: cursor)
        }
        return cursor - start
    }

    /// Calls `body` with each occurrence of length-delimited field `number` of outputs[index].data,
    /// in order (of a data message sent in parts, which protobuf merges, the parts' one after the
    /// other).
    @inline(__always)
    private func forEachDataField(_ number: Int, output index: Int, _ fields: ResponseFields,
                                  _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try forEachDataField(output: index, fields) { field, payload in
            if field == number { try body(payload) }
        }
    }

    /// Calls `body` with each length-delimited field of outputs[index].data (its number and payload).
    @inline(__always)
    private func forEachDataField(output index: Int, _ fields: ResponseFields,
                                  _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        let outputCount = try messageOutputCount()
        guard index >= 0, index < outputCount else {
            throw ClarifaiError.invalidArgument("output \(index) is out of range: the response has \(outputCount) output(s)")
        }
        try decoding("outputs[\(index)].data") {
            var output = WireReader(try wholeMessage().outputs[index])
            while let (field, wireType) = try output.readTag() {
                guard field == fields.outputData, wireType == .lengthDelimited else { try output.skip(wireType); continue }
                var data = WireReader(try output.readLengthDelimited())
                while let (field, wireType) = try data.readTag() {
                    guard wireType == .lengthDelimited else { try data.skip(wireType); continue }
                    try body(Int(field), try data.readLengthDelimited())
                }
            }
        }
    }

    /// Whether outputs[index].data has field `number`: when it has not, the struct view is empty
    /// and need not be built (outputs have concepts, seldom regions, text or an embedding). A
    /// malformed output says yes, for the view's full reading to report it.
    private func dataHasField(_ number: Int, output index: Int, _ fields: ResponseFields) throws -> Bool {
        var found = false
        do {
            try forEachDataField(number, output: index, fields) { _ in found = true }
        } catch let error as ClarifaiError where error.code == .protocol {
            return true
        }
        return found
    }

    /// outputs[index].data.regions as C structs, with their bounding boxes and concepts.
    public func regions(output index: Int) throws -> UnsafeBufferPointer<clarifai_region> {
        if let cached = regionBuffers[index] { return UnsafeBufferPointer(cached) }
        let fields = try ResponseFields.official.get()
        guard try dataHasField(fields.dataRegions, output: index, fields) else { return UnsafeBufferPointer(start: nil, count: 0) }
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
        guard index >= 0, index < (try? messageOutputCount()) ?? 0, let fields = try? ResponseFields.official.get(),
              (try? dataHasField(fields.dataText, output: index, fields)) == true, let data = try? data(of: index, fields) else { return nil }
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
        guard try dataHasField(fields.dataEmbeddings, output: index, fields) else { return UnsafeBufferPointer(start: nil, count: 0) }
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
        let outputCount = try messageOutputCount()
        guard index >= 0, index < outputCount else {
            throw ClarifaiError.invalidArgument("output \(index) is out of range: the response has \(outputCount) output(s)")
        }
        let parts = try decoding("outputs[\(index)]") { try WireFields.payloads(try wholeMessage().outputs[index], fields.outputData) }
        guard parts.count > 1 else { return parts.first }
        // Rare: a message sent in parts reads as their concatenation.
        return strings.keep(parts.flatMap { Array($0) })
    }

    private func conceptBuffer(_ concepts: [UnsafeRawBufferPointer], _ fields: ResponseFields) throws -> UnsafeMutableBufferPointer<clarifai_concept> {
        let buffer = UnsafeMutableBufferPointer<clarifai_concept>.allocate(capacity: concepts.count)
        for (position, payload) in concepts.enumerated() {
            let concept: WireConcept
            do {
                concept = try WireConcept(payload, fields)
            } catch {
                buffer.deallocate()
                throw ClarifaiError(.protocol, "concept \(position) does not decode: \(error)")
            }
            buffer[position] = structConcept(concept)
        }
        return buffer
    }

    /// A concept as its C struct, its strings in the copy of the message (or, for strings
    /// elsewhere, copied into the arena).
    private func structConcept(_ concept: WireConcept) -> clarifai_concept {
        if conceptStrings == nil, let binary = message?.binary { conceptStrings = StringsInPlace(copying: UnsafeRawBufferPointer(binary)) }
        func cString(_ text: UnsafeRawBufferPointer?) -> UnsafePointer<CChar> {
            guard let text else { return StringArena.emptyText }
            return conceptStrings?.cString(text) ?? strings.add(text)
        }
        return clarifai_concept(id: cString(concept.id), name: cString(concept.name), value: concept.value, app_id: cString(concept.appID))
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
    /// Blocks double from 1 KB (a status and a few concepts) up to 16 KB.
    private static let largestBlock = 16 * 1024
    private var blockSize = 1024
    /// The newest block. Each starts with a pointer to the one made before it (nil for the
    /// first): freeing them needs no list of its own.
    private var newestBlock: UnsafeMutableRawPointer?
    private static let blockHeader = MemoryLayout<UnsafeMutableRawPointer?>.stride
    private var free = 0
    private var next: UnsafeMutableRawPointer?

    nonisolated(unsafe) static let emptyText: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

    deinit {
        var block = newestBlock
        while let current = block {
            block = current.load(as: UnsafeMutableRawPointer?.self)
            Glibc.free(current)
        }
    }

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

    /// Bytes that `body` writes at the start it is given (at most `capacity`; it returns how many),
    /// living as long as the arena.
    func write(atMost capacity: Int, _ body: (UnsafeMutableRawPointer) throws -> Int) rethrows -> UnsafeRawBufferPointer {
        let start = reserve(max(capacity, 1))
        let written = try body(start)
        precondition(written <= capacity, "StringArena.write: \(written) bytes written in room for \(capacity)")
        next = start + written
        free += max(capacity, 1) - written
        return UnsafeRawBufferPointer(start: start, count: written)
    }

    private func reserve(_ count: Int) -> UnsafeMutableRawPointer {
        if count > free || next == nil {
            let size = max(count, blockSize)
            blockSize = min(blockSize * 2, StringArena.largestBlock)
            let block = malloc(StringArena.blockHeader + size)!
            block.storeBytes(of: newestBlock, as: UnsafeMutableRawPointer?.self)
            newestBlock = block
            next = block + StringArena.blockHeader
            free = size
        }
        let start = next!
        next = start + count
        free -= count
        return start
    }
}

/// A copy of an answer's bytes (protobuf binary or JSON text) that holds the strings of its
/// concepts' struct views: a string is handed out where it lies in the copy, ended by a NUL
/// written over the byte after it (the next field's tag, or the string's closing quote), rather
/// than copied on its own (the copies were a fifth of reading a concept). The bytes after a
/// string never belong to another string, so no NUL cuts one handed out. An answer larger than
/// `largestCopied` is not copied: its strings go to the arena one by one.
struct StringsInPlace {
    /// The largest answer copied: 32 outputs of 20 concepts take 73 KB of JSON; an answer beyond
    /// this one carries more than concepts (media, embeddings), which a copy would double.
    static let largestCopied = 128 << 10
    private let source: UnsafeRawPointer
    /// The bytes copied; -1 when none were (an answer too large): no text fits then, and `copy`
    /// (a stand-in) is never written.
    private let count: Int
    /// The source's bytes and one more, for a NUL after a string that ends them.
    private let copy: UnsafeMutableRawPointer

    init(copying bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count <= StringsInPlace.largestCopied else {
            (source, count, copy) = (UnsafeRawPointer(StringArena.emptyText), -1, UnsafeMutableRawPointer(mutating: StringArena.emptyText))
            return
        }
        source = UnsafeRawPointer(base)
        count = bytes.count
        copy = .allocate(byteCount: count + 1, alignment: 1)
        copy.copyMemory(from: base, byteCount: count)
    }

    /// `text`, which lies in the copied bytes, as a C string in the copy; nil for text elsewhere
    /// (e.g. a message that came in parts, joined in the arena) or an answer not copied, which
    /// the caller copies into the arena.
    @inline(__always)
    func cString(_ text: UnsafeRawBufferPointer) -> UnsafePointer<CChar>? {
        guard let start = text.baseAddress, start >= source, start - source <= count - text.count else { return nil }
        let place = copy + (start - source)
        place.storeBytes(of: 0, toByteOffset: text.count, as: UInt8.self)
        return UnsafePointer(place.assumingMemoryBound(to: CChar.self))
    }

    func deallocate() {
        if count >= 0 { copy.deallocate() }
    }
}

/// The fields of a Concept message the struct views read, pointing into the message.
struct WireConcept {
    var id: UnsafeRawBufferPointer?
    var name: UnsafeRawBufferPointer?
    var value: Float = 0
    var appID: UnsafeRawBufferPointer?

    /// `fields` borrowed: an initializer takes its arguments owned, which copied them per concept.
    init(_ message: UnsafeRawBufferPointer, _ fields: borrowing ResponseFields) throws {
        if let formed = WireConcept.formed(message, fields.conceptTags) {
            self = formed
        } else if let scanned = WireConcept.scan(message, fields) {
            self = scanned
        } else {
            try self.init(reading: message, fields)
        }
    }

    private init() {}

    /// A concept as servers write it: its id, name, value and app_id in that order (each left out
    /// when empty or zero, as proto3 writers do), with one-byte tags and lengths, and nothing
    /// else; read straight through. nil for any other form, which scan reads.
    @inline(__always)
    private static func formed(_ message: UnsafeRawBufferPointer, _ tags: ResponseFields.ConceptTags) -> WireConcept? {
        var concept = WireConcept()
        guard let base = message.baseAddress else { return concept }
        let count = message.count
        var offset = 0
        guard formedString(base, count, &offset, tags.id, &concept.id),
              formedString(base, count, &offset, tags.name, &concept.name) else { return nil }
        if offset < count, UInt16(base.load(fromByteOffset: offset, as: UInt8.self)) == tags.value {
            guard count &- offset >= 5 else { return nil }
            concept.value = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset &+ 1, as: UInt32.self)))
            offset &+= 5
        }
        guard formedString(base, count, &offset, tags.appID, &concept.appID), offset == count else { return nil }
        return concept
    }

    /// Reads the string field with `tag` at `offset` when it comes next, a length below 128
    /// after its tag; true when it does not come next (left out), false when its length has
    /// another form or passes the end. (Offsets stay within `count`: wrapping arithmetic.)
    @inline(__always)
    private static func formedString(_ base: UnsafeRawPointer, _ count: Int, _ offset: inout Int, _ tag: UInt16,
                                     _ text: inout UnsafeRawBufferPointer?) -> Bool {
        guard offset < count, UInt16(base.load(fromByteOffset: offset, as: UInt8.self)) == tag else { return true }
        guard count &- offset >= 2 else { return false }
        let length = Int(base.load(fromByteOffset: offset &+ 1, as: UInt8.self))
        guard length < 0x80, count &- offset &- 2 >= length else { return false }
        text = UnsafeRawBufferPointer(start: base + (offset &+ 2), count: length)
        offset &+= 2 &+ length
        return true
    }

    /// One pass over raw bytes (a response holds hundreds of concepts); nil for a message with
    /// groups, which it leaves aside, or not protobuf: WireReader reads it again, to step over
    /// them or to say what is wrong.
    private static func scan(_ message: UnsafeRawBufferPointer, _ fields: borrowing ResponseFields) -> WireConcept? {
        var concept = WireConcept()
        guard var cursor = message.baseAddress else { return concept }
        let end = cursor + message.count
        let (idNumber, nameNumber, appNumber) = (UInt64(fields.conceptID), UInt64(fields.conceptName), UInt64(fields.conceptAppID))
        let valueNumber = UInt64(fields.conceptValue)
        while cursor < end {
            guard let tag = WireReader.varint(&cursor, end), tag >> 3 != 0 else { return nil }
            let number = tag >> 3
            switch tag & 7 {
            case 2:
                guard let length = WireReader.varint(&cursor, end), length <= UInt64(end - cursor) else { return nil }
                let payload = UnsafeRawBufferPointer(start: cursor, count: Int(length))
                cursor += Int(length)
                if number == idNumber {
                    concept.id = payload
                } else if number == nameNumber {
                    concept.name = payload
                } else if number == appNumber {
                    concept.appID = payload
                }
            case 5:
                guard end - cursor >= 4 else { return nil }
                if number == valueNumber { concept.value = Float(bitPattern: UInt32(littleEndian: cursor.loadUnaligned(as: UInt32.self))) }
                cursor += 4
            case 0:
                guard WireReader.varint(&cursor, end) != nil else { return nil }
            case 1:
                guard end - cursor >= 8 else { return nil }
                cursor += 8
            default:
                return nil
            }
        }
        return concept
    }

    private init(reading message: UnsafeRawBufferPointer, _ fields: borrowing ResponseFields) throws {
        var reader = WireReader(message)
        while let (number, wireType) = try reader.readTag() {
            switch wireType {
            case .lengthDelimited:
                let payload = try reader.readLengthDelimited()
                switch Int(number) {
                case fields.conceptID: id = payload
                case fields.conceptName: name = payload
                case fields.conceptAppID: appID = payload
                default: break
                }
            case .fixed32:
                let bits = try reader.readFixed32()
                if number == fields.conceptValue { value = Float(bitPattern: bits) }
            default:
                try reader.skip(wireType)
            }
        }
    }
}

/// Every output's concepts as text and what else each output holds (Response.outputsText); the
/// counts and contents are the response's, freed with it.
public struct OutputsText {
    public let text: UnsafeRawBufferPointer
    public let conceptCounts: UnsafeBufferPointer<Int>
    public let contents: UnsafeBufferPointer<UInt8>

    fileprivate func deallocate() {
        UnsafeMutableBufferPointer(mutating: conceptCounts).deallocate()
        UnsafeMutableBufferPointer(mutating: contents).deallocate()
    }
}

/// The bits of OutputsText.contents (CLARIFAI_OUTPUT_* in clarifai.h).
public enum OutputContents {
    public static let regions: UInt8 = 1
    public static let text: UInt8 = 2
    public static let embedding: UInt8 = 4
}

/// A concept's value in Response.conceptsText.
enum ConceptText {
    /// Room per concept besides its strings: a NUL after each of its 4 fields, and its value.
    static let valueRoom = 4 + ScalarText.shortestFloatRoom

    /// The bytes `write(_:to:)` needs at most for `concepts`.
    static func room(_ concepts: UnsafeBufferPointer<clarifai_concept>) -> Int {
        concepts.reduce(0) { $0 + strlen($1.id) + strlen($1.name) + strlen($1.app_id) + valueRoom }
    }

    /// Writes C struct concepts as Response.conceptsText has them; returns the bytes written.
    static func write(_ concepts: UnsafeBufferPointer<clarifai_concept>, to start: UnsafeMutableRawPointer) -> Int {
        func bytes(_ text: UnsafePointer<CChar>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: text, count: strlen(text)) }
        var cursor = start
        for concept in concepts {
            cursor += write(id: bytes(concept.id), name: bytes(concept.name), value: concept.value, appID: bytes(concept.app_id), to: cursor)
        }
        return cursor - start
    }

    /// Writes one concept's id, name, value and app_id, each ended by a NUL byte (a string up to a
    /// NUL byte of its own, as the struct views have it); returns the bytes written.
    static func write(id: UnsafeRawBufferPointer?, name: UnsafeRawBufferPointer?, value: Float, appID: UnsafeRawBufferPointer?,
                      to start: UnsafeMutableRawPointer) -> Int {
        var cursor = start
        func append(_ bytes: UnsafeRawBufferPointer?) {
            if let bytes, let base = bytes.baseAddress {
                let length = memchr(base, 0, bytes.count).map { UnsafeRawPointer($0) - base } ?? bytes.count
                cursor.copyMemory(from: base, byteCount: length)
                cursor += length
            }
            cursor.storeBytes(of: 0, as: UInt8.self)
            cursor += 1
        }
        append(id)
        append(name)
        cursor += write(value, to: cursor)
        cursor.storeBytes(of: 0, as: UInt8.self)
        cursor += 1
        append(appID)
        return cursor - start
    }

    /// Writes the shortest decimal that reads back as `value` (nan, inf, -inf); returns its length.
    static func write(_ value: Float, to output: UnsafeMutableRawPointer) -> Int {
        guard value.isFinite else {
            var text = value.isNaN ? "nan" : value < 0 ? "-inf" : "inf"
            return text.withUTF8 { bytes in
                output.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                return bytes.count
            }
        }
        return ScalarText.writeShortest(value, to: output.assumingMemoryBound(to: UInt8.self))
    }
}

/// Field numbers of the messages the struct views read, looked up by name in the schema once.
final class ResponseFields: Sendable {
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
    /// The message types whose JSON members RESTAnswer reads, for their keys.
    let statusMessage, outputMessage, dataMessage, conceptMessage: MessageType
    /// A Concept as servers write it, `{"id": "…", "name": "…", "value": 0.…, "app_id": "…"}`, in
    /// either spacing seen (after every colon and comma a space, as Python's json module writes, or
    /// none, as Go's encoders write): the text around its values, compared a word or two at a
    /// time (its keys, JSON's original field names).
    struct ConceptForm: Sendable {
        let opening, afterID, afterName, afterValue: JSONReader.PlainText

        init(spaced: Bool) {
            opening = JSONReader.PlainText(#"{"id":""#, spaced: spaced)
            afterID = JSONReader.PlainText(#"","name":""#, spaced: spaced)
            afterName = JSONReader.PlainText(#"","value":"#, spaced: spaced)
            afterValue = JSONReader.PlainText(#","app_id":""#, spaced: spaced)
        }
    }
    let spacedConcept = ConceptForm(spaced: true), compactConcept = ConceptForm(spaced: false)
    /// The protobuf tags of a Concept's id, name, value and app_id when each is one byte (field
    /// numbers below 16); 0x100, which no byte equals, otherwise.
    struct ConceptTags: Sendable {
        let id, name, value, appID: UInt16
    }
    let conceptTags: ConceptTags
    /// A Status as servers write it, `{"code": 10000, "description": "…", "req_id": "…"}`, in
    /// either spacing (see ConceptForm); the text after its code in two parts (one is at most 16
    /// bytes).
    struct StatusForm: Sendable {
        let opening, afterCode, beforeDescription, afterDescription: JSONReader.PlainText

        init(spaced: Bool) {
            opening = JSONReader.PlainText(#"{"code":"#, spaced: spaced)
            afterCode = JSONReader.PlainText(#","description""#, spaced: spaced)
            beforeDescription = JSONReader.PlainText(#":""#, spaced: spaced)
            afterDescription = JSONReader.PlainText(#"","req_id":""#, spaced: spaced)
        }
    }
    let spacedStatus = StatusForm(spaced: true), compactStatus = StatusForm(spaced: false)
    /// Per message type (by its index in the schema): the numbers of its `status` field (a
    /// Status) and of its `outputs` (Output entries), -1 when it has none.
    let statusAndOutputs: [(status: Int, outputs: Int)]

    init(_ schema: Schema) throws {
        func number(_ type: String, _ name: String) throws -> Int {
            guard let field = schema.message(type)?.field(named: name) else {
                throw ClarifaiError(.internal, "\(type).\(name) is missing from the schema")
            }
            return field.number
        }
        func message(_ name: String) throws -> MessageType {
            guard let type = schema.message(name) else { throw ClarifaiError(.internal, "\(name) is missing from the schema") }
            return type
        }
        statusMessage = try message(ResponseFields.statusType)
        outputMessage = try message(ResponseFields.outputType)
        dataMessage = try message("clarifai.api.Data")
        conceptMessage = try message("clarifai.api.Concept")
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
        func tag(_ number: Int, _ wireType: WireReader.WireType) -> UInt16 {
            number < 16 ? UInt16(number << 3) | UInt16(wireType.rawValue) : 0x100
        }
        conceptTags = ConceptTags(id: tag(conceptID, .lengthDelimited), name: tag(conceptName, .lengthDelimited),
                                  value: tag(conceptValue, .fixed32), appID: tag(conceptAppID, .lengthDelimited))
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
        var statusAndOutputs = [(status: Int, outputs: Int)](repeating: (-1, -1), count: schema.messages.count)
        for type in schema.messages.values {
            func number(_ name: String, of typeName: String) -> Int {
                type.field(named: name).flatMap { $0.typeName == typeName ? $0.number : nil } ?? -1
            }
            statusAndOutputs[type.index] = (number("status", of: ResponseFields.statusType), number("outputs", of: ResponseFields.outputType))
        }
        self.statusAndOutputs = statusAndOutputs
    }
}

/// Values made per output on first use, by output index: output 0's (most answers have one
/// output) held in place, the others in an array; no hashing, nothing allocated for one output.
struct PerOutput<Value> {
    private var first: Value?
    private var others: [Value?] = []

    /// Any index reads (a caller's, not checked yet: nil past the values); only the outputs' are
    /// set.
    subscript(index: Int) -> Value? {
        get { index == 0 ? first : (index > 0 && index <= others.count ? others[index - 1] : nil) }
        set {
            if index == 0 { first = newValue }
            guard index > 0 else { return }
            if others.count < index { others += repeatElement(nil, count: index - others.count) }
            others[index - 1] = newValue
        }
    }

    func forEach(_ body: (Value) -> Void) {
        first.map(body)
        others.forEach { $0.map(body) }
    }
}

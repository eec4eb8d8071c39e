import Glibc

/// One input of a prediction; its bytes are borrowed for the duration of the call.
public struct PredictionInput: @unchecked Sendable {
    public enum Kind: Int32, Sendable {
        case image = 0, text = 1, video = 2, audio = 3

        var dataField: StaticString {
            switch self {
            case .image: return "image"
            case .text: return "text"
            case .video: return "video"
            case .audio: return "audio"
            }
        }
    }

    public enum Source {
        case url(String)
        case bytes(UnsafeRawBufferPointer)
        case text(String)

        /// The content's size (the bytes, or the URL's or text's UTF-8): the room a message needs for it.
        var byteCount: Int {
            switch self {
            case .url(let url): url.utf8.count
            case .bytes(let bytes): bytes.count
            case .text(let text): text.utf8.count
            }
        }
    }

    public let kind: Kind
    public let source: Source
    public let id: String?

    public init(kind: Kind, source: Source, id: String? = nil) {
        self.kind = kind
        self.source = source
        self.id = id
    }

    /// An input from the C API's struct: exactly one of url, data or text; text for text inputs
    /// only. `position` names the input in error messages.
    public init(kindNumber: Int32, url: String?, data: UnsafeRawBufferPointer?, text: String?, id: String?, position: Int) throws {
        guard let kind = Kind(rawValue: kindNumber) else {
            throw ClarifaiError.invalidArgument("inputs[\(position)].kind \(kindNumber) is not a clarifai_input_kind (0-3)")
        }
        // (Counted, not gathered in an array: an input is made per call.)
        let given = (url == nil ? 0 : 1) + (data == nil ? 0 : 1) + (text == nil ? 0 : 1)
        guard given == 1, let source = url.map(Source.url) ?? data.map(Source.bytes) ?? text.map(Source.text) else {
            throw ClarifaiError.invalidArgument("inputs[\(position)]: set exactly one of url, data (with data_len > 0) or text")
        }
        if case .text = source, kind != .text {
            throw ClarifaiError.invalidArgument("inputs[\(position)]: text is only for CLARIFAI_INPUT_TEXT inputs")
        }
        if case .url(let address) = source, address.isEmpty {
            throw ClarifaiError.invalidArgument("inputs[\(position)].url is empty")
        }
        self.init(kind: kind, source: source, id: id.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The field of its kind's media message that takes its source; INVALID_ARGUMENT, naming the
    /// input by `position`, where the schema has none (e.g. text for an image).
    func sourceField(_ schema: PredictionSchema, position: Int) throws -> Field {
        let media = schema.media[Int(kind.rawValue)]
        let (value, missing) = switch source {
        case .url: (media.url, "a url")
        case .text: (media.raw, "text")
        case .bytes: (media.base64, "data")
        }
        guard let value else {
            throw ClarifaiError.invalidArgument("inputs[\(position)]: \(kind) inputs cannot take \(missing)")
        }
        return value
    }

    /// Writes the Input message in the REST API's JSON form, as ProtoToJSON writes the one `write`
    /// makes: {"id":..,"data":{"image"|"text"|"video"|"audio":{"url"|"base64"|"raw":..}}}.
    func writeJSON(to output: inout [UInt8]) {
        func literal(_ text: StaticString) {
            output.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        func quoted(_ text: String) {
            var text = text
            // A String is valid UTF-8: nothing fails.
            _ = text.withUTF8 { ProtoToJSON.appendQuoted(UnsafeRawBufferPointer($0), to: &output) }
        }
        literal("{")
        if let id {
            literal("\"id\":")
            quoted(id)
            literal(",")
        }
        literal("\"data\":{\"")
        literal(kind.dataField)
        literal("\":{")
        switch source {
        case .url(let url):
            literal("\"url\":")
            quoted(url)
        case .text(let text):
            literal("\"raw\":")
            quoted(text)
        case .bytes(let bytes):
            literal("\"base64\":\"")
            ScalarText.appendBase64(bytes, to: &output)
            literal("\"")
        }
        literal("}}}")
    }

    /// Writes the Input message: {id, data: {image|text|video|audio: {url | base64 | raw}}};
    /// `moreData` writes more fields of its data (an upload's concepts and metadata).
    func write(to writer: inout WireWriter, field: Int, schema: PredictionSchema, position: Int,
               moreData: (inout WireWriter) -> Void = { _ in }) throws {
        let media = schema.media[Int(kind.rawValue)]
        let value = try sourceField(schema, position: position)
        // Each level holds the one inside it, with its tag and length: room for each level's length
        // reserved at once (a megabyte image is not moved up to widen them afterwards).
        let sourceLength: Int
        switch source {
        case .url(let url): sourceLength = url.utf8.count
        case .text(let text): sourceLength = text.utf8.count
        case .bytes(let bytes): sourceLength = bytes.count
        }
        let around = { (inner: Int) in inner + 1 + WireWriter.varintSize(UInt64(inner)) }
        let mediaLength = around(sourceLength), dataLength = around(mediaLength)
        let input = writer.beginLengthDelimited(field, payloadAtLeast: around(dataLength))
        if let id { writer.string(schema.inputID, id) }
        let data = writer.beginLengthDelimited(schema.inputData, payloadAtLeast: dataLength)
        let mediaMark = writer.beginLengthDelimited(media.field.number, payloadAtLeast: mediaLength)
        switch source {
        case .url(let url): writer.string(value.number, url)
        case .text(let text): writer.string(value.number, text)
        case .bytes(let bytes):
            writer.tag(value.number, .lengthDelimited)
            writer.varint(UInt64(bytes.count))
            writer.append(bytes)
        }
        writer.endLengthDelimited(mediaMark)
        moreData(&writer)
        writer.endLengthDelimited(data)
        writer.endLengthDelimited(input)
    }
}

/// Where the prediction messages' fields are, read from the schema (not hard-coded), once per
/// schema: a call looks nothing up by name.
final class PredictionSchema: Sendable {
    /// Data's field for a kind of input (image, text, ...) and its media type's fields for each
    /// source (nil where the type has none).
    struct Media: Sendable {
        let field: Field
        let url: Field?, raw: Field?, base64: Field?
    }

    /// PostModelOutputs.
    let method: Method
    let modelID: Int, versionID: Int, inputs: Int, inputID: Int, inputData: Int
    /// By PredictionInput.Kind's raw value.
    let media: [Media]
    /// The REST form written without the message; nil when the method's paths need other fields.
    let restForm: PredictionRESTForm?

    private static let official = Result { try PredictionSchema(.official) }

    /// The fields of `schema` (those of the built-in one are read once).
    static func of(_ schema: Schema) throws -> PredictionSchema {
        schema === Schema.official ? try official.get() : try PredictionSchema(schema)
    }

    private init(_ schema: Schema) throws {
        guard let method = schema.method(named: "PostModelOutputs") else {
            throw ClarifaiError(.internal, "the schema has no method PostModelOutputs")
        }
        self.method = method
        modelID = try PredictionSchema.field("model_id", of: "clarifai.api.PostModelOutputsRequest", in: schema).number
        versionID = try PredictionSchema.field("version_id", of: "clarifai.api.PostModelOutputsRequest", in: schema).number
        inputs = try PredictionSchema.field("inputs", of: "clarifai.api.PostModelOutputsRequest", in: schema).number
        inputID = try PredictionSchema.field("id", of: "clarifai.api.Input", in: schema).number
        inputData = try PredictionSchema.field("data", of: "clarifai.api.Input", in: schema).number
        media = try [PredictionInput.Kind.image, .text, .video, .audio].map { kind in
            let field = try PredictionSchema.field("\(kind.dataField)", of: "clarifai.api.Data", in: schema)
            let type = schema.message(field.typeName)
            return Media(field: field, url: type?.field(named: "url"), raw: type?.field(named: "raw"),
                         base64: type?.field(named: "base64"))
        }
        restForm = PredictionRESTForm(route: RESTRoute.table(of: schema)[method.index])
    }

    private static func field(_ name: String, of type: String, in schema: Schema) throws -> Field {
        guard let field = schema.message(type)?.field(named: name) else {
            throw ClarifaiError(.internal, "\(type).\(name) is missing from the schema")
        }
        return field
    }
}

/// A prediction's REST form written from its parts, without reading the request message: the
/// path from the ids (the rule RESTBinding would choose for the same request) and the body
/// straight as JSON from the inputs (one pass, no protobuf in between).
struct PredictionRESTForm: Sendable {
    private let route: RESTRoute
    /// For each of the route's path variables, the id that fills it (its index in
    /// PredictionIDs.names); nil for a field a prediction never sets (runner_selector's: the
    /// paths that need it are never chosen).
    private let slots: [Int?]
    /// By the ids a request gives (PredictionIDs.mask): the rule RESTBinding chooses for it, nil
    /// when that rule leaves one of them to the body (a user id without an app id).
    private let rules: [Int?]
    /// The path of the last ids, made once for the calls that repeat them (most predict with one
    /// model over and over).
    private let lastPath = LastMade<PredictionIDs, String>()

    /// nil when a path of the method would not send the rest of the request as the body.
    init?(route: RESTRoute) {
        guard route.rules.allSatisfy({ $0.body == "*" }) else { return nil }
        let slots = route.variables.map { PredictionIDs.names.firstIndex(of: $0.names) }
        self.route = route
        self.slots = slots
        rules = (0..<(1 << PredictionIDs.names.count)).map { mask in
            let given = { (variable: Int) in slots[variable].map { mask & 1 << $0 != 0 } ?? false }
            guard let chosen = route.bestRule(filled: given),
                  route.rules[chosen].needs.reduce(0, { $0 | 1 << slots[$1]! }) == mask else { return nil }
            return chosen
        }
    }

    /// The binding of the request with these ids and inputs; nil when RESTBinding has to read the
    /// message (see `rules`).
    func binding(_ ids: PredictionIDs, inputs: ArraySlice<PredictionInput>) -> RESTBinding? {
        guard let index = rules[ids.mask] else { return nil }
        let rule = route.rules[index]
        let path = lastPath.value(for: ids) {
            String(decoding: rule.path { variable in slots[variable].flatMap(ids.id).map(PathValue.string) }, as: UTF8.self)
        }
        var body: [UInt8] = []
        body.reserveCapacity(inputs.reduce(16) { size, input in size + input.source.byteCount * 4 / 3 + 64 })
        body.append("{\"inputs\":[")
        for (position, input) in inputs.enumerated() {
            if position > 0 { body.append(UInt8(ascii: ",")) }
            input.writeJSON(to: &body)
        }
        body.append("]}")
        return RESTBinding(verb: rule.verb, target: path, body: body)
    }
}

/// The ids of a prediction request that its REST paths take (nil: not given).
struct PredictionIDs: SameBytes {
    /// The path variables they fill, by slot.
    static let names = [["user_app_id", "user_id"], ["user_app_id", "app_id"], ["model_id"], ["version_id"]]

    let userID: String?, appID: String?, modelID: String, versionID: String?

    func id(_ slot: Int) -> String? {
        switch slot {
        case 0: userID
        case 1: appID
        case 2: modelID
        default: versionID
        }
    }

    func hasSameBytes(as other: PredictionIDs) -> Bool {
        userID.hasSameBytes(as: other.userID) && appID.hasSameBytes(as: other.appID)
            && modelID.hasSameBytes(as: other.modelID) && versionID.hasSameBytes(as: other.versionID)
    }

    /// A bit per id given, by slot.
    var mask: Int { PredictionIDs.names.indices.reduce(0) { id($1) == nil ? $0 : $0 | 1 << $1 } }
}

extension Client {
    /// The largest request message: protobuf's limit (2 GiB - 1).
    public static let maximumRequestBytes = Int(Int32.max)
    /// The most inputs PostModelOutputs takes in one request.
    public static let maximumInputsPerRequest = 128
    /// Requests of one batch in flight at once.
    static let batchConcurrency = 4

    /// Runs a model on inputs. More than 128 inputs go out as several requests, at most
    /// `batchConcurrency` at a time, whose outputs are merged in input order.
    public func predict(modelID: String, versionID: String?, inputs: [PredictionInput]) throws -> Response {
        guard !modelID.isEmpty else { throw ClarifaiError.invalidArgument("model_id is empty") }
        guard !inputs.isEmpty else { throw ClarifaiError.invalidArgument("no inputs: count must be at least 1") }
        let fields = try PredictionSchema.of(schema)
        let method = fields.method
        // One request (the usual case) is sent from this thread, without parallelMap's machinery.
        if inputs.count <= Client.maximumInputsPerRequest {
            return try predictOnce(fields, modelID: modelID, versionID: versionID, inputs: inputs[...])
        }
        let chunks = Client.requestChunks(inputs)
        let results = parallelMap(chunks, width: Client.batchConcurrency) { chunk in
            Result { try self.predictOnce(fields, modelID: modelID, versionID: versionID, inputs: chunk) }
        }
        guard results.count > 1 else { return try results[0].get() }
        return try merged(results, inputIDs: chunks.map { $0.map(\.id) }, method: method)
    }

    /// One request of a prediction: on a REST channel its REST form written straight from the
    /// inputs when it can be (no message then: the channel reads none), else the message.
    private func predictOnce(_ fields: PredictionSchema, modelID: String, versionID: String?,
                             inputs: ArraySlice<PredictionInput>) throws -> Response {
        if channel is RESTChannel, let form = fields.restForm {
            try Client.checkPrediction(fields, inputs: inputs)
            let ids = PredictionIDs(userID: userID, appID: appID, modelID: modelID, versionID: versionID.flatMap { $0.isEmpty ? nil : $0 })
            if let binding = form.binding(ids, inputs: inputs) { return try call(fields.method, message: [], restBinding: binding) }
        }
        return try call(fields.method, message: Client.predictionRequest(fields, modelID: modelID, versionID: versionID, inputs: inputs))
    }

    /// The inputs of a prediction in requests of at most `maximumInputsPerRequest`.
    static func requestChunks(_ inputs: [PredictionInput]) -> [ArraySlice<PredictionInput>] {
        stride(from: 0, to: inputs.count, by: Client.maximumInputsPerRequest).map {
            inputs[$0..<min($0 + Client.maximumInputsPerRequest, inputs.count)]
        }
    }

    /// One response for a batch sent as several requests: the outputs of all, in input order. When
    /// some requests failed, their inputs get outputs carrying the failure and the batch's status
    /// is MIXED_STATUS (thrown as .api with the response), so the other outputs are not lost.
    func merged(_ results: [Result<Response, any Error>], inputIDs: [[String?]], method: Method) throws -> Response {
        let failures = results.enumerated().compactMap { index, result in
            if case .failure(let error) = result { return (index, error) } else { return nil }
        }
        // Every request failed: the first failure is the batch's (its own status, not a "mixed" one).
        guard failures.count < results.count, let base = results.lazy.compactMap({ try? $0.get() }).first else {
            throw failures[0].1
        }
        guard let outputsField = base.type.field(named: "outputs"), let statusField = base.type.field(named: "status") else {
            throw ClarifaiError(.internal, "\(base.type.fullName) has no outputs and status in the schema")
        }
        let fields = try ResponseFields.official.get()
        let baseMessage = try base.proto()
        var writer = WireWriter(capacity: results.reduce(baseMessage.count) { size, result in size + ((try? result.get().proto())?.count ?? 0) })
        // The base's other fields as they are; its status only when every request succeeded.
        try WireFields.forEach(baseMessage) { number, value in
            guard number != outputsField.number, number != statusField.number || failures.isEmpty else { return }
            writer.field(number, value)
        }
        func copyOutputs(of answer: Response) throws {
            for index in 0..<(try answer.messageOutputCount()) { writer.field(outputsField.number, .payload(try answer.output(index))) }
        }
        for (result, ids) in zip(results, inputIDs) {
            switch result {
            case .success(let answer):
                try copyOutputs(of: answer)  // as the server gave them, whatever their number
            case .failure(let error):
                // A failed request's own outputs when it has one per input, else one per input carrying the failure.
                if let answer = (error as? ClarifaiError)?.response, (try? answer.messageOutputCount()) == ids.count {
                    try copyOutputs(of: answer)
                } else {
                    for id in ids { Client.writeFailedOutput(inputID: id, error, field: outputsField.number, fields, to: &writer) }
                }
            }
        }
        guard let (firstIndex, firstError) = failures.first else {
            return try writer.withUnsafeBytes { try Response(binary: $0, type: base.type) }
        }
        let mixed = schema.enums["clarifai.api.status.StatusCode"]?.number(named: "MIXED_STATUS") ?? 10010
        let details = "\(failures.count) of \(results.count) requests of the batch failed; request \(firstIndex + 1): "
            + ((firstError as? ClarifaiError)?.message ?? "\(firstError)")
        Client.writeStatus(code: mixed, description: "Mixed Success", details: details, field: statusField.number, fields, to: &writer)
        let response = try writer.withUnsafeBytes { try Response(binary: $0, type: base.type) }
        throw ClarifaiError(apiFailure: response, method: method.name)
    }

    /// An output standing for an input whose request failed without outputs of its own:
    /// {status, input: {id}}.
    private static func writeFailedOutput(inputID: String?, _ error: any Error, field: Int, _ fields: ResponseFields,
                                          to writer: inout WireWriter) {
        let clarifaiError = error as? ClarifaiError
        let output = writer.beginLengthDelimited(field)
        writeStatus(code: clarifaiError?.response?.statusCode ?? 10020, description: clarifaiError?.response?.statusDescription ?? "Failure",
                    details: clarifaiError?.message ?? "\(error)", field: fields.outputStatus, fields, to: &writer)
        if let id = inputID {
            let inputMark = writer.beginLengthDelimited(fields.outputInput)
            writer.string(fields.inputID, id)
            writer.endLengthDelimited(inputMark)
        }
        writer.endLengthDelimited(output)
    }

    private static func writeStatus(code: Int32, description: String, details: String, field: Int, _ fields: ResponseFields,
                                    to writer: inout WireWriter) {
        let status = writer.beginLengthDelimited(field)
        writer.tag(fields.statusCode, .varint)
        writer.varint(UInt64(bitPattern: Int64(code)))
        writer.string(fields.statusDescription, description)
        writer.string(fields.statusDetails, details)
        writer.endLengthDelimited(status)
    }

    /// Runs a model on one file, read once (see readRegularFile).
    public func predict(modelID: String, versionID: String?, kind: PredictionInput.Kind, filePath: String) throws -> Response {
        let content = try readRegularFile(filePath, purpose: "file", limit: Client.maximumRequestBytes)
        guard !content.isEmpty else { throw ClarifaiError.invalidArgument("file '\(filePath)' is empty") }
        return try content.withUnsafeBytes { bytes in
            try predict(modelID: modelID, versionID: versionID, inputs: [PredictionInput(kind: kind, source: .bytes(bytes))])
        }
    }

    /// The PostModelOutputsRequest for a chunk of inputs, written straight to protobuf binary
    /// (bytes go in raw: no base64 round trip).
    static func predictionRequest(_ fields: PredictionSchema, modelID: String, versionID: String?,
                                          inputs: ArraySlice<PredictionInput>) throws -> [UInt8] {
        // Checked before allocating: a request past the protobuf limit could never be sent.
        let size = try requestSize(inputs)
        return try WireWriter.array(capacity: size) { writer in
            writer.string(fields.modelID, modelID)
            if let versionID, !versionID.isEmpty { writer.string(fields.versionID, versionID) }
            for (position, input) in zip(inputs.indices, inputs) {
                try input.write(to: &writer, field: fields.inputs, schema: fields, position: position)
            }
        }
    }

    /// What predictionRequest checks, for a request written in another form.
    static func checkPrediction(_ fields: PredictionSchema, inputs: ArraySlice<PredictionInput>) throws {
        _ = try requestSize(inputs)
        for (position, input) in zip(inputs.indices, inputs) { _ = try input.sourceField(fields, position: position) }
    }

    /// Room for a prediction request message (at least its size); INVALID_ARGUMENT past the
    /// protobuf limit.
    private static func requestSize(_ inputs: ArraySlice<PredictionInput>) throws -> Int {
        // Each input's bytes are below the limit, so the sum cannot overflow.
        let size = inputs.reduce(64) { size, input in
            if case .bytes(let bytes) = input.source { return size + bytes.count + 32 }
            return size + 256
        }
        guard size <= Client.maximumRequestBytes else {
            throw ClarifaiError.invalidArgument("the inputs of one request add up to \(size) bytes, over the \(Client.maximumRequestBytes)-byte message limit")
        }
        return size
    }
}

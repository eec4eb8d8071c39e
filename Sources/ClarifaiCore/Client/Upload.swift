import COpenSSL
import Glibc

/// An input to add to the client's app: its data (and id, if the caller gives one), the concepts
/// it shows, and metadata to keep with it; held as its Input message, so that the caller's bytes
/// are copied once, at once.
struct UploadInput: Sendable {
    /// The input's id: the caller's, else one made from its content, so that uploading the same
    /// content again names the same input (and never adds it twice).
    let id: String
    /// The Input message, as protobuf binary.
    let message: [UInt8]

    /// `conceptIDs`: the concepts it shows (value 1); `metadataJSON`: a JSON object. `position`
    /// names the input in error messages.
    init(_ input: PredictionInput, conceptIDs: [String], metadataJSON: String?, position: Int, fields: UploadSchema) throws {
        let metadata: [UInt8]? = try metadataJSON.map { json in
            var text = json
            return try text.withUTF8 { bytes in
                do {
                    return try Codec.jsonToProto(typeName: "google.protobuf.Struct", json: UnsafeRawBufferPointer(bytes),
                                                 schema: fields.schema)
                } catch let error as ClarifaiError {
                    throw ClarifaiError.invalidArgument("inputs[\(position)].metadata_json is not a JSON object: \(error.message)")
                }
            }
        }
        let id = input.id ?? UploadInput.contentID(input)
        self.id = id
        // Room for the content, the concepts and the metadata: the message is written in place.
        let size = conceptIDs.reduce(input.source.byteCount + (metadata?.count ?? 0) + 320) { $0 + $1.utf8.count + 16 }
        message = try WireWriter.array(capacity: size) { writer in
            try PredictionInput(kind: input.kind, source: input.source, id: id)
                .write(to: &writer, field: fields.postInputs, schema: fields.prediction, position: position) { data in
                    for concept in conceptIDs {
                        let mark = data.beginLengthDelimited(fields.concepts)
                        data.string(fields.conceptID, concept)
                        data.tag(fields.conceptValue, .fixed32)
                        data.fixed32(Float(1).bitPattern)
                        data.endLengthDelimited(mark)
                    }
                    if let metadata {
                        data.tag(fields.metadata, .lengthDelimited)
                        data.varint(UInt64(metadata.count))
                        data.append(contentsOf: metadata)
                    }
                }
        }
    }

    /// "in-" and the first 32 hex digits of the SHA-256 of the input's kind and content.
    static func contentID(_ input: PredictionInput) -> String {
        var bytes: [UInt8] = [UInt8(input.kind.rawValue)]
        switch input.source {
        case .url(let url): bytes += [0x75] + Array(url.utf8)
        case .text(let text): bytes += [0x74] + Array(text.utf8)
        case .bytes(let data): bytes += [0x62] + Array(data)
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha256(), nil)
        return "in-" + hexDigits(digest.prefix(16))
    }
}

/// What became of an uploaded input: in the app (`failure` nil), or not, with the input's own
/// Clarifai status when the server gave one (INPUT_DOWNLOAD_FAILED, ...).
public struct UploadOutcome: Sendable {
    public let id: String
    public let failure: ClarifaiError?
    public let statusCode: Int32
    /// How many times the input was sent.
    public let tries: Int
}

/// How an upload goes: inputs per PostInputs request, requests at once, and how many times an
/// input whose download failed is sent again.
public struct UploadOptions: Sendable {
    public static let defaultBatchSize = 32
    public static let defaultConcurrency = 4
    /// How long an add job may take before its inputs count as failed.
    static let addJobLimitMilliseconds = 30.0 * 60 * 1000

    public let batchSize: Int
    public let concurrency: Int
    public let maxRetries: Int

    public init(batchSize: Int, concurrency: Int, maxRetries: Int) throws {
        guard (1...Client.maximumInputsPerRequest).contains(batchSize) else {
            throw ClarifaiError.invalidArgument("batch_size \(batchSize): 1 to \(Client.maximumInputsPerRequest) inputs per request")
        }
        guard (1...64).contains(concurrency) else {
            throw ClarifaiError.invalidArgument("concurrency \(concurrency): 1 to 64 requests at once")
        }
        guard (0...100).contains(maxRetries) else { throw ClarifaiError.invalidArgument("max_retries \(maxRetries): 0 to 100") }
        self.batchSize = batchSize
        self.concurrency = concurrency
        self.maxRetries = maxRetries
    }
}

extension Client {
    /// The most concepts an uploaded input may be labelled with (a bound against a caller's bad count).
    public static let maximumConceptsPerInput = 1 << 16

    /// Adds `inputs` to the app as the official SDK does, but to the end: PostInputs batches (an
    /// input already in the app is left as it is), each batch's add job followed until done
    /// (GetInputsAddJob), the inputs whose download failed read (ListInputs), deleted and sent
    /// again up to `maxRetries` times. Outcomes come in the order of `inputs`.
    private func upload(_ inputs: [UploadInput], options: UploadOptions, fields: UploadSchema) -> [UploadOutcome] {
        var outcomes = [UploadOutcome?](repeating: nil, count: inputs.count)
        var firstOfID: [String: Int] = [:]  // inputs of the same id (content) go once
        var pending: [Int] = []
        for (index, input) in inputs.enumerated() where firstOfID[input.id] == nil {
            firstOfID[input.id] = index
            pending.append(index)
        }
        for attempt in 1...(options.maxRetries + 1) where !pending.isEmpty {
            let batches = stride(from: 0, to: pending.count, by: options.batchSize).map {
                Array(pending[$0..<min($0 + options.batchSize, pending.count)])
            }
            let results = parallelMap(batches, width: options.concurrency) { batch in
                self.uploadBatch(batch.map { inputs[$0] }, lastTry: attempt == options.maxRetries + 1, fields: fields)
            }
            pending = []
            for (batch, result) in zip(batches, results) {
                for (index, outcome) in zip(batch, result) {
                    let done = UploadOutcome(id: inputs[index].id, failure: outcome.failure, statusCode: outcome.statusCode, tries: attempt)
                    outcomes[index] = done
                    if outcome.retry { pending.append(index) }
                }
            }
        }
        return inputs.map { outcomes[firstOfID[$0.id]!]! }
    }

    /// What the caller supplies next to an upload.
    public enum UploadSupply {
        /// An input, the concepts it shows (value 1) and its metadata (a JSON object); its bytes
        /// are read before the next supply.
        case input(PredictionInput, conceptIDs: [String], metadataJSON: String?)
        /// An input that cannot be sent: reported with this failure, the others go on.
        case invalid(ClarifaiError)
        case end
    }

    /// Uploads what `next` supplies (it throws to stop), `batchSize × concurrency` inputs at a
    /// time, so that memory stays bounded however many come; `report` gets each input's outcome,
    /// by its index, in order (false stops the upload, which then throws .cancelled), and
    /// `progress` the counts after each of those rounds.
    public func upload(options: UploadOptions, next: () throws -> UploadSupply, report: (Int, UploadOutcome) -> Bool,
                       progress: ((BulkProgress) -> Void)?) throws {
        let started = monotonicMilliseconds()
        let fields = try UploadSchema(schema)
        var counts = BulkProgress()
        var ended = false
        while !ended {
            var round: [(input: UploadInput?, invalid: ClarifaiError?)] = []
            while !ended && round.count < options.batchSize * options.concurrency {
                switch try next() {
                case .input(let input, let conceptIDs, let metadataJSON):
                    do {
                        round.append((try UploadInput(input, conceptIDs: conceptIDs, metadataJSON: metadataJSON,
                                                      position: counts.supplied + round.count, fields: fields), nil))
                    } catch let error as ClarifaiError {
                        round.append((nil, error))
                    }
                case .invalid(let error): round.append((nil, error))
                case .end: ended = true
                }
            }
            if round.isEmpty && counts.supplied > 0 { return }
            let first = counts.supplied
            counts.supplied += round.count
            counts.inFlight = round.count
            progress?(counts)
            var sent = upload(round.compactMap(\.input), options: options, fields: fields).makeIterator()
            for (offset, entry) in round.enumerated() {
                let outcome = entry.invalid.map { UploadOutcome(id: "", failure: $0, statusCode: 0, tries: 0) } ?? sent.next()!
                counts.done += 1
                counts.inFlight -= 1
                if outcome.failure != nil { counts.failed += 1 }
                guard report(first + offset, outcome) else {
                    throw ClarifaiError(.cancelled, "stopped by on_result after \(counts.done) inputs")
                }
            }
            counts.rate = Double(counts.done) / max(0.001, (monotonicMilliseconds() - started) / 1000)
            progress?(counts)
        }
    }

    /// One batch's outcomes, and whether each may go again (a failed download, deleted first).
    private func uploadBatch(_ batch: [UploadInput], lastTry: Bool,
                             fields: UploadSchema) -> [(failure: ClarifaiError?, statusCode: Int32, retry: Bool)] {
        do {
            let jobID = UploadSchema.newJobID()
            _ = try call(try unaryMethod(named: "PostInputs"), message: fields.postInputs(batch, jobID: jobID))
            try waitForAddJob(jobID, fields)
            let statuses = try inputStatuses(batch.map(\.id), fields)
            let failed = batch.map(\.id).filter { statuses[$0] != UploadSchema.downloadSuccess }
            if !failed.isEmpty {
                _ = try call(try unaryMethod(named: "DeleteInputs"), message: fields.ids(failed, field: fields.deleteIDs))
            }
            return batch.map { input in
                let status = statuses[input.id] ?? 0
                guard status != UploadSchema.downloadSuccess else { return (nil, status, false) }
                let failure = ClarifaiError(.api, "PostInputs: input '\(input.id)' "
                                            + (status == 0 ? "is missing after its add job" : "did not download (status \(status)); deleted"))
                return (failure, status, !lastTry)
            }
        } catch let error as ClarifaiError {
            // The request itself failed, after the client's retries: the batch is not sent again.
            return batch.map { _ in (error, error.response?.statusCode ?? 0, false) }
        } catch {
            return batch.map { _ in (ClarifaiError(.internal, "\(error)"), 0, false) }
        }
    }

    /// Polls the add job until none of its inputs is pending or in progress.
    private func waitForAddJob(_ jobID: String, _ fields: UploadSchema) throws {
        let method = try unaryMethod(named: "GetInputsAddJob")
        let started = monotonicMilliseconds()
        var pause = 100.0
        while true {
            let job = try call(method, message: fields.jobRequest(jobID))
            let unfinished = try job.int64(path: "inputs_add_job.progress.pending_count")
                + job.int64(path: "inputs_add_job.progress.in_progress_count")
            if unfinished == 0 { return }
            guard monotonicMilliseconds() - started < UploadOptions.addJobLimitMilliseconds else {
                throw ClarifaiError(.timeout, "GetInputsAddJob: add job '\(jobID)' unfinished after 30 minutes")
            }
            var wait = timespec(tv_sec: Int(pause / 1000), tv_nsec: Int(pause.truncatingRemainder(dividingBy: 1000) * 1_000_000))
            nanosleep(&wait, nil)
            pause = min(pause * 2, 5000)
        }
    }

    /// The Clarifai status of each input of `ids` in the app (absent: not in the app).
    private func inputStatuses(_ ids: [String], _ fields: UploadSchema) throws -> [String: Int32] {
        var message = fields.ids(ids, field: fields.listIDs)
        var writer = WireWriter()
        writer.tag(fields.listPerPage, .varint)
        writer.varint(UInt64(ids.count))
        message += writer.bytes
        let listed = try call(try unaryMethod(named: "ListInputs"), message: message)
        var statuses: [String: Int32] = [:]
        for index in 0..<(try listed.count(path: "inputs")) {
            let id = String(cString: try listed.string(path: "inputs[\(index)].id"))
            statuses[id] = Int32(truncatingIfNeeded: try listed.int64(path: "inputs[\(index)].status.code"))
        }
        return statuses
    }
}

/// Where the upload's messages keep their fields, read from the schema.
struct UploadSchema {
    static let downloadSuccess: Int32 = 30000
    /// InputIDConflictResolution.SKIP: an input already in the app is left as it is.
    static let skipConflicts: UInt64 = 1

    let schema: Schema
    let prediction: PredictionSchema
    let postInputs: Int, jobID: Int, conflicts: Int, concepts: Int, metadata: Int, conceptID: Int, conceptValue: Int
    let listIDs: Int, listPerPage: Int, deleteIDs: Int, getJobID: Int

    init(_ schema: Schema) throws {
        func number(_ type: String, _ name: String) throws -> Int {
            guard let field = schema.message("clarifai.api." + type)?.field(named: name) else {
                throw ClarifaiError(.internal, "clarifai.api.\(type).\(name) is missing from the schema")
            }
            return field.number
        }
        self.schema = schema
        prediction = try PredictionSchema.of(schema)
        postInputs = try number("PostInputsRequest", "inputs")
        jobID = try number("PostInputsRequest", "inputs_add_job_id")
        conflicts = try number("PostInputsRequest", "input_id_conflict_resolution")
        concepts = try number("Data", "concepts")
        metadata = try number("Data", "metadata")
        conceptID = try number("Concept", "id")
        conceptValue = try number("Concept", "value")
        listIDs = try number("ListInputsRequest", "ids")
        listPerPage = try number("ListInputsRequest", "per_page")
        deleteIDs = try number("DeleteInputsRequest", "ids")
        getJobID = try number("GetInputsAddJobRequest", "id")
    }

    /// A job id of 32 random hex digits, as the SDK makes its own (uuid4().hex).
    static func newJobID() -> String {
        var random = [UInt8](repeating: 0, count: 16)
        _ = RAND_bytes(&random, Int32(random.count))
        return hexDigits(random)
    }

    /// PostInputsRequest{inputs (each already an `inputs` field), inputs_add_job_id, SKIP}.
    func postInputs(_ batch: [UploadInput], jobID id: String) -> [UInt8] {
        WireWriter.array(capacity: batch.reduce(id.utf8.count + 32) { $0 + $1.message.count }) { writer in
            for upload in batch { writer.append(contentsOf: upload.message) }
            writer.string(jobID, id)
            writer.tag(conflicts, .varint)
            writer.varint(UploadSchema.skipConflicts)
        }
    }

    func ids(_ ids: [String], field: Int) -> [UInt8] {
        var writer = WireWriter()
        for id in ids { writer.string(field, id) }
        return writer.bytes
    }

    func jobRequest(_ id: String) -> [UInt8] {
        var writer = WireWriter()
        writer.string(getJobID, id)
        return writer.bytes
    }
}

/// Lower-case hex, two digits a byte.
private func hexDigits<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
}

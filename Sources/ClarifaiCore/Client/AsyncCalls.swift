extension Client {
    /// Starts `methodName` with a proto3 JSON request; its outcome goes to `queue` with `tag`.
    /// Throws, queueing nothing, for what stops the call before it is sent (an unknown method, a
    /// bad request, a queue being freed).
    public func callAsync(method methodName: String, requestJSON: String?, queue: CompletionQueue,
                          tag: UnsafeMutableRawPointer?) throws {
        let method = try unaryMethod(named: methodName)
        try startAsync(method, message: try requestMessage(method, json: requestJSON), queue: queue, tag: tag)
    }

    /// Starts `methodName` with a serialized request, checked on the wire as `call` checks it.
    public func callAsync(method methodName: String, requestProto: UnsafeRawBufferPointer, queue: CompletionQueue,
                          tag: UnsafeMutableRawPointer?) throws {
        let method = try unaryMethod(named: methodName)
        try checkRequest(requestProto, of: method)
        try startAsync(method, message: Array(requestProto), queue: queue, tag: tag)
    }

    /// Starts a prediction as `predict` makes it (more than 128 inputs: several requests, whose
    /// outputs make one response); one completion for all.
    public func predictAsync(modelID: String, versionID: String?, inputs: [PredictionInput], queue: CompletionQueue,
                             tag: UnsafeMutableRawPointer?) throws {
        guard !modelID.isEmpty else { throw ClarifaiError.invalidArgument("model_id is empty") }
        guard !inputs.isEmpty else { throw ClarifaiError.invalidArgument("no inputs: count must be at least 1") }
        let method = try unaryMethod(named: "PostModelOutputs")
        let fields = try PredictionSchema.of(schema)
        let chunks = Client.requestChunks(inputs)
        let messages = try chunks.map { try Client.predictionRequest(fields, modelID: modelID, versionID: versionID, inputs: $0) }
        guard messages.count > 1 else { return try startAsync(method, message: messages[0], queue: queue, tag: tag) }
        let batch = AsyncBatch(tag: tag, inputIDs: chunks.map { $0.map(\.id) }) { [self] results, inputIDs in
            Result { try merged(results, inputIDs: inputIDs, method: method) }
                .mapError { $0 as? ClarifaiError ?? ClarifaiError(.internal, "\($0)") }
        }
        try queue.run(batch) {
            batch.calls = try messages.indices.map { index in
                // Weak: the batch holds its calls; it is gone only when it will take no more outcomes.
                try asyncCall(method, message: messages[index], tag: tag) { [weak batch] _, outcome in
                    batch?.ended(index, outcome, queue: queue)
                }
            }
            try batch.start()
        }
    }

    /// Starts one call; `maxRetries` overrides the client's retry budget.
    func startAsync(_ method: Method, message: [UInt8], queue: CompletionQueue, tag: UnsafeMutableRawPointer?,
                    maxRetries: Int? = nil) throws {
        let call = try asyncCall(method, message: message, tag: tag, maxRetries: maxRetries) { call, outcome in queue.post(call, outcome) }
        try queue.run(call) { try call.start() }
    }

    /// A call of `method` with `message` (its user_app_id filled in), not started yet.
    private func asyncCall(_ method: Method, message: [UInt8], tag: UnsafeMutableRawPointer?, maxRetries: Int? = nil,
                           deliver: @escaping (AsyncCall, Result<Response, ClarifaiError>) -> Void) throws -> AsyncCall {
        var message = message
        try prefixingErrors(with: "\(method.name): ") { try fillUserAppID(of: &message, for: method) }
        return AsyncCall(client: self, attempts: attempts(of: method, maxRetries: maxRetries), message: message, tag: tag,
                         deliver: deliver)
    }
}

/// The requests of one prediction too large for one: started together, merged into one outcome
/// when the last one ends.
final class AsyncBatch: AsyncWork, @unchecked Sendable {
    let tag: UnsafeMutableRawPointer?
    private let inputIDs: [[String?]]
    private let merge: ([Result<Response, any Error>], [[String?]]) -> Result<Response, ClarifaiError>
    /// Set before the batch starts, read only after.
    var calls: [AsyncCall] = []
    private let results: Locked<[Result<Response, any Error>?]>

    init(tag: UnsafeMutableRawPointer?, inputIDs: [[String?]],
         merge: @escaping ([Result<Response, any Error>], [[String?]]) -> Result<Response, ClarifaiError>) {
        self.tag = tag
        self.inputIDs = inputIDs
        self.merge = merge
        results = Locked(Array(repeating: nil, count: inputIDs.count))
    }

    /// Starts every request; when one cannot start, those started are cancelled and the error thrown.
    func start() throws {
        for (index, call) in calls.enumerated() {
            do {
                try call.start()
            } catch {
                // The ones started end as cancelled; the batch never completes, so nothing is queued.
                results.withLock { $0 = [] }
                for started in calls[..<index] { started.cancel() }
                throw error
            }
        }
    }

    func ended(_ index: Int, _ outcome: Result<Response, ClarifaiError>, queue: CompletionQueue) {
        let all = results.withLock { results -> [Result<Response, any Error>]? in
            guard results.indices.contains(index) else { return nil }
            results[index] = outcome.mapError { $0 }
            return results.contains { $0 == nil } ? nil : results.map { $0! }
        }
        guard let all else { return }
        queue.post(self, merge(all, inputIDs))
    }

    func cancel() { for call in calls { call.cancel() } }
}
